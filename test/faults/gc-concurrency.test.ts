/**
 * Issue 12 item 6 and the gc scope bullet: gc never deletes what a run in progress wrote or will
 * record (it refuses, or waits with --wait, while any run using the cache is registered), and gc needs
 * an explicit scope, so a feature branch never deletes main's objects without being asked.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import { CLI, tempProject } from '../helpers/project.js';
import { testRig } from '../helpers/rig.js';
import { tempDir } from '../helpers/tmp.js';

const objects = async (dir: string) =>
  (await execa('find', ['.cache/files', '-type', 'f'], { cwd: dir, reject: false })).stdout
    .split('\n')
    .filter(Boolean)
    .sort();

test(`gc during an exp run refuses, naming the run; gc --wait waits; the experiment keeps all its \
outputs`, async () => {
  const rig = await testRig();
  const p = await tempProject({
    'pipeline.yaml': `stages:
  first:
    cmd: echo "seed \${seed}" > first.txt
    params: [seed]
    outs: [first.txt]
  held:
    cmd: ${JSON.stringify(`(cat first.txt; echo held) > held.txt && ${rig.command('held')}`)}
    deps: [first.txt]
    outs: [held.txt]
`,
    'params.yaml': 'seed: 1\n',
    '.gitignore': '.cache/\n',
  });
  const env = { LOCKSTEP_EXP_TMPDIR: await tempDir('lockstep-gc-exp-') };
  const exp = execa(process.execPath, [CLI, 'exp', 'run', '--seed', '7', '-n', 'seven'], {
    cwd: p.dir,
    reject: false,
    all: true,
    env,
  });
  // stage 'first' has been cached: its object is in the shared cache, recorded nowhere yet (held.txt differs
  // from it, so nothing writes that object again: before the fix, gc removed it and apply could not restore it)
  await rig.started('held');
  const gc = await p.run(['gc', '--workspace']);
  assert.equal(gc.exitCode, 1, gc.all);
  // the exp run is registered for the whole sweep; the repros it runs in its workspaces (in its own process,
  // sharing the cache) are covered by that registration
  assert.match(gc.stderr, /^lockstep: gc: 1 run is using the cache \(pid \d+ lockstep exp run, started [^;)]+\)/);
  const waiting = p.run(['gc', '--workspace', '--all-experiments', '--wait', '60']);
  await rig.release('held');
  const r = await exp;
  assert.equal(r.exitCode, 0, r.all);
  const waited = await waiting;
  assert.equal(waited.exitCode, 0, waited.all);
  // the experiment's objects survived: apply it and check its outputs out
  const apply = await p.run(['exp', 'apply', 'seven']);
  assert.equal(apply.exitCode, 0, apply.all);
  assert.equal(await p.read('first.txt'), 'seed 7\n');
  assert.equal(await p.read('held.txt'), 'seed 7\nheld\n');
  await fs.rm(path.join(p.dir, 'first.txt'));
  assert.equal((await p.run(['checkout'])).exitCode, 0);
  assert.equal(await p.read('first.txt'), 'seed 7\n');
});

test('gc needs a scope; --workspace keeps only the workspace; --all-branches keeps every branch tip', async () => {
  const p = await tempProject({
    'pipeline.yaml': 'stages:\n  a:\n    cmd: cat in.txt > a.txt\n    deps: [in.txt]\n    outs: [a.txt]\n',
    'in.txt': 'main\n',
    '.gitignore': '.cache/\n.lockstep/tmp/\n',
  });
  assert.equal((await p.run(['repro'])).exitCode, 0);
  await p.git('add', '-A');
  await p.git('commit', '-qm', 'main data');
  await p.git('checkout', '-qb', 'feature');
  await p.write('in.txt', 'feature\n');
  assert.equal((await p.run(['repro'])).exitCode, 0);
  await p.git('commit', '-qam', 'feature data');
  await p.write('in.txt', 'uncommitted\n');
  assert.equal((await p.run(['repro'])).exitCode, 0);
  assert.equal((await objects(p.dir)).length, 3);

  const none = await p.run(['gc']);
  assert.equal(none.exitCode, 2, none.all);
  assert.equal(
    none.stderr,
    'lockstep: gc needs a scope: what to keep besides nothing. Say --workspace (-w), --all-branches (-a), --all-tags ' +
      '(-T), --all-commits (-A) and/or --all-experiments.',
  );
  assert.equal((await objects(p.dir)).length, 3, 'nothing removed without a scope');

  const branches = await p.run(['gc', '--all-branches', '--json']);
  assert.equal(branches.exitCode, 0, branches.all);
  assert.equal(JSON.parse(branches.stdout).removed.length, 0, 'main, feature and the workspace are all kept');

  const ws = await p.run(['gc', '-w', '--dry', '--json']);
  assert.equal(JSON.parse(ws.stdout).removed.length, 2, "dry: main's and feature's objects would go");
  assert.equal((await objects(p.dir)).length, 3);
  assert.equal((await p.run(['gc', '-w'])).exitCode, 0);
  assert.equal((await objects(p.dir)).length, 1);
  assert.equal((await p.run(['status'])).stdout, 'Data and pipelines are up to date.');
});
