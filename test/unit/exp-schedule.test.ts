import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Pipeline, StageDef } from '../../src/config/types.js';
import { planSweep, stageSignatures } from '../../src/exp/schedule.js';
import { expandSweep, shorthandOverrides } from '../../src/exp/sweep.js';
import { EXP_SHORTHANDS } from '../../src/product/index.js';

const pos = { file: 'pipeline.yaml', line: 1, col: 1 };
function stage(name: string, deps: string[], outs: string[], params: string[]): StageDef {
  return {
    name,
    cmd: [`run ${name}`],
    wdir: '.',
    deps: deps.map((path) => ({ path })),
    params: params.length ? [{ file: 'params.yaml', keys: params }] : [],
    outs: outs.map((path) => ({ path, kind: 'outs' as const, cache: true, persist: false, push: true })),
    frozen: false,
    alwaysChanged: false,
    pos,
  };
}

// pull -> partition -> prepare(data) -> train(seed) -> evaluate
const PIPELINE: Pipeline = {
  file: 'pipeline.yaml',
  stages: [
    stage('pull', [], ['data/raw'], ['pull.url']),
    stage('partition', ['data/raw'], ['data/partitions'], ['partition.size']),
    stage('prepare', ['data/partitions/v1.csv'], ['data/prepared'], ['data']),
    stage('train', ['data/prepared'], ['models/model'], ['seed']),
    stage('evaluate', ['models/model', 'data/prepared'], ['metrics/eval.json'], []),
  ],
};

function signaturesFor(seed: string, data: string) {
  return expandSweep(shorthandOverrides({ seed, data }, EXP_SHORTHANDS)).map((combo, i) => {
    const params: Record<string, unknown> = { pull: { url: 'u' }, partition: { size: 10 }, seed: 0, data: 'v1' };
    for (const a of combo) params[a.key] = a.value;
    return stageSignatures(PIPELINE, { 'params.yaml': params }, String(i));
  });
}

test('stages shared across the sweep are owned by their first experiment; others wait for its warm-up', () => {
  const plan = planSweep(signaturesFor('1,2,3', 'v1,v2'));
  // order: (1,v1) (1,v2) (2,v1) (2,v2) (3,v1) (3,v2)
  assert.deepEqual(plan.warmup[0], ['pull', 'partition', 'prepare']);
  assert.deepEqual(plan.warmup[1], ['prepare']);
  assert.deepEqual(plan.warmup.slice(2), [[], [], [], []]);
  assert.deepEqual(plan.waitFor, [[], [0], [0], [0, 1], [0], [0, 1]]);
});

test('a param change flows downstream: nothing below the changed stage is shared', () => {
  const sigs = signaturesFor('1', 'v1,v2');
  assert.equal(sigs[0]!.get('pull'), sigs[1]!.get('pull'));
  assert.notEqual(sigs[0]!.get('prepare'), sigs[1]!.get('prepare'));
  assert.notEqual(sigs[0]!.get('evaluate'), sigs[1]!.get('evaluate'));
});

test('a single experiment has nothing to warm up', () => {
  assert.deepEqual(planSweep(signaturesFor('1', 'v1')), { warmup: [[]], waitFor: [[]] });
});
