import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import { testRig } from '../helpers/rig.js';
import { alive, waitDead } from '../helpers/wait.js';
import { tempDir } from '../helpers/tmp.js';

test(`the rig command holds until released, reports its pids, writes its files and exits with the given \
code`, async () => {
  const rig = await testRig();
  const cwd = await tempDir();
  const cmd = rig.command('s', { child: true, write: { 'out/a.txt': 'hello' }, append: { 'log.txt': 'x\n' } });
  const proc = execa(cmd, { shell: true, cwd, reject: false });
  const run = await rig.started('s');
  assert.equal(run.n, 1);
  assert.equal(await fs.realpath(run.cwd), await fs.realpath(cwd));
  assert.ok(alive(run.pid) && run.childPid !== null && alive(run.childPid));
  assert.equal(await rig.runs('s'), 1);
  assert.equal(
    await fs.access(path.join(cwd, 'out/a.txt')).then(
      () => true,
      () => false,
    ),
    false,
    'nothing is written before the release',
  );
  await rig.release('s', { exitCode: 3 });
  const r = await proc;
  assert.equal(r.exitCode, 3);
  assert.equal(await fs.readFile(path.join(cwd, 'out/a.txt'), 'utf8'), 'hello');
  assert.equal(await fs.readFile(path.join(cwd, 'log.txt'), 'utf8'), 'x\n');
  await waitDead([run.pid, run.childPid!], 'the rig and its child');
  // a released name stays released: the next run ends at once with the same code
  const again = await execa(cmd, { shell: true, cwd, reject: false });
  assert.equal(again.exitCode, 3);
  assert.equal(await rig.runs('s'), 2);
});

test('concurrent runs of one name get distinct run numbers and can be released one by one', async () => {
  const rig = await testRig();
  const cwd = await tempDir();
  const procs = [1, 2, 3].map(() => execa(rig.command('p'), { shell: true, cwd, reject: false }));
  const runs = await Promise.all([1, 2, 3].map((n) => rig.started('p', n)));
  assert.deepEqual(new Set(runs.map((r) => r.pid)).size, 3);
  await rig.release('p', { run: 2, exitCode: 5 });
  await waitDead([runs[1]!.pid], 'run 2');
  assert.ok(
    runs.filter((r) => r.n !== 2).every((r) => alive(r.pid)),
    'the others still hold',
  );
  await rig.release('p');
  const codes = (await Promise.all(procs)).map((r) => r.exitCode).sort();
  assert.deepEqual(codes, [0, 0, 5]);
});
