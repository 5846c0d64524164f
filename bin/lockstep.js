#!/usr/bin/env node
// Thin launcher: the compiled CLI lives in dist/ (built by `npm ci` through the prepare script).
// Node >= 22.1 keeps V8's compiled code of lockstep's modules in a cache folder (in the OS temp dir),
// so later starts skip parsing and compiling them; on older Node this is a no-op. It must run before
// the CLI is imported, hence the dynamic import.
// `npm run build` also bundles the CLI into a few files (dist/bundle, scripts/bundle.mjs), which start
// faster than the ~100 modules they are made of; the bundle is used only when it was made after the
// last compile (dist/.tsbuildinfo), so a `tsc` alone never leaves an old bundle running.
// LOCKSTEP_NO_BUNDLE=1 runs the modules as compiled.
import module from 'node:module';
import { statSync } from 'node:fs';

module.enableCompileCache?.();

function bundleIsCurrent() {
  if (process.env.LOCKSTEP_NO_BUNDLE === '1') return false;
  const built = statSync(new URL('../dist/bundle/built', import.meta.url), { throwIfNoEntry: false });
  const compiled = statSync(new URL('../dist/.tsbuildinfo', import.meta.url), { throwIfNoEntry: false });
  return built !== undefined && (compiled === undefined || built.mtimeMs >= compiled.mtimeMs);
}

const { main } = await import(bundleIsCurrent() ? '../dist/bundle/main.js' : '../dist/src/cli/main.js');
process.exitCode = await main(process.argv);
