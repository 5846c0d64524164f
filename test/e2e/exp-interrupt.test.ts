import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import { execa } from 'execa';
import { CLI, tempProject } from '../helpers/project.js';
import { testRig } from '../helpers/rig.js';
import { waitDead } from '../helpers/wait.js';

const exists = (p: string) =>
  fs.access(p).then(
    () => true,
    () => false,
  );

test('SIGINT stops every running experiment, kills their stage processes and removes the workspaces', async () => {
  // each experiment's stage holds (with a child process) until the test releases it: never, here
  const rig = await testRig();
  const cmd = rig.command('slow', { child: true, write: { 'out.txt': 'done\n' } });
  const p = await tempProject({
    'pipeline.yaml': `stages:\n  slow:\n    cmd: ${JSON.stringify(cmd)}\n    params: [seed]\n    outs: [out.txt]\n`,
    'params.yaml': 'seed: 1\n',
    '.gitignore': '.cache/\n',
  });
  const child = execa(process.execPath, [CLI, 'exp', 'run', '--seed', '1,2,3', '-j', '2'], {
    cwd: p.dir,
    reject: false,
    all: true,
  });
  const runs = [await rig.started('slow', 1), await rig.started('slow', 2)];
  child.kill('SIGINT');
  const r = await child;
  assert.equal(r.exitCode, 130, r.all);
  assert.match(r.stderr, /lockstep: experiments interrupted; 0 of 3 were recorded/);
  await waitDead(
    runs.flatMap((run) => [run.pid, run.childPid!]),
    'the stage processes of both experiments',
  );
  for (const run of runs) assert.equal(await exists(run.cwd), false, `${run.cwd} removed`);
  assert.equal(await p.git('for-each-ref', 'refs/exps/'), '');
  assert.equal(await rig.runs('slow'), 2, 'the third experiment never started');
  await rig.release('slow');
});
