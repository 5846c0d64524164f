import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { hashFile, WHOLE_READ_LIMIT } from '../../src/hash/md5-file.js';
import { tempDir } from '../helpers/tmp.js';

const reference = (b: Uint8Array): string => createHash('md5').update(b).digest('hex');

test('file md5 equals the md5 of its bytes around every read-size boundary', async () => {
  const dir = await tempDir();
  const MiB = 1 << 20;
  for (const size of [
    0,
    1,
    WHOLE_READ_LIMIT - 1,
    WHOLE_READ_LIMIT,
    WHOLE_READ_LIMIT + 1,
    4 * MiB,
    4 * MiB + 1,
    9 * MiB + 3,
  ]) {
    const bytes = randomBytes(size);
    const file = path.join(dir, `f${size}`);
    await fs.writeFile(file, bytes);
    assert.equal(await hashFile(file, size), reference(bytes), `size ${size}`);
    assert.equal(await hashFile(file), reference(bytes), `size ${size}, no hint`);
  }
});

test('a file larger than its size hint (it grew after the stat) is still hashed whole', async () => {
  const dir = await tempDir();
  const bytes = randomBytes(WHOLE_READ_LIMIT * 2 + 5);
  const file = path.join(dir, 'grew');
  await fs.writeFile(file, bytes);
  assert.equal(await hashFile(file, 10), reference(bytes));
});

test('a small file whose read ends at the size its stat gave needs no more reads; one that grew or shrank since \
is still hashed whole', async () => {
  const dir = await tempDir();
  const file = path.join(dir, 'f');
  const bytes = Buffer.from('twelve bytes');
  await fs.writeFile(file, bytes);
  assert.equal(await hashFile(file, 12), reference(bytes));
  assert.equal(await hashFile(file, 5), reference(bytes), 'grew from 5 bytes');
  assert.equal(await hashFile(file, 20), reference(bytes), 'shrank since the stat: read to its end');
  assert.equal(await hashFile(file, 0), reference(bytes), 'was empty at its stat');
  assert.equal(await hashFile(file), reference(bytes), 'no hint: read to its end');
});

test('CRLF bytes are hashed as they are (DVC 3 md5, no dos2unix)', async () => {
  const dir = await tempDir();
  const file = path.join(dir, 'crlf.txt');
  await fs.writeFile(file, 'a\r\nb\r\n');
  assert.equal(await hashFile(file), reference(Buffer.from('a\r\nb\r\n')));
  assert.notEqual(await hashFile(file), reference(Buffer.from('a\nb\n')));
});
