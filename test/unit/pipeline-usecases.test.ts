/**
 * The checkout and status use cases called in-process (as `exp apply` calls checkout): they return data and
 * never print. A real project on disk; the CLI only renders these results.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { checkoutFailure, checkoutWorkspace } from '../../src/pipeline/checkout-workspace.js';
import { openWorkspace } from '../../src/pipeline/context.js';
import { workspaceStatus } from '../../src/pipeline/status.js';
import { tempProject } from '../helpers/project.js';

const PIPELINE = `stages:
  a:
    cmd: echo a > a.txt
    outs: [a.txt]
  b:
    cmd: cat a.txt > b.txt
    deps: [a.txt]
    outs: [b.txt]
`;

test('status and checkout return what they found; local changes are kept unless force', async () => {
  const p = await tempProject({ 'pipeline.yaml': PIPELINE }, { git: false });
  const open = () => openWorkspace(p.dir);

  const before = await workspaceStatus(await open(), { targets: [] });
  assert.deepEqual(
    before.map((s) => [s.stage, s.reasons.map((r) => r.kind)]),
    [
      ['a', ['never-run']],
      ['b', ['never-run']],
    ],
  );
  const repro = await p.run(['repro']);
  assert.equal(repro.exitCode, 0, repro.all);
  assert.deepEqual(await workspaceStatus(await open(), { targets: [] }), []);

  // a.txt deleted, b.txt edited: the deletion is restored, the edit (not in the cache) is kept
  await fs.rm(path.join(p.dir, 'a.txt'));
  await fs.chmod(path.join(p.dir, 'b.txt'), 0o644).catch(() => undefined);
  await fs.rm(path.join(p.dir, 'b.txt'));
  await fs.writeFile(path.join(p.dir, 'b.txt'), 'edited\n');
  assert.deepEqual(
    (await workspaceStatus(await open(), { targets: ['a'] })).map((s) => s.reasons),
    [[{ kind: 'out-missing', path: 'a.txt' }]],
  );
  const kept = await checkoutWorkspace(await open(), { targets: [], force: false });
  assert.deepEqual(kept.restored, [{ stage: 'a', path: 'a.txt' }]);
  assert.deepEqual(kept.unchanged, []);
  assert.deepEqual(
    kept.problems.map((x) => [x.stage, x.path, x.kind]),
    [['b', 'b.txt', 'kept-local-changes']],
  );
  assert.equal(await p.read('b.txt'), 'edited\n');
  assert.match(
    String(checkoutFailure(kept)?.message),
    /^output 'b.txt' of stage 'b' has changes that are not in the cache$/,
  );

  const forced = await checkoutWorkspace(await open(), { targets: ['b'], force: true });
  assert.deepEqual(forced.restored, [{ stage: 'b', path: 'b.txt' }]);
  assert.deepEqual(forced.problems, []);
  assert.equal(checkoutFailure(forced), null);
  assert.equal(await p.read('b.txt'), 'a\n');
  assert.deepEqual((await checkoutWorkspace(await open(), { targets: [], force: false })).unchanged.length, 2);
});
