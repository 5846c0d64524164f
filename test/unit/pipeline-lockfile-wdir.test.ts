import { test } from 'node:test';
import assert from 'node:assert/strict';
import { load } from 'js-yaml';
import { lockToRepoPaths, rebaseStage, serializeLockFile, type LockFile } from '../../src/pipeline/lockfile.js';
import { asMd5 } from '../../src/hash/types.js';

const entry = (p: (s: string) => string) => ({
  cmd: 'x',
  deps: [{ path: p('in.txt'), hash: 'md5' as const, md5: asMd5('a'.repeat(32)), size: 1 }],
  params: { [p('params.yaml')]: { lr: 1 }, [p('conf.toml')]: { d: 2 } },
  outs: [{ path: p('out'), hash: 'md5' as const, md5: asMd5(`${'b'.repeat(32)}.dir`), size: 2, nfiles: 1 }],
});

test('lock paths: written relative to the stage wdir as dvc.lock does, read back repo-relative', () => {
  const inRepo = entry((s) => (s === 'in.txt' ? 'in.txt' : `sub/dir/${s}`));
  const onDisk = rebaseStage(inRepo, 'sub/dir', 'wdir');
  assert.deepEqual(
    onDisk.deps?.map((d) => d.path),
    ['../../in.txt'],
  );
  assert.deepEqual(Object.keys(onDisk.params ?? {}), ['params.yaml', 'conf.toml']);
  assert.deepEqual(
    onDisk.outs?.map((d) => d.path),
    ['out'],
  );
  assert.deepEqual(rebaseStage(onDisk, 'sub/dir', 'repo'), inRepo);
  // stages at the root and absolute paths are left alone
  assert.equal(rebaseStage(inRepo, '.', 'wdir'), inRepo);
  const abs = { cmd: 'x', deps: [{ path: '/data/x', hash: 'md5' as const, md5: asMd5('c'.repeat(32)), size: 1 }] };
  assert.deepEqual(rebaseStage(abs, 'sub', 'wdir'), abs);

  const lock: LockFile = { schema: '2.0', stages: { s: inRepo, t: entry((x) => x) } };
  const wdirs = new Map([['s', 'sub/dir']]);
  const text = serializeLockFile(lock, ['s', 't'], wdirs);
  const parsed = load(text) as LockFile;
  assert.deepEqual(
    Object.keys(parsed.stages.s?.params ?? {}),
    ['params.yaml', 'conf.toml'],
    'params.yaml first, as dvc.lock',
  );
  assert.deepEqual(parsed.stages.s?.deps?.[0]?.path, '../../in.txt');
  assert.deepEqual(lockToRepoPaths(parsed, wdirs).stages.s?.deps, inRepo.deps);
  assert.deepEqual(lockToRepoPaths(parsed, wdirs).stages.t, parsed.stages.t);
});
