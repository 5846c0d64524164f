import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { CLI, tempProject } from '../helpers/project.js';

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

async function waitFor(check: () => Promise<boolean>, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await check()) return true;
    await new Promise((r) => setTimeout(r, 100));
  }
  return false;
}

test('SIGINT stops every running experiment, kills their stage processes and removes the workspaces', async () => {
  const counts = await fs.mkdtemp(path.join(os.tmpdir(), 'lockstep-exp-counts-'));
  const p = await tempProject({
    'pipeline.yaml': `stages:
  slow:
    cmd: pwd >> ${counts}/dirs && sleep 60 & echo $! >> ${counts}/pids; wait
    params: [seed]
    outs: [out.txt]
`,
    'params.yaml': 'seed: 1\n',
    '.gitignore': '.cache/\n',
  });
  const lines = async (f: string) =>
    (await fs.readFile(path.join(counts, f), 'utf8').catch(() => '')).split('\n').filter(Boolean);
  const child = execa(process.execPath, [CLI, 'exp', 'run', '--seed', '1,2,3', '-j', '2'], {
    cwd: p.dir,
    reject: false,
    all: true,
  });
  assert.ok(
    await waitFor(async () => (await lines('pids')).length >= 2 && (await lines('dirs')).length >= 2, 60_000),
    'two experiments started',
  );
  child.kill('SIGINT');
  const r = await child;
  assert.equal(r.exitCode, 130, r.all);
  assert.match(r.stderr, /lockstep: experiments interrupted; 0 of 3 were recorded/);
  const pids = (await lines('pids')).map(Number);
  assert.ok(
    await waitFor(async () => pids.every((pid) => !alive(pid)), 10_000),
    `stage processes still alive: ${pids.filter(alive).join(' ')}`,
  );
  for (const dir of await lines('dirs'))
    assert.equal(
      await fs.access(dir).then(
        () => true,
        () => false,
      ),
      false,
      `${dir} removed`,
    );
  assert.equal(await p.git('for-each-ref', 'refs/exps/'), '');
  assert.equal((await lines('pids')).length, 2, 'the third experiment never started');
  await fs.rm(counts, { recursive: true, force: true });
});
