/**
 * src/util/normal-path.ts: the shortcuts return exactly what path.resolve returns, for normal paths and for
 * every kind of unusual one (which they hand to path.resolve).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { isNormalAbs, resolveUnder } from '../../src/util/normal-path.js';

const ROOTS = ['/work/project', '/p', '/', '/work/project/', '/work/./project', '/work//project', '/a/../b'];
const RELS = [
  'data/x.csv',
  'o1.txt',
  'a/b/c',
  '.hidden/x',
  'a/.b',
  'a..b/c',
  '...',
  '.',
  '..',
  './a',
  'a/./b',
  'a/../b',
  '../outside',
  'a//b',
  'a/',
  '/abs/path',
  'a\\b',
  '',
];

test('resolveUnder(root, rel) is path.resolve(root, rel) for every root and path', () => {
  for (const root of ROOTS) {
    for (const rel of RELS) assert.equal(resolveUnder(root, rel), path.resolve(root, rel), `${root} + ${rel}`);
  }
});

test('isNormalAbs holds exactly for absolute paths path.resolve leaves unchanged', () => {
  const cases = [...ROOTS, ...RELS, ...ROOTS.flatMap((r) => RELS.map((p) => `${r}/${p}`))];
  for (const p of cases) {
    if (isNormalAbs(p)) assert.equal(path.resolve(p), p, p);
  }
  assert.ok(isNormalAbs('/work/project/data/x.csv'));
  assert.ok(!isNormalAbs('/work/project/data/'));
  assert.ok(!isNormalAbs('/'));
  assert.ok(!isNormalAbs('work/project'));
});
