/**
 * Adam on tfjs-node as TensorFlow's fused ResourceApplyAdam (stages/lib/tf/node-adam.ts): the same updates as
 * tfjs' Adam within float rounding; a run resumed from getWeights/setWeights continues with the bits of a run
 * that never stopped; the state has tfjs Adam's names and layout; no tensor is left behind by a step, and
 * dispose frees the TensorFlow resources. Skipped where tfjs-node is not installed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { availableBackends } from '../helpers/backends.js';
import { initBackend } from '../../stages/lib/tf/backend.js';
import { NodeAdam } from '../../stages/lib/tf/node-adam.js';
import { Mulberry32 } from '../../stages/lib/common/prng.js';

const skip = (await availableBackends()).includes('node') ? false : 'tfjs-node is not installed';

const SHAPES = [[3, 3, 2, 4], [4], [7, 5]];

function randoms(n: number, rng: Mulberry32, scale = 1): Float32Array {
  return Float32Array.from({ length: n }, () => (rng.next() * 2 - 1) * scale);
}

/** Weights named `w<i>` with seeded values, registered as tfjs variables. */
function weights(tag: string): tf.Variable[] {
  const rng = new Mulberry32(7);
  return SHAPES.map((s, i) =>
    tf.variable(
      tf.tensor(
        randoms(
          s.reduce((a, b) => a * b, 1),
          rng,
        ),
        s,
      ),
      true,
      `${tag}/w${i}`,
    ),
  );
}

/** Step k's gradients: a fixed direction plus seeded noise, growing with k; the same for every optimizer. */
function gradients(vars: tf.Variable[], k: number): { name: string; tensor: tf.Tensor }[] {
  const direction = new Mulberry32(100);
  const noise = new Mulberry32(200 + k);
  return vars.map((v) => {
    const d = randoms(v.size, direction);
    const e = randoms(v.size, noise);
    const g = d.map((x, j) => 0.1 * (k + 1) * (x + 0.3 * e[j]!));
    return { name: v.name, tensor: tf.tensor(g, v.shape) };
  });
}

function step(opt: tf.Optimizer, vars: tf.Variable[], k: number): void {
  const g = gradients(vars, k);
  opt.applyGradients(g);
  tf.dispose(g.map((x) => x.tensor));
}

const bits = (vars: tf.Variable[]) => vars.map((v) => Buffer.from(v.dataSync().buffer).toString('hex'));

test('node Adam: the updates of tfjs Adam, within float rounding', { skip }, async () => {
  await initBackend('node', 'train', 'test');
  const mine = weights('fused');
  const theirs = weights('tfjs');
  const fused = new NodeAdam(0.01);
  const reference = tf.train.adam(0.01);
  for (let k = 0; k < 20; k++) {
    step(fused, mine, k);
    step(reference, theirs, k);
  }
  const starts = weights('start').map((v) => v.dataSync());
  mine.forEach((v, i) => {
    const got = v.dataSync();
    const want = theirs[i]!.dataSync();
    const start = starts[i]!;
    // The weights moved (20 steps of up to 0.01 each), and by what tfjs' Adam moved them.
    let moved = 0;
    for (let j = 0; j < got.length; j++) {
      moved += Math.abs(want[j]! - start[j]!) / got.length;
      assert.ok(Math.abs(got[j]! - want[j]!) < 1e-5, `w${i}[${j}]: ${got[j]} against ${want[j]}`);
    }
    assert.ok(moved > 0.05, `w${i} moved by ${moved} on average`);
  });
  assert.equal(fused.iterations, 20);
});

test('node Adam: resumed from its weights, a run continues with the same bits', { skip }, async () => {
  await initBackend('node', 'train', 'test');
  const straight = weights('straight');
  const resumed = weights('resumed');
  const a = new NodeAdam(0.01);
  const first = new NodeAdam(0.01);
  for (let k = 0; k < 3; k++) {
    step(a, straight, k);
    step(first, resumed, k);
  }
  const state = await first.getWeights();
  assert.deepEqual(
    state.map((w) => w.name),
    ['iter', ...['m', 'v'].flatMap((s) => SHAPES.map((_, i) => `resumed/w${i}/${s}`))],
  );
  assert.equal(state[0]!.tensor.dataSync()[0], 3);
  // As the checkpoint does: encode, then a new optimizer in a new run reads them.
  const saved = state.map((w) => ({ name: w.name, tensor: tf.tensor(w.tensor.dataSync(), w.tensor.shape) }));
  first.dispose();
  const second = new NodeAdam(0.01);
  await second.setWeights(saved);
  tf.dispose(saved.map((w) => w.tensor));
  // Before its first step it hands back what it was given.
  assert.deepEqual(
    (await second.getWeights()).map((w) => w.name),
    state.map((w) => w.name),
  );
  for (let k = 3; k < 6; k++) {
    step(a, straight, k);
    step(second, resumed, k);
  }
  assert.deepEqual(bits(resumed), bits(straight));
});

test('node Adam: a step leaves no tensor behind; dispose frees the resources', { skip }, async () => {
  await initBackend('node', 'train', 'test');
  const vars = weights('leak');
  const opt = new NodeAdam(0.01);
  step(opt, vars, 0);
  const before = tf.memory().numTensors;
  for (let k = 1; k < 4; k++) step(opt, vars, k);
  assert.equal(tf.memory().numTensors, before);
  for (let i = 0; i < 2; i++) (await opt.getWeights())[0]!.tensor.dispose();
  assert.equal(tf.memory().numTensors, before + 2 * SHAPES.length);
  opt.dispose();
  // The resource handles (3 per weight), the last exported moments and the iteration scalars are gone.
  assert.ok(tf.memory().numTensors <= before - 3 * SHAPES.length, `${tf.memory().numTensors} tensors`);
});
