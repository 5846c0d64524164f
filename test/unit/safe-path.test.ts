/**
 * src/util/safe-path.ts: the lexical rules for paths read from files, and the check against the project's own
 * files. Plain paths take a shortcut (one regular expression); these cases hold either way.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { controlPathClash, projectControlPaths, unsafeRelPath } from '../../src/util/safe-path.js';

test('unsafeRelPath: plain paths pass, every rule still refuses what it should', () => {
  for (const ok of ['a', 'data/train/cat/0001.png', 'data/', 'a-b_c.d/e.f', '-x/y', 'x.git', '.gitignore', 'a/.dvc']) {
    assert.equal(unsafeRelPath(ok), undefined, ok);
  }
  assert.equal(unsafeRelPath('a'.repeat(255)), undefined);
  const refused: [unknown, RegExp][] = [
    ['', /empty path/],
    ['/etc/passwd', /absolute/],
    ['C:/x', /absolute/],
    ['c:x', /absolute/],
    ['http://host/x', /URL|absolute/],
    ['a//b', /empty path segment/],
    ['a//', /empty path segment/],
    ['../x', /'\.\.'/],
    ['a/../../x', /'\.\.'/],
    ['./a', /'\.' segment/],
    ['a/./b', /'\.' segment/],
    ['.git', /\.git/],
    ['a/.GIT/hooks/pre-commit', /\.git/],
    ['a\0b', /NUL/],
    ['a'.repeat(256), /longer than 255/],
    [`d/${'é'.repeat(128)}`, /longer than 255/],
    [null, /not a path string/],
    [7, /not a path string/],
  ];
  for (const [p, why] of refused) {
    assert.match(unsafeRelPath(p) ?? 'accepted', why, String(p));
  }
  // long paths are fine when no name is longer than 255 bytes
  assert.equal(unsafeRelPath(`${'a'.repeat(200)}/${'b'.repeat(200)}`), undefined);
});

test('controlPathClash: .git in any case and place, the lock and pipeline files, the project folders', () => {
  const controls = projectControlPaths({
    pipelineFiles: ['pipeline.yaml', 'dvc.yaml'],
    lockFiles: ['pipeline.lock', 'dvc.lock'],
    cacheDirs: ['.cache'],
    paramsFiles: ['params.yaml'],
  });
  assert.equal(controlPathClash('.git', controls), "is git's folder '.git'");
  assert.equal(controlPathClash('sub/.Git', controls), "is git's folder '.git'");
  assert.equal(controlPathClash('.git/config', controls), "lies inside '.git'");
  assert.equal(controlPathClash('a/.GIT/x', controls), "lies inside '.git'");
  assert.equal(controlPathClash('a.git/x', controls), undefined);
  assert.equal(controlPathClash('x/.gitignore', controls), undefined);
  assert.equal(controlPathClash('pipeline.lock', controls), "is the project's file 'pipeline.lock'");
  assert.equal(controlPathClash('.cache/files', controls), "lies inside the project's folder '.cache'");
  assert.equal(controlPathClash('out/model.bin', controls), undefined);
});
