import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { PNG } from 'pngjs';
import { tempProject, type TempProject } from '../helpers/project.js';
import { runStageProgram } from '../helpers/stage.js';
import { FIXTURE_CLASSES, writeFixture } from '../helpers/prepared-fixture.js';

const PARAMS = (extra = '') => `seed: 42
train:
  model: tiny
  backend: cpu
  epochs: 2
  batch_size: 16
${extra}evaluate:
  batch_size: 32
  samples: 9
  backend: wasm
`;

async function project(params = PARAMS()): Promise<TempProject> {
  const p = await tempProject({ 'params.yaml': params }, { git: false });
  await writeFixture(path.join(p.dir, 'data/prepared'), { size: 8, counts: { train: 96, val: 32, test: 24 } });
  return p;
}

async function trainAndEvaluate(p: TempProject): Promise<void> {
  const train = await runStageProgram('train', p.dir);
  assert.equal(train.exitCode, 0, train.all);
  const evaluate = await runStageProgram('evaluate', p.dir);
  assert.equal(evaluate.exitCode, 0, evaluate.all);
}

function tfjsNodeInstalled(): boolean {
  try {
    import.meta.resolve('@tensorflow/tfjs-node');
    return true;
  } catch {
    return false;
  }
}

/** Runs the train stage and kills it with SIGKILL once its output shows `marker`. */
async function trainKilledAt(p: TempProject, marker: string) {
  const child = runStageProgram('train', p.dir);
  let seen = '';
  child.stdout!.on('data', (chunk: Buffer) => {
    seen += chunk.toString();
    if (seen.includes(marker)) child.kill('SIGKILL');
  });
  return child;
}

const weightsOf = (p: TempProject) => fs.readFile(path.join(p.dir, 'models/model/weights.bin'));

/** Each epoch's rate in plots/train.json, to 6 decimals. */
const epochRates = async (p: TempProject) =>
  (JSON.parse(await p.read('plots/train.json')) as { lr: number }[]).map((r) => Number(r.lr.toFixed(6)));

/**
 * Trains `ref` uninterrupted while `p` is killed with SIGKILL at `marker` and then resumed; asserts the resumed run
 * is the uninterrupted one (the same curves, the same weights) and returns the reference run.
 */
async function resumesOntoReference(p: TempProject, ref: TempProject, marker: string) {
  const reference = runStageProgram('train', ref.dir);
  const killed = await trainKilledAt(p, marker);
  assert.equal(killed.signal, 'SIGKILL', killed.all);
  const resumed = await runStageProgram('train', p.dir);
  assert.equal(resumed.exitCode, 0, resumed.all);
  assert.match(resumed.stdout, /checkpoint: resuming after epoch/);
  const done = await reference;
  assert.equal(done.exitCode, 0, done.all);
  assert.equal(await p.read('plots/train.json'), await ref.read('plots/train.json'));
  assert.ok((await weightsOf(p)).equals(await weightsOf(ref)), 'the resumed run ended on other weights');
  return done;
}

const OUTPUTS = [
  'metrics/train.json',
  'plots/train.json',
  'models/model/model.json',
  'models/model/weights.bin',
  'models/model/normalization.json',
  'metrics/eval.json',
  'results/predictions.csv',
  'results/confusion.json',
  'results/samples.json',
  'plots/per_class.json',
];
const BINARY_OUTPUTS = ['results/confusion.png', 'results/samples.png'];

test(`train then evaluate write every output with the right shapes, byte-identical across two runs, different for \
another seed`, async () => {
  // a, b, c train on wasm (what auto picks without tfjs-node), d and e on cpu.
  const wasm = PARAMS().replace('backend: cpu', 'backend: wasm');
  const [a, b, c, d, e] = await Promise.all([
    project(wasm),
    project(wasm),
    project(wasm.replace('seed: 42', 'seed: 7')),
    project(),
    project(),
  ]);
  await Promise.all([a, b, c, d, e].map(trainAndEvaluate));

  const history = JSON.parse(await a.read('plots/train.json')) as Record<string, number>[];
  assert.equal(history.length, 2);
  assert.deepEqual(Object.keys(history[0]!), ['epoch', 'loss', 'accuracy', 'val_loss', 'val_acc', 'lr']);
  const trainMetrics = JSON.parse(await a.read('metrics/train.json'));
  assert.equal(trainMetrics.backend, 'wasm');
  assert.equal(JSON.parse(await d.read('metrics/train.json')).backend, 'cpu');
  assert.equal(trainMetrics.epochs_run, 2);
  const speed = JSON.parse(await a.read('metrics/train_speed.json'));
  assert.ok(speed.images_per_sec > 0);

  const csv = (await a.read('results/predictions.csv')).trimEnd().split('\n');
  assert.equal(
    csv[0],
    ['id', 'path', 'true_label', 'pred_label', 'p_true', 'p_pred', ...FIXTURE_CLASSES.map((c) => `p_${c}`)].join(','),
  );
  assert.equal(csv.length, 1 + 24);
  const first = csv[1]!.split(',');
  assert.match(first[0]!, /^fx-\d{5}$/);
  assert.match(first[1]!, /^data\/raw\/\w+\/fx-\d{5}\.png$/);
  const probs = first.slice(6).map(Number);
  assert.ok(Math.abs(probs.reduce((s, x) => s + x, 0) - 1) < 1e-4);
  assert.equal(Number(first[4]), probs[FIXTURE_CLASSES.indexOf(first[2]!)]);

  const evalMetrics = JSON.parse(await a.read('metrics/eval.json'));
  for (const key of ['loss', 'accuracy', 'macro_precision', 'macro_recall', 'macro_f1'])
    assert.equal(typeof evalMetrics[key], 'number', key);
  assert.deepEqual(Object.keys(evalMetrics.per_class), FIXTURE_CLASSES);
  assert.equal(
    Object.values(evalMetrics.per_class).reduce((s: number, m) => s + (m as { support: number }).support, 0),
    24,
  );
  const confusion = JSON.parse(await a.read('results/confusion.json'));
  assert.deepEqual(confusion.classes, FIXTURE_CLASSES);
  assert.equal(
    confusion.matrix.flat().reduce((s: number, x: number) => s + x, 0),
    24,
  );
  const samples = JSON.parse(await a.read('results/samples.json'));
  assert.equal(samples.samples.length, 9);
  const png = PNG.sync.read(await fs.readFile(path.join(a.dir, 'results/samples.png')));
  assert.ok(png.width >= 3 * 8 * 3 && png.height >= 3 * 8 * 3);

  for (const [x, y, backend] of [
    [a, b, 'wasm'],
    [d, e, 'cpu'],
  ] as const) {
    for (const f of [...OUTPUTS, ...BINARY_OUTPUTS]) {
      const [bx, by] = await Promise.all([fs.readFile(path.join(x.dir, f)), fs.readFile(path.join(y.dir, f))]);
      assert.ok(bx.equals(by), `${f} differs between two runs with the same params on ${backend}`);
    }
  }
  const [wa, wc] = await Promise.all([a, c].map((p) => fs.readFile(path.join(p.dir, 'models/model/weights.bin'))));
  assert.ok(!wa!.equals(wc!), 'another seed gave the same weights');
  assert.notEqual(await a.read('results/predictions.csv'), await c.read('results/predictions.csv'));
});

test('training killed with SIGKILL after a checkpoint resumes from it and finishes', async () => {
  const params = PARAMS('  early_stopping_patience: 0\n')
    .replace('epochs: 2', 'epochs: 8')
    .replace('backend: cpu', 'backend: wasm');
  const [p, ref] = await Promise.all([project(params), project(params)]);
  const reference = runStageProgram('train', ref.dir);
  const killed = await trainKilledAt(p, 'epoch 2/8');
  assert.equal(killed.signal, 'SIGKILL', killed.all);
  assert.equal(await p.exists('models/model/model.json'), false);
  const state = JSON.parse(await p.read('models/checkpoint/state.json'));
  assert.ok(state.state.epoch >= 2 && state.state.epoch < 8, `checkpoint at epoch ${state.state.epoch}`);

  const resumed = await runStageProgram('train', p.dir);
  assert.equal(resumed.exitCode, 0, resumed.all);
  assert.match(resumed.stdout, new RegExp(`checkpoint: resuming after epoch ${state.state.epoch}`));
  const history = JSON.parse(await p.read('plots/train.json'));
  assert.deepEqual(
    history.map((r: { epoch: number }) => r.epoch),
    [1, 2, 3, 4, 5, 6, 7, 8],
  );
  assert.ok(await p.exists('models/model/weights.bin'));
  // The resumed run follows the uninterrupted one: same data order, masks, weights and Adam state.
  assert.equal((await reference).exitCode, 0);
  assert.equal(await p.read('plots/train.json'), await ref.read('plots/train.json'));
});

test('SIGTERM in the middle of an epoch ends training within a batch or two; a rerun resumes, finishes', async () => {
  const p = await tempProject({ 'params.yaml': PARAMS('  early_stopping_patience: 0\n') }, { git: false });
  await writeFixture(path.join(p.dir, 'data/prepared'), { size: 8, counts: { train: 4000, val: 32, test: 24 } });
  // Progress after every batch (250 an epoch), so the test sees epoch 2 under way. The signal handler that removes
  // temp folders is in place from epoch 1's checkpoint on; before, it ran only when the epoch's batches were done.
  const epoch2 = /epoch 2 of 2: \d+\/4000 images/;
  const child = runStageProgram('train', p.dir, { env: { LOCKSTEP_TRAIN_PROGRESS_MS: '0' } });
  let seen = '';
  child.stdout!.on('data', (chunk: Buffer) => {
    const first = !epoch2.test(seen);
    seen += chunk.toString();
    if (first && epoch2.test(seen)) child.kill('SIGTERM');
  });
  const stopped = await child;
  assert.equal(stopped.exitCode, 143, stopped.all);
  const done = [...stopped.stdout.matchAll(/epoch 2 of 2: (\d+)\/4000 images/g)].map((m) => Number(m[1]));
  assert.ok(done.at(-1)! < 4000, `stopped after ${done.at(-1)} of epoch 2's 4000 images`);
  assert.doesNotMatch(stopped.stdout, /epoch 2\/2:/);
  assert.equal(await p.exists('models/model/model.json'), false);
  const rerun = await runStageProgram('train', p.dir);
  assert.equal(rerun.exitCode, 0, rerun.all);
  assert.match(rerun.stdout, /checkpoint: resuming after epoch 1/);
  const history = JSON.parse(await p.read('plots/train.json'));
  assert.deepEqual(
    history.map((r: { epoch: number }) => r.epoch),
    [1, 2],
  );
});

test(`sgd with a one-cycle schedule, label smoothing and weight decay: rates per the schedule, a kill resumes onto \
the same path, flip TTA is deterministic`, async () => {
  const sgd =
    '  optimizer: sgd\n  schedule: onecycle\n  warmup_epochs: 1.5\n  lr: 0.05\n  weight_decay: 0.0005\n  ' +
    'label_smoothing: 0.1\n  early_stopping_patience: 0\n';
  const params = PARAMS(sgd)
    .replace('epochs: 2', 'epochs: 6')
    .replace('backend: cpu', 'backend: wasm')
    .replace('  samples: 9\n', '  samples: 9\n  tta: flip\n');
  const [p, ref, plain] = await Promise.all([
    project(params),
    project(params),
    project(params.replace('  tta: flip\n', '')),
  ]);
  // momentum buffers and the step count come back: the resumed run is the uninterrupted one
  await resumesOntoReference(p, ref, 'epoch 2/6');
  // 96 images / batch 16 = 6 steps an epoch, 36 in all, 9 of warm-up: an epoch's rate is its last step's
  assert.deepEqual(await epochRates(p), [0.033333, 0.046296, 0.035185, 0.024074, 0.012963, 0.001852]);

  await Promise.all(
    [p, plain].map(async (x) => {
      if (x === plain) assert.equal((await runStageProgram('train', x.dir)).exitCode, 0);
      const r = await runStageProgram('evaluate', x.dir);
      assert.equal(r.exitCode, 0, r.all);
    }),
  );
  assert.match((await runStageProgram('evaluate', p.dir)).stdout, /inference \(each image and its mirror image\)/);
  const first = await p.read('results/predictions.csv');
  assert.equal((await runStageProgram('evaluate', p.dir)).exitCode, 0);
  assert.equal(await p.read('results/predictions.csv'), first, 'flip TTA is not deterministic');
  assert.notEqual(first, await plain.read('results/predictions.csv'), 'flip TTA changed nothing');
});

/** The values of the saved model's weights whose names end in `suffix` (models/model: manifest + weights.bin). */
async function savedWeights(p: TempProject, suffix: string): Promise<number[]> {
  const manifest = JSON.parse(await p.read('models/model/model.json')).weightsManifest[0].weights as {
    name: string;
    shape: number[];
  }[];
  const bin = await fs.readFile(path.join(p.dir, 'models/model/weights.bin'));
  const floats = new Float32Array(bin.buffer, bin.byteOffset, bin.length / 4);
  const values: number[] = [];
  let at = 0;
  for (const w of manifest) {
    const size = w.shape.reduce((a, b) => a * b, 1);
    if (w.name.endsWith(suffix)) values.push(...floats.subarray(at, at + size));
    at += size;
  }
  return values;
}

test(`airbench's knobs (its schedule, Lookahead, alternating flip, mirrored 2-pixel translation, Dirac init, frozen \
batch-norm scales with 64x faster shifts): rates per the schedule, scales stay 1, a kill resumes onto the same \
path`, async () => {
  const knobs =
    '  model: fast\n  optimizer: sgd\n  momentum: 0.85\n  schedule: airbench\n  warmup_epochs: 1\n  lr: 0.05\n' +
    '  label_smoothing: 0.2\n  early_stopping_patience: 0\n  translate: 2\n  pad_mode: reflect\n  flip: alternate\n' +
    '  lookahead: true\n  dirac_init: true\n  bn_frozen_scale: true\n  bn_bias_lr_scale: 64\n';
  const params = PARAMS(knobs)
    .replace('  model: tiny\n', '')
    .replace('epochs: 2', 'epochs: 4')
    .replace('backend: cpu', 'backend: wasm');
  const [p, ref, noLookahead] = await Promise.all([
    project(params),
    project(params),
    project(params.replace('lookahead: true', 'lookahead: false')),
  ]);
  const control = runStageProgram('train', noLookahead.dir);
  // the slow weights, momentum and flip sides come back: the resumed run is the uninterrupted one
  const done = await resumesOntoReference(p, ref, 'epoch 2/4');
  assert.match(done.stdout, /dirac: 7 convolutions start with identity filters/);
  assert.equal((await control).exitCode, 0);
  assert.ok(!(await weightsOf(p)).equals(await weightsOf(noLookahead)));
  // 96 images / batch 16 = 6 steps an epoch, 24 in all, 6 of warm-up from 0.2x: an epoch's rate is its last step's
  assert.deepEqual(await epochRates(p), [0.043333, 0.037083, 0.021583, 0.006083]);
  const gammas = await savedWeights(p, '/gamma');
  assert.ok(gammas.length > 0 && gammas.every((g) => g === 1), 'batch-norm scales trained');
  assert.ok(
    (await savedWeights(p, '/beta')).some((b) => b !== 0),
    'batch-norm shifts not trained',
  );
});

test('a checkpoint from other params is not resumed', async () => {
  const p = await project();
  assert.equal((await runStageProgram('train', p.dir)).exitCode, 0);
  await p.write('params.yaml', PARAMS().replace('seed: 42', 'seed: 43'));
  const again = await runStageProgram('train', p.dir);
  assert.equal(again.exitCode, 0, again.all);
  assert.match(again.stdout, /checkpoint: params, data, code or backend changed since it was written; starting fresh/);
});

test('bad params and bad prepared data fail with one line naming the param or file, leaving no outputs', async () => {
  const cases: {
    name: string;
    params?: string;
    mutate?: (p: TempProject) => Promise<void>;
    stage?: 'train' | 'evaluate';
    expect: RegExp;
  }[] = [
    {
      name: 'unknown model',
      params: PARAMS().replace('model: tiny', 'model: resnet'),
      expect:
        /^train: params\.yaml:3:10: train\.model: unknown value "resnet" Use one of: tiny, seed, bn, vgg, fast, air\.$/,
    },
    {
      name: 'unknown backend',
      params: PARAMS().replace('backend: cpu', 'backend: gpu'),
      expect: /^train: params\.yaml:\d+:\d+: train\.backend: unknown value "gpu" Use one of: auto, node, wasm, cpu\.$/,
    },
    {
      name: 'bad epochs',
      params: PARAMS().replace('epochs: 2', 'epochs: -1'),
      expect: /^train: params\.yaml:\d+:\d+: train\.epochs: expected a positive integer, got -1$/,
    },
    {
      name: 'typo',
      params: PARAMS().replace('epochs: 2', 'epoch: 2'),
      expect: /^train: params\.yaml:\d+:\d+: train\.epoch: unknown param Known: /,
    },
    ...(tfjsNodeInstalled()
      ? []
      : [
          {
            name: 'node backend absent',
            params: PARAMS().replace('backend: cpu', 'backend: node'),
            expect: new RegExp(
              /^train: train\.backend: node: @tensorflow\/tfjs-node is not usable \(.*\) Install /.source +
                /@tensorflow\/tfjs-node \(or run scripts\/tfjs-node-from-registries\.sh\) or set it to auto, /.source +
                /wasm or cpu\.$/.source,
            ),
          },
        ]),
    {
      name: 'truncated images',
      mutate: async (p) => {
        const f = path.join(p.dir, 'data/prepared/train.images.u8');
        await fs.truncate(f, 100);
      },
      expect: new RegExp(
        /^train: data\/prepared\/train\.images\.u8: 100 bytes, expected 18432 \(96 images of 8x8x3 in /.source +
          /meta\.json\) Re-run the prepare stage/.source,
      ),
    },
    {
      name: 'missing labels',
      mutate: (p) => fs.rm(path.join(p.dir, 'data/prepared/val.labels.u8')),
      expect: /^train: data\/prepared\/val\.labels\.u8: missing Re-run/,
    },
    {
      name: 'evaluate without a model',
      stage: 'evaluate',
      expect: /^evaluate: models\/model\/normalization\.json: missing or not valid JSON Re-run the train stage\.$/,
    },
    {
      name: 'bad samples',
      stage: 'evaluate',
      params: PARAMS().replace('samples: 9', 'samples: many'),
      expect: /^evaluate: params\.yaml:\d+:\d+: evaluate\.samples: expected a non-negative integer, got "many"$/,
    },
  ];
  await Promise.all(
    cases.map(async (c) => {
      const p = await project(c.params);
      await c.mutate?.(p);
      const r = await runStageProgram(c.stage ?? 'train', p.dir);
      assert.equal(r.exitCode, 1, `${c.name}: ${r.all}`);
      const lines = r.stderr.split('\n').filter((l) => l !== '');
      assert.equal(lines.length, 1, `${c.name}: ${r.stderr}`);
      assert.match(lines[0]!, c.expect, c.name);
      for (const out of ['models/model', 'metrics', 'plots', 'results'])
        assert.equal(await p.exists(out), false, `${c.name}: ${out} left behind`);
    }),
  );
});
