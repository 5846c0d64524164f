/**
 * exp apply takes the repository lock and never discards uncommitted changes without -f; after a stage
 * fails, the last good outputs can be brought back (from the run-cache) while the stage is reported stale.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execa } from 'execa';
import { CLI, tempProject } from '../helpers/project.js';
import { testRig } from '../helpers/rig.js';
import { tempDir } from '../helpers/tmp.js';

async function withExperiment() {
  const p = await tempProject({
    'pipeline.yaml': `stages:\n  a:\n    cmd: echo "seed \${seed}" > a.txt\n    params: [seed]\n    outs: [a.txt]\n`,
    'params.yaml': 'seed: 1\n',
    '.gitignore': '.cache/\n',
  });
  assert.equal((await p.run(['repro'])).exitCode, 0);
  await p.git('add', '-A');
  await p.git('commit', '-qm', 'seed 1');
  const env = { LOCKSTEP_EXP_TMPDIR: await tempDir() };
  const r = await p.run(['exp', 'run', '--seed', '5', '-n', 'five'], { env });
  assert.equal(r.exitCode, 0, r.all);
  return p;
}

test('exp apply refuses to overwrite an uncommitted params edit without -f; the edit survives', async () => {
  const p = await withExperiment();
  await p.write('params.yaml', 'seed: 9 # my edit\n');
  const r = await p.run(['exp', 'apply', 'five']);
  assert.equal(r.exitCode, 2, r.all);
  assert.equal(
    r.stderr.trim(),
    'lockstep: exp apply would overwrite uncommitted changes to params.yaml. Commit or stash them, or run lockstep ' +
      'exp apply --force to discard them.',
  );
  assert.equal(await p.read('params.yaml'), 'seed: 9 # my edit\n');
  assert.equal(await p.read('a.txt'), 'seed 1\n');
  const forced = await p.run(['exp', 'apply', '--force', 'five']);
  assert.equal(forced.exitCode, 0, forced.all);
  assert.equal(await p.read('params.yaml'), 'seed: 5\n');
  assert.equal(await p.read('a.txt'), 'seed 5\n');
  assert.equal((await p.run(['status'])).stdout, 'Data and pipelines are up to date.');
});

test('exp apply takes the repository lock: it fails while a repro holds it, and changes nothing', async () => {
  const rig = await testRig();
  const p = await withExperiment();
  const held = JSON.stringify(`${rig.command('held')} && cp a.txt h.txt`);
  const pipeline = await p.read('pipeline.yaml');
  await p.write('pipeline.yaml', `${pipeline}  held:\n    cmd: ${held}\n    deps: [a.txt]\n    outs: [h.txt]\n`);
  await p.git('commit', '-qam', 'a held stage');
  const repro = execa(process.execPath, [CLI, 'repro'], { cwd: p.dir, reject: false });
  await rig.started('held');
  const r = await p.run(['exp', 'apply', 'five']);
  assert.equal(r.exitCode, 1, r.all);
  assert.match(r.stderr, /^lockstep: the repository is locked by pid \d+ \(lockstep repro/);
  assert.equal(await p.read('params.yaml'), 'seed: 1\n');
  await rig.release('held');
  assert.equal((await repro).exitCode, 0);
});

test('after a stage fails, it is stale and its last good outputs come back from the run-cache', async () => {
  const p = await tempProject({
    'pipeline.yaml':
      'stages:\n  a:\n    cmd: test "$(cat in.txt)" != bad && cp in.txt a.txt\n    deps: [in.txt]\n    outs: [a.txt]\n',
    'in.txt': 'good\n',
    '.gitignore': '.cache/\n',
  });
  assert.equal((await p.run(['repro'])).exitCode, 0);
  await p.write('in.txt', 'bad\n');
  assert.equal((await p.run(['repro'])).exitCode, 1);
  assert.match((await p.run(['status'])).stdout, /a:/);
  // the documented way back (README): restore the inputs of the last good run, repro restores its outputs
  await p.write('in.txt', 'good\n');
  const back = await p.run(['repro']);
  assert.equal(back.exitCode, 0, back.all);
  assert.match(back.stdout, /Stage 'a' restored from the run-cache, not run/);
  assert.equal(await p.read('a.txt'), 'good\n');
});
