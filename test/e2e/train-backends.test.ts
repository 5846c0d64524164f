/**
 * The train and evaluate stages on every backend available here (tfjs-node when it loads, wasm, cpu), with the
 * `bn` model: it has the custom BatchNorm layer and the seeded dropout. Per backend: two runs with the same
 * params give byte-identical outputs, one of them stopped after epoch 1 and resumed from its checkpoint (so the
 * checkpoint carries weights, optimizer state, BatchNorm moving averages and the random streams). Across
 * backends: a model trained on one backend gives the same predictions on another, within float rounding.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { availableBackends, type StageBackend } from '../helpers/backends.js';
import { tempProject, type TempProject } from '../helpers/project.js';
import { runStageProgram } from '../helpers/stage.js';
import { writeFixture } from '../helpers/prepared-fixture.js';

const BACKENDS = await availableBackends();

const params = (train: StageBackend, evaluate: StageBackend | 'auto', epochs: number) => `seed: 42
train:
  model: bn
  backend: ${train}
  epochs: ${epochs}
  batch_size: 16
  early_stopping_patience: 0
evaluate:
  batch_size: 32
  samples: 4
  backend: ${evaluate}
`;

const OUTPUTS = [
  'metrics/train.json',
  'plots/train.json',
  'models/model/model.json',
  'models/model/weights.bin',
  'metrics/eval.json',
  'results/predictions.csv',
  'results/confusion.png',
];

async function project(text: string): Promise<TempProject> {
  const p = await tempProject({ 'params.yaml': text }, { git: false });
  await writeFixture(path.join(p.dir, 'data/prepared'), { size: 8, counts: { train: 64, val: 16, test: 24 } });
  return p;
}

async function run(stage: 'train' | 'evaluate', p: TempProject): Promise<string> {
  const r = await runStageProgram(stage, p.dir);
  assert.equal(r.exitCode, 0, r.all);
  return r.stdout;
}

/** An output's bytes; when it is missing, a failure that says what its folder holds and what evaluate printed
 * (one CI run found metrics/eval.json missing after evaluate exited 0, not seen again). */
async function readOutput(dir: string, rel: string, evaluateSaid: string): Promise<Buffer> {
  try {
    return await fs.readFile(path.join(dir, rel));
  } catch (e) {
    const listing = await fs.readdir(path.dirname(path.join(dir, rel))).catch((err: Error) => [err.message]);
    assert.fail(
      `${dir}/${rel}: ${(e as Error).message}; the folder holds [${listing.join(', ')}]; ` +
        `evaluate said: ${evaluateSaid}`,
    );
  }
}

/** Per row of predictions.csv: the class probabilities. */
async function probabilities(dir: string): Promise<number[][]> {
  const rows = (await fs.readFile(path.join(dir, 'results/predictions.csv'), 'utf8')).trimEnd().split('\n').slice(1);
  return rows.map((r) => r.split(',').slice(6).map(Number));
}

/** What each backend's straight run left (prepared data, model, predictions), kept for the cross-backend test:
 * made at module level so that its cleanup belongs to the file, not to the test that filled it. */
const kept = await tempProject({}, { git: false });
const KEPT = ['data/prepared', 'models/model', 'results/predictions.csv'];
const trained: StageBackend[] = [];

for (const backend of BACKENDS) {
  test(`${backend}: the same params give byte-identical outputs, also when resumed from a checkpoint`, async () => {
    const [straight, resumed] = await Promise.all([
      project(params(backend, backend, 2)),
      project(params(backend, backend, 1)),
    ]);
    await Promise.all([run('train', straight), run('train', resumed)]);
    // Raising epochs under the plateau schedule continues from the checkpoint of epoch 1.
    await resumed.write('params.yaml', params(backend, backend, 2));
    const second = await run('train', resumed);
    assert.match(second, /checkpoint: resuming after epoch 1/);
    assert.match(second, new RegExp(`^backend: ${backend}`, 'm'));
    // tfjs-node trains the step as one TensorFlow graph (stages/lib/tf/graph/); the others op by op
    const how = backend === 'node' ? 'one TensorFlow graph \\(\\d+ ops\\)$' : 'op by op \\(';
    assert.match(second, new RegExp(`^train step: ${how}`, 'm'));
    assert.match(JSON.parse(await resumed.read('metrics/train_speed.json')).step, new RegExp(`^${how}`));
    const said = await Promise.all([run('evaluate', straight), run('evaluate', resumed)]);
    assert.equal(JSON.parse(await straight.read('metrics/train.json')).backend, backend);
    for (const f of OUTPUTS) {
      const [x, y] = await Promise.all([straight, resumed].map((p, i) => readOutput(p.dir, f, said[i]!)));
      assert.ok(x!.equals(y!), `${f} differs between two runs with the same params on ${backend}`);
    }
    for (const rel of KEPT)
      await fs.cp(path.join(straight.dir, rel), path.join(kept.dir, backend, rel), { recursive: true });
    trained.push(backend);
  });
}

test('a model trained on one backend gives the same predictions on another', async (t) => {
  if (trained.length < 2) return t.skip('needs two backends that trained');
  await Promise.all(
    trained.map(async (from, i) => {
      const to = trained[(i + 1) % trained.length]!;
      const source = path.join(kept.dir, from);
      const p = await tempProject({ 'params.yaml': params(from, to, 2) }, { git: false });
      for (const dir of ['data/prepared', 'models/model'])
        await fs.cp(path.join(source, dir), path.join(p.dir, dir), { recursive: true });
      assert.match(await run('evaluate', p), new RegExp(`^backend: ${to}`, 'm'));
      const [expected, got] = await Promise.all([probabilities(source), probabilities(p.dir)]);
      assert.equal(got.length, expected.length);
      let worst = 0;
      for (const [r, row] of got.entries())
        for (const [c, x] of row.entries()) worst = Math.max(worst, Math.abs(x - expected[r]![c]!));
      t.diagnostic(`trained on ${from}, evaluated on ${to}: probabilities differ by up to ${worst}`);
      assert.ok(worst < 2e-3, `trained on ${from}, evaluated on ${to}: probabilities differ by up to ${worst}`);
    }),
  );
});

test('tfjs-node: evaluate in worker threads writes the bytes of evaluate in its own process', async (t) => {
  if (!trained.includes('node')) return t.skip('tfjs-node did not train here');
  // Batches of 4: six for 24 test images, so two workers take three each (LOCKSTEP_INFER_WORKERS=1: none).
  const text = params('node', 'node', 2).replace('batch_size: 32', 'batch_size: 4');
  const [inProcess, threaded] = await Promise.all(
    ['1', '2'].map(async (workers) => {
      const p = await tempProject({ 'params.yaml': text }, { git: false });
      for (const dir of ['data/prepared', 'models/model'])
        await fs.cp(path.join(kept.dir, 'node', dir), path.join(p.dir, dir), { recursive: true });
      const r = await runStageProgram('evaluate', p.dir, { env: { LOCKSTEP_INFER_WORKERS: workers } });
      assert.equal(r.exitCode, 0, r.all);
      assert.equal(r.stderr, '', 'a worker wrote to stderr');
      return { p, said: r.stdout };
    }),
  );
  assert.doesNotMatch(inProcess!.said, /workers/);
  assert.match(threaded!.said, /images\/s in 2 workers of 1 thread/);
  for (const f of ['metrics/eval.json', 'results/predictions.csv', 'results/confusion.png']) {
    const [x, y] = await Promise.all([inProcess!, threaded!].map(({ p, said }) => readOutput(p.dir, f, said)));
    assert.ok(x!.equals(y!), `${f} differs between evaluate in workers and in its own process`);
  }
  // A model folder that does not load fails as before workers existed: one line naming it, before any worker.
  await threaded!.p.write('models/model/model.json', '{ not json');
  const r = await runStageProgram('evaluate', threaded!.p.dir, { env: { LOCKSTEP_INFER_WORKERS: '2' } });
  assert.equal(r.exitCode, 1, r.all);
  assert.equal(
    r.stderr,
    'evaluate: models/model/model.json: not a readable tfjs model.json Re-run the train stage.',
    r.all,
  );
});

test('backend auto takes tfjs-node when it loads, else says in one calm line why not; nothing on stderr', async (t) => {
  if (trained.length === 0) return t.skip('no backend trained');
  const p = await tempProject({ 'params.yaml': params('cpu', 'auto', 2) }, { git: false });
  for (const dir of ['data/prepared', 'models/model'])
    await fs.cp(path.join(kept.dir, trained[0]!, dir), path.join(p.dir, dir), { recursive: true });
  const r = await runStageProgram('evaluate', p.dir);
  assert.equal(r.exitCode, 0, r.all);
  assert.equal(r.stderr, '', 'libtensorflow or a fallback wrote to stderr');
  const lines = r.stdout.split('\n').filter((l) => l.startsWith('backend'));
  assert.equal(lines.length, 1, r.stdout);
  // tfjs-node runs libtensorflow's oneDNN kernels unless TF_ENABLE_ONEDNN_OPTS turns them off.
  const oneDnn = ['1', 'true'].includes((process.env.TF_ENABLE_ONEDNN_OPTS ?? '1').toLowerCase());
  if (BACKENDS.includes('node')) assert.equal(lines[0], oneDnn ? 'backend: node (oneDNN)' : 'backend: node');
  else assert.match(lines[0]!, /^backend: wasm \(simd, \d+ threads?\); tfjs-node is not installed$/);
});
