#!/usr/bin/env node
// Runs the compiled test files with node's test runner. Usage: node scripts/run-tests.mjs [unit|e2e|contract|<substring>...]
// (Node 20's `node --test` takes no globs, so the file list is built here.)
import fg from 'fast-glob';
import { spawnSync } from 'node:child_process';
import os from 'node:os';

const filters = process.argv.slice(2);
let files = (await fg('dist/test/**/*.test.js')).sort();
if (filters.length) files = files.filter((f) => filters.some((x) => f.includes(x)));
if (files.length === 0) {
  console.error('run-tests: no test files matched; did `npm run build` run?');
  process.exit(1);
}
const concurrency = Number(process.env.TEST_CONCURRENCY ?? Math.max(2, os.availableParallelism()));
const result = spawnSync(
  process.execPath,
  ['--test', `--test-concurrency=${concurrency}`, '--test-reporter=spec', ...files],
  { stdio: 'inherit' },
);
process.exit(result.status ?? 1);
