/**
 * The launcher's code cache (bin/code-cache.js) end to end, on every Node version: the CLI writes one cache
 * file in the OS temp dir on its first run and reads it afterwards; a damaged file is ignored and replaced;
 * the command's output is the same in every case.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { tempProject } from '../helpers/project.js';
import { tempDir } from '../helpers/tmp.js';

test('status writes the code cache once, then runs from it; a damaged one is replaced, output unchanged', async () => {
  const p = await tempProject({ 'pipeline.yaml': 'stages:\n  a:\n    cmd: echo 1 > o.txt\n    outs: [o.txt]\n' });
  const tmp = await tempDir('lockstep-code-cache-tmp-');
  const run = (env: Record<string, string> = {}) => p.run(['status'], { env: { TMPDIR: tmp, ...env } });
  const folder = path.join(tmp, `lockstep-code-cache-${process.getuid?.() ?? 'user'}`);
  const files = async () => (await fs.readdir(folder).catch(() => [])).map((f) => path.join(folder, f));

  const off = await run({ LOCKSTEP_CODE_CACHE: '0' });
  assert.equal(off.exitCode, 0, off.all);
  assert.deepEqual(await files(), [], 'LOCKSTEP_CODE_CACHE=0 writes no cache');

  const first = await run();
  assert.equal(first.exitCode, 0, first.all);
  assert.equal(first.stdout, off.stdout);
  const [file, ...others] = await files();
  assert.ok(file !== undefined && others.length === 0, 'one cache file');
  const written = await fs.readFile(file);
  const { mtimeMs } = await fs.stat(file);

  const second = await run();
  assert.equal(second.stdout, off.stdout);
  assert.equal((await fs.stat(file)).mtimeMs, mtimeMs, 'a cache in use is not written again');

  const damaged = Buffer.from(written);
  damaged[damaged.length - 100]! ^= 0xff;
  await fs.writeFile(file, damaged);
  const third = await run();
  assert.equal(third.exitCode, 0, third.all);
  assert.equal(third.stdout, off.stdout);
  assert.equal(third.stderr, '');
  assert.notDeepEqual(await fs.readFile(file), damaged, 'the damaged cache was replaced');
  assert.deepEqual(await files(), [file], 'no temp file left beside it');
});

test('the launcher runs on a Node without process.getBuiltinModule (< 20.16): built-ins are required', async () => {
  const p = await tempProject({ 'pipeline.yaml': 'stages:\n  a:\n    cmd: echo 1 > o.txt\n    outs: [o.txt]\n' });
  const tmp = await tempDir('lockstep-code-cache-tmp-');
  const withIt = await p.run(['status'], { env: { TMPDIR: tmp } });
  const without = await p.run(['status'], {
    env: { TMPDIR: tmp, NODE_OPTIONS: '--import=data:text/javascript,delete%20process.getBuiltinModule' },
  });
  assert.equal(without.exitCode, 0, without.all);
  assert.equal(without.stdout, withIt.stdout);
  assert.equal(without.stderr, '');
});
