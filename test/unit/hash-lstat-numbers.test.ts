/**
 * lstat without a Stats object (src/hash/lstat-numbers.ts): the numbers it writes are the public
 * lstatSync's, through the binding and through the fallback alike, and a binding that answers
 * differently is never used.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { lstatSync, promises as fs } from 'node:fs';
import path from 'node:path';
import {
  FILE,
  fastLstat,
  lstatNumbers,
  MISSING,
  OTHER,
  passesSelfCheck,
  type RawLstat,
  statWith,
} from '../../src/hash/lstat-numbers.js';
import { tempDir, writeTree } from '../helpers/tmp.js';

test('the binding passes its self-check on this Node, and both ways give the public numbers', async () => {
  const dir = await tempDir();
  await writeTree(dir, { 'a.txt': 'hello', 'sub/b.bin': Buffer.alloc(70_000, 3) });
  await fs.symlink(path.join(dir, 'a.txt'), path.join(dir, 'link'));
  const fast = fastLstat();
  assert.notEqual(fast, null, 'process.binding("fs").lstat is used on this Node');
  for (const way of [fast, null]) {
    const out = new Float64Array(9);
    for (const [i, f] of ['a.txt', 'sub/b.bin'].entries()) {
      assert.equal(statWith(way, path.join(dir, f), out, 3 * i), FILE);
      const st = lstatSync(path.join(dir, f));
      assert.deepEqual([...out.subarray(3 * i, 3 * i + 3)], [st.ino, st.mtimeMs, st.size]);
    }
    assert.equal(statWith(way, path.join(dir, 'sub'), out, 6), OTHER, 'a folder');
    assert.equal(statWith(way, path.join(dir, 'link'), out, 6), OTHER, 'a symlink is not followed');
    assert.equal(statWith(way, path.join(dir, 'gone'), out, 6), MISSING);
    assert.equal(statWith(way, path.join(dir, 'a.txt', 'under-a-file'), out, 6), MISSING, 'ENOTDIR');
    assert.deepEqual([...out.subarray(6)], [0, 0, 0], 'nothing written for what is not a file');
  }
  const out = new Float64Array(3);
  assert.equal(lstatNumbers(path.join(dir, 'a.txt'), out, 0), FILE);
});

test('an mtime edited in place within the same second is seen through the binding', async () => {
  const dir = await tempDir();
  const file = path.join(dir, 'f');
  await fs.writeFile(file, 'one');
  const when = new Date(1_700_000_000_123);
  await fs.utimes(file, when, when);
  const out = new Float64Array(3);
  statWith(fastLstat(), file, out, 0);
  const before = out[1];
  await fs.utimes(file, when, new Date(1_700_000_000_124));
  statWith(fastLstat(), file, out, 0);
  assert.notEqual(out[1], before);
  assert.equal(out[1], lstatSync(file).mtimeMs);
});

test('a binding that answers differently from lstatSync fails the self-check and is not used', () => {
  const real = fastLstat();
  assert.ok(real !== null);
  const shifted: RawLstat = (p, b, r, t) => {
    const a = real(p, b, r, t);
    if (a === undefined) return a;
    const copy = Float64Array.from(a);
    copy[13] = a[13]! + 1000; // an mtime one microsecond off
    return copy;
  };
  const sizeless: RawLstat = (p, b, r, t) => {
    const a = real(p, b, r, t);
    return a === undefined ? a : Float64Array.from(a).fill(0, 8, 9);
  };
  const throwing: RawLstat = () => {
    throw new Error('no such binding');
  };
  const neverMissing: RawLstat = (p, b, r, t) => real(p, b, r, t) ?? new Float64Array(18);
  const short: RawLstat = (p, b, r, t) => real(p, b, r, t)?.subarray(0, 10);
  assert.equal(passesSelfCheck(real), true);
  for (const bad of [shifted, sizeless, throwing, neverMissing, short]) assert.equal(passesSelfCheck(bad), false);
});
