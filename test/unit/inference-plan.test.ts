/**
 * The inference plan (stages/lib/tf/inference-plan.ts), which predictProbabilities runs for the evaluate stage and
 * the train stage's validation, against `model.apply(x, {training: false})` on every backend available here, for
 * every model the train stage offers (batch-norm statistics set far from their initial values). Each backend in a
 * child process (test/helpers/inference-plan-check.ts). On tfjs-node with oneDNN the plan runs batch norm + ReLU
 * (and bias + ReLU) as one fused op; with TF_ENABLE_ONEDNN_OPTS=0 it must not (that op is a oneDNN kernel, and
 * oneDNN off means TensorFlow's own kernels only). Everywhere: the same values (within 1e-6; on every backend
 * here they are the same bits), the same bytes run twice, weights read when the plan runs (training changes them
 * in place), and a layer the plan does not know sends the model through model.apply.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { availableBackends } from '../helpers/backends.js';

const CHECK = fileURLToPath(new URL('../helpers/inference-plan-check.js', import.meta.url));

interface ModelResult {
  compiled: boolean;
  maxDiff: number;
  equal: boolean;
  deterministic: boolean;
  followsWeights?: boolean;
}
interface Result {
  backend: string;
  fused: boolean;
  models: Record<string, ModelResult>;
}

async function check(backend: string, env: Record<string, string> = {}): Promise<Result> {
  const r = await execa(process.execPath, [CHECK, backend], {
    timeout: 180_000,
    env: { TF_CPP_MIN_LOG_LEVEL: '2', LOCKSTEP_WASM_THREADS: '1', ...env },
  });
  return JSON.parse(r.stdout.trim().split('\n').at(-1)!) as Result;
}

function assertAgrees(r: Result): void {
  for (const [name, m] of Object.entries(r.models)) {
    const what = `${r.backend} ${name}`;
    assert.equal(m.compiled, name !== 'unknownLayer', `${what}: compiled`);
    assert.ok(m.maxDiff <= 1e-6, `${what}: plan and model.apply differ by ${m.maxDiff}`);
    assert.ok(m.deterministic, `${what}: two runs gave different bytes`);
    if (name !== 'unknownLayer') assert.equal(m.followsWeights, true, `${what}: the plan did not follow new weights`);
  }
}

const variants: { label: string; backend: string; env?: Record<string, string>; fused: boolean }[] = [];
for (const b of await availableBackends()) {
  if (b === 'node') {
    variants.push({ label: 'node (oneDNN)', backend: b, fused: true });
    variants.push({
      label: 'node, TF_ENABLE_ONEDNN_OPTS=0',
      backend: b,
      env: { TF_ENABLE_ONEDNN_OPTS: '0' },
      fused: false,
    });
  } else variants.push({ label: b, backend: b, fused: false });
}

for (const v of variants) {
  test(`${v.label}: the inference plan computes what model.apply does, for every model`, async () => {
    const r = await check(v.backend, v.env);
    assert.equal(r.fused, v.fused, 'the fused batch norm + ReLU kernel');
    assertAgrees(r);
    // Where the plan runs the same kernels as the layers, it gives their bits.
    for (const [name, m] of Object.entries(r.models)) assert.ok(m.equal, `${r.backend} ${name}: not the same bits`);
  });
}
