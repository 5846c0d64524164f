/**
 * wasm's threaded binary under Node (stages/lib/tf/kernels/wasm-threads.ts): it starts with the
 * threads asked for, training on it gives bit-identical weights to the single-threaded binary, and a
 * finished process exits on its own. Thread counts come from LOCKSTEP_WASM_THREADS / LOCKSTEP_JOBS.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { wasmThreads } from '../../stages/lib/tf/backend.js';
import { stageEnv } from '../../src/pipeline/run-command.js';

const DIGEST = fileURLToPath(new URL('../helpers/wasm-train-digest.js', import.meta.url));

async function digest(threads: number, model: string): Promise<{ threads: number; digest: string }> {
  const r = await execa(process.execPath, [DIGEST, String(threads), model], { timeout: 120_000 });
  return JSON.parse(r.stdout) as { threads: number; digest: string };
}

for (const model of ['seed', 'bn']) {
  test(`${model} model: three training steps on 2 wasm threads give the same weights as on 1`, async () => {
    const [one, two] = await Promise.all([digest(1, model), digest(2, model)]);
    assert.equal(one.threads, 1);
    assert.equal(two.threads, 2);
    assert.equal(two.digest, one.digest);
  });
}

test('a pthread worker that stops while the threaded binary starts: one thread, said in the backend line', async () => {
  // Before the start watched its workers, this ended the process with exit code 0 and no output (tfjs waits for the
  // worker forever, with nothing keeping the event loop alive): what two wasm train-stage tests and this file's
  // digest helper (exit code 13) showed in CI runs under heavy load.
  const helper = fileURLToPath(new URL('../helpers/wasm-worker-dies.js', import.meta.url));
  const r = await execa(process.execPath, [helper], { timeout: 120_000, reject: false });
  assert.equal(r.exitCode, 0, r.stderr);
  assert.match(
    r.stdout,
    new RegExp(
      "^backend: wasm \\(simd, 1 thread\\); wasm's threaded binary did not start \\(pthread worker 3 stopped " +
        'while starting \\(exit code \\d+\\)\\); running on one thread\npredicted 20 values$',
    ),
  );
});

test('wasm threads: LOCKSTEP_WASM_THREADS wins, else the cores shared among LOCKSTEP_JOBS stages', () => {
  assert.equal(wasmThreads({}, 2), 2);
  assert.equal(wasmThreads({ LOCKSTEP_JOBS: '2' }, 2), 1);
  assert.equal(wasmThreads({ LOCKSTEP_JOBS: '3' }, 8), 2);
  assert.equal(wasmThreads({ LOCKSTEP_JOBS: '4' }, 2), 1);
  assert.equal(wasmThreads({ LOCKSTEP_JOBS: 'x' }, 4), 4);
  assert.equal(wasmThreads({ LOCKSTEP_WASM_THREADS: '3', LOCKSTEP_JOBS: '2' }, 2), 3);
  assert.equal(wasmThreads({ LOCKSTEP_WASM_THREADS: '0' }, 2), 2);
});

test('stage environment: LOCKSTEP_JOBS is the outer concurrency times this repro -j', () => {
  assert.equal(stageEnv('/p', 's', 1, {}).LOCKSTEP_JOBS, '1');
  assert.equal(stageEnv('/p', 's', 2, {}).LOCKSTEP_JOBS, '2');
  assert.equal(stageEnv('/p', 's', 1, { LOCKSTEP_JOBS: '3' }).LOCKSTEP_JOBS, '3');
  assert.equal(stageEnv('/p', 's', 2, { LOCKSTEP_JOBS: '3' }).LOCKSTEP_JOBS, '6');
  assert.equal(stageEnv('/p', 's', 1, {}).LOCKSTEP_STAGE, 's');
});
