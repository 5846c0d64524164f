import { test } from 'node:test';
import { stringify as stringifyYaml } from 'yaml';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { Mulberry32, deriveSeed, permutation } from '../../stages/lib/common/prng.js';
import {
  channelStats,
  drawAugmentation,
  fillImages,
  fillOneHot,
  flipBits,
  mirrorImages,
  normalizationTable,
  writeShifted,
} from '../../stages/lib/tf/augment.js';
import { classification, confusionMatrix } from '../../stages/lib/ml/metrics.js';
import { evaluateParams, trainParams } from '../../stages/lib/ml/params.js';
import { readMeta, readSplit } from '../../stages/lib/ml/prepared.js';
import { StageError } from '../../stages/lib/common/stage.js';
import { ParamsFile } from '../../stages/lib/common/params.js';
import { afterEpoch, airbenchLr, oneCycleLr } from '../../stages/lib/ml/schedule.js';
import { lookaheadDecay, lookaheadDue, lookaheadEvery } from '../../stages/lib/tf/lookahead.js';
import { backendIdentity, backendLine } from '../../stages/lib/tf/backend.js';
import { writeFixture } from '../helpers/prepared-fixture.js';
import { tempDir } from '../helpers/tmp.js';

test('mulberry32 is reproducible from its seed and from a saved state', () => {
  const a = new Mulberry32(42);
  const first = Array.from({ length: 5 }, () => a.nextU32());
  const b = new Mulberry32(42);
  assert.deepEqual(
    Array.from({ length: 5 }, () => b.nextU32()),
    first,
  );
  const saved = a.state;
  const next = a.next();
  const c = new Mulberry32(0);
  c.state = saved;
  assert.equal(c.next(), next);
  assert.notDeepEqual(
    Array.from({ length: 5 }, () => new Mulberry32(43).nextU32()),
    first,
  );
});

test('deriveSeed separates streams by label', () => {
  assert.equal(deriveSeed(42, 'init', 0), deriveSeed(42, 'init', 0));
  const seeds = new Set([
    deriveSeed(42, 'init', 0),
    deriveSeed(42, 'init', 1),
    deriveSeed(42, 'dropout', 0),
    deriveSeed(43, 'init', 0),
  ]);
  assert.equal(seeds.size, 4);
});

test('permutation is a seeded shuffle of 0..n-1', () => {
  const p = permutation(1000, new Mulberry32(1));
  assert.deepEqual(
    [...p].sort((x, y) => x - y),
    Array.from({ length: 1000 }, (_, i) => i),
  );
  assert.deepEqual(p, permutation(1000, new Mulberry32(1)));
  assert.notDeepEqual(p, permutation(1000, new Mulberry32(2)));
});

test('channelStats computes per-channel mean and std of pixel/255', () => {
  // Two pixels, two channels: channel 0 = 0 and 255, channel 1 = 51 and 51.
  const s = channelStats(new Uint8Array([0, 51, 255, 51]), 2);
  assert.deepEqual(s.mean, [0.5, 0.2]);
  assert.equal(s.std[0], 0.5);
  assert.equal(s.std[1], 1, 'a constant channel gets std 1 instead of 0');
});

test('fillImages normalises, flips and crops with zero padding', () => {
  const shape = { height: 2, width: 3, channels: 1 };
  const images = new Uint8Array([10, 20, 30, 40, 50, 60]);
  const lut = normalizationTable({ mean: [0], std: [1 / 255] }); // value -> value
  const plain = new Float32Array(6);
  fillImages(plain, images, shape, lut, null, 0, 1);
  assert.deepEqual([...plain], [10, 20, 30, 40, 50, 60]);

  // Find draws that give a pure flip and a pure shift, and check the pixels they produce.
  const seen = new Set<string>();
  for (let seed = 0; seed < 400 && seen.size < 2; seed++) {
    const { dy, dx, flip } = drawAugmentation({ rng: new Mulberry32(seed), pad: 1, flip: true });
    const out = new Float32Array(6);
    fillImages(out, images, shape, lut, null, 0, 1, { rng: new Mulberry32(seed), pad: 1, flip: true });
    if (dy === 0 && dx === 0 && flip) {
      assert.deepEqual([...out], [30, 20, 10, 60, 50, 40]);
      seen.add('flip');
    }
    if (dy === 1 && dx === 0 && !flip) {
      assert.deepEqual([...out], [40, 50, 60, 0, 0, 0]);
      seen.add('shift');
    }
  }
  assert.equal(seen.size, 2);
});

test('writeShifted matches a pixel-by-pixel reference for every shift, flip and edge mode, 1 and 3 channels', () => {
  for (const channels of [1, 3]) {
    const shape = { height: 4, width: 5, channels };
    const size = 4 * 5 * channels;
    const images = Uint8Array.from({ length: 2 * size }, (_, i) => (i * 37 + 11) % 256);
    const lut = normalizationTable({
      mean: [0.1, 0.5, 0.9].slice(0, channels),
      std: [0.3, 0.2, 0.1].slice(0, channels),
    });
    // The plain definition: output pixel (y, x) is source pixel (y + dy, x' + dx), x' mirrored when flipped.
    const reference = (view: { dy: number; dx: number; flip: boolean }, reflect: boolean) => {
      const out = new Float32Array(size);
      const at = (i: number, n: number) => {
        if (!reflect) return i;
        const r = i < 0 ? -i : i >= n ? 2 * n - 2 - i : i;
        return r < 0 ? 0 : r >= n ? n - 1 : r;
      };
      for (let y = 0; y < 4; y++)
        for (let x = 0; x < 5; x++) {
          const sy = at(y + view.dy, 4);
          const sx = at((view.flip ? 4 - x : x) + view.dx, 5);
          for (let c = 0; c < channels; c++)
            out[(y * 5 + x) * channels + c] =
              sy < 0 || sy >= 4 || sx < 0 || sx >= 5 ? 0 : lut[c * 256 + images[size + (sy * 5 + sx) * channels + c]!]!;
        }
      return out;
    };
    for (let dy = -5; dy <= 5; dy++)
      for (let dx = -6; dx <= 6; dx++)
        for (const flip of [false, true])
          for (const reflect of [false, true]) {
            const out = new Float32Array(size + 4).fill(7);
            writeShifted(out, 2, images, size, shape, lut, { dy, dx, flip }, reflect);
            const where = `dy ${dy} dx ${dx} flip ${flip} reflect ${reflect} channels ${channels}`;
            assert.deepEqual([...out.subarray(2, 2 + size)], [...reference({ dy, dx, flip }, reflect)], where);
            assert.deepEqual([out[0], out[1], out[size + 2], out[size + 3]], [7, 7, 7, 7], `${where}: wrote outside`);
          }
  }
});

test('fillImages with reflect mirrors the image at its edge where a translation brings pixels in', () => {
  // five equal rows: a vertical shift changes nothing, the first row shows the horizontal one
  const shape = { height: 5, width: 4, channels: 1 };
  const images = new Uint8Array(Array.from({ length: 5 }, () => [10, 20, 30, 40]).flat());
  const lut = normalizationTable({ mean: [0], std: [1 / 255] });
  const seen = new Set<number>();
  for (let seed = 0; seed < 200 && seen.size < 5; seed++) {
    const { dx, flip } = drawAugmentation({ rng: new Mulberry32(seed), pad: 2, flip: false });
    assert.equal(flip, false);
    const out = new Float32Array(20);
    fillImages(out, images, shape, lut, null, 0, 1, { rng: new Mulberry32(seed), pad: 2, flip: false, reflect: true });
    const want: Record<number, number[]> = {
      [-2]: [30, 20, 10, 20],
      [-1]: [20, 10, 20, 30],
      0: [10, 20, 30, 40],
      1: [20, 30, 40, 30],
      2: [30, 40, 30, 20],
    };
    assert.deepEqual([...out.subarray(0, 4)], want[dx], `dx ${dx}`);
    assert.deepEqual([...out.subarray(16)], want[dx], `dx ${dx}, last row`);
    seen.add(dx);
  }
  assert.equal(seen.size, 5);
});

test('the alternating flip mirrors each image in exactly one of every two epochs, from a seeded first side', () => {
  const shape = { height: 1, width: 2, channels: 1 };
  const images = new Uint8Array(Array.from({ length: 64 }, (_, i) => [2 * i, 2 * i + 1]).flat());
  const lut = normalizationTable({ mean: [0], std: [1 / 255] });
  const bits = flipBits(32, new Mulberry32(5));
  assert.deepEqual(bits, flipBits(32, new Mulberry32(5)));
  assert.ok(bits.includes(0) && bits.includes(1));
  const mirrored = (epoch: number) => {
    const out = new Float32Array(64);
    fillImages(out, images, shape, lut, null, 0, 32, {
      rng: new Mulberry32(1),
      pad: 0,
      flip: false,
      alternate: { flipBits: bits, epoch },
    });
    return Array.from({ length: 32 }, (_, i) => (out[2 * i]! > out[2 * i + 1]! ? 1 : 0));
  };
  assert.deepEqual(mirrored(0), [...bits]);
  assert.deepEqual(
    mirrored(1),
    [...bits].map((b) => 1 - b),
  );
  assert.deepEqual(mirrored(2), mirrored(0));
});

test('airbench schedule and Lookahead decay follow airbench94', () => {
  // 100 steps, 23 of warm-up: 0.2x at the start, 1x at the end of warm-up, 0.07x after the last step
  assert.equal(airbenchLr(1, 0, 100, 23), 0.2);
  assert.ok(Math.abs(airbenchLr(1, 23, 100, 23) - 1) < 1e-12);
  assert.ok(Math.abs(airbenchLr(2, 100, 100, 23) - 0.14) < 1e-12);
  assert.ok(airbenchLr(1, 11, 100, 23) > 0.2 && airbenchLr(1, 11, 100, 23) < 1);
  assert.equal(lookaheadDecay(0, 100), 0);
  assert.ok(Math.abs(lookaheadDecay(100, 100) - 0.95 ** 5) < 1e-12);
  // every 5,120 images, airbench94's 5 steps of 1,024: 40 steps of 128, 1 step of 8,192
  assert.deepEqual([1024, 128, 100, 16, 8192].map(lookaheadEvery), [5, 40, 51, 320, 1]);
  assert.deepEqual(
    [1, 39, 40, 41, 80].map((s) => lookaheadDue(s, 40, false)),
    [false, false, true, false, true],
  );
  assert.equal(lookaheadDue(7, 40, true), true);
});

test('fillImages and fillOneHot follow the given order', () => {
  const shape = { height: 1, width: 1, channels: 1 };
  const lut = normalizationTable({ mean: [0], std: [1 / 255] });
  const out = new Float32Array(2);
  fillImages(out, new Uint8Array([1, 2, 3]), shape, lut, [2, 0, 1], 1, 2);
  assert.deepEqual([...out], [1, 2]);
  const y = new Float32Array(6);
  fillOneHot(y, new Uint8Array([0, 2, 1]), 3, [1, 0], 0, 2);
  assert.deepEqual([...y], [0, 0, 1, 1, 0, 0]);
});

test('classification metrics match hand-computed values', () => {
  const m = confusionMatrix([0, 0, 0, 1, 1, 2], [0, 0, 1, 1, 2, 2], 3);
  assert.deepEqual(m, [
    [2, 1, 0],
    [0, 1, 1],
    [0, 0, 1],
  ]);
  const c = classification(m);
  assert.equal(c.accuracy, 4 / 6);
  assert.deepEqual(
    c.per_class.map((x) => x.support),
    [3, 2, 1],
  );
  assert.equal(c.per_class[0]!.precision, 1);
  assert.equal(c.per_class[0]!.recall, 2 / 3);
  assert.equal(c.per_class[1]!.precision, 0.5);
  assert.equal(c.per_class[2]!.f1, (2 * 0.5 * 1) / 1.5);
  assert.equal(c.macro_recall, (2 / 3 + 0.5 + 1) / 3);
  const empty = classification(confusionMatrix([0, 0], [0, 0], 2));
  assert.deepEqual(empty.per_class[1], { precision: 0, recall: 0, f1: 0, support: 0 });
});

/** params.yaml text made from a plain object, read the way the stages read it. */
const paramsOf = (doc: Record<string, unknown>) => ParamsFile.parse(stringifyYaml(doc));

test('params: defaults, and one-line errors naming the param and its line', () => {
  const p = trainParams(paramsOf({ seed: 1 }));
  assert.equal(p.model, 'seed');
  assert.equal(p.batch_size, 128);
  assert.equal(evaluateParams(paramsOf({})).samples, 64);
  assert.equal(evaluateParams(paramsOf({})).tta, 'none');
  assert.equal(evaluateParams(paramsOf({ evaluate: { tta: 'flip' } })).tta, 'flip');
  assert.throws(
    () => evaluateParams(paramsOf({ evaluate: { tta: 'crop' } })),
    /^StageError: params\.yaml:2:8: evaluate\.tta: unknown value "crop"$/,
  );
  assert.deepEqual([p.optimizer, p.schedule, p.weight_decay, p.label_smoothing], ['adam', 'plateau', 0, 0]);
  const bad: [Record<string, unknown>, string][] = [
    [{ train: { model: 'big' } }, 'params.yaml: train.model: unknown value "big"'],
    [{ train: { lr: 0 } }, 'params.yaml: train.lr: expected a positive number, got 0'],
    [{ train: { lr_factor: 2 } }, 'params.yaml: train.lr_factor: expected a number in (0, 1], got 2'],
    [{ train: { augment: 'yes' } }, 'params.yaml: train.augment: expected true or false, got "yes"'],
    [{ seed: 1.5 }, 'params.yaml: seed: expected an integer, got 1.5'],
    [{ train: { batchsize: 3 } }, 'params.yaml: train.batchsize: unknown param'],
    [{ train: { optimizer: 'rmsprop' } }, 'params.yaml: train.optimizer: unknown value "rmsprop"'],
    [{ train: { momentum: 1 } }, 'params.yaml: train.momentum: expected a number in [0, 1), got 1'],
    [{ train: { schedule: 'cosine' } }, 'params.yaml: train.schedule: unknown value "cosine"'],
    [{ train: { label_smoothing: 1 } }, 'params.yaml: train.label_smoothing: expected a number in [0, 1), got 1'],
    [{ train: { weight_decay: -1 } }, 'params.yaml: train.weight_decay: expected a non-negative number, got -1'],
    [{ train: { translate: 9 } }, 'params.yaml: train.translate: expected an integer 0-8, got 9'],
    [{ train: { pad_mode: 'edge' } }, 'params.yaml: train.pad_mode: unknown value "edge"'],
    [{ train: { flip: 'never' } }, 'params.yaml: train.flip: unknown value "never"'],
    [{ train: { lookahead: 1 } }, 'params.yaml: train.lookahead: expected true or false, got 1'],
    [
      { train: { bn_bias_lr_scale: 64 } },
      'params.yaml: train.bn_bias_lr_scale: a rate multiple needs train.optimizer: sgd (Adam divides the ' +
        "gradient's scale out), got train.optimizer: adam",
    ],
    [
      { train: { schedule: 'airbench', epochs: 2, warmup_epochs: 2 } },
      'params.yaml: train.warmup_epochs: 2 leaves no epoch to anneal in (train.epochs is 2)',
    ],
    [
      { train: { schedule: 'onecycle', epochs: 2, warmup_epochs: 2 } },
      'params.yaml: train.warmup_epochs: 2 leaves no epoch to anneal in (train.epochs is 2)',
    ],
  ];
  for (const [doc, message] of bad)
    assert.throws(
      () => trainParams(paramsOf(doc)),
      (e: unknown) =>
        e instanceof StageError && e.message.replace(/^params\.yaml:\d+:\d+:/, 'params.yaml:') === message,
      message,
    );
});

test('prepared reader checks sizes against meta.json', async () => {
  const dir = await tempDir('lockstep-prepared-');
  await writeFixture(dir, { size: 4, counts: { train: 8, val: 4, test: 4 } });
  const meta = await readMeta(dir);
  const train = await readSplit(dir, meta, 'train');
  assert.equal(train.count, 8);
  assert.equal(train.images.length, 8 * 4 * 4 * 3);
  assert.equal(train.ids[0]!.path, 'data/raw/red/fx-00000.png');
  await fs.writeFile(path.join(dir, 'test.labels.u8'), new Uint8Array([0, 1, 9, 0]));
  await assert.rejects(
    readSplit(dir, meta, 'test'),
    /test\.labels\.u8: label 9 at index 2 is not a class index \(4 classes\)/,
  );
  await fs.appendFile(path.join(dir, 'val.ids.tsv'), 'extra\tline\n');
  await assert.rejects(readSplit(dir, meta, 'val'), /val\.ids\.tsv: 5 lines, expected 4/);
  await fs.writeFile(path.join(dir, 'meta.json'), '{"height": 4}');
  await assert.rejects(readMeta(dir), /meta\.json: expected positive integers height, width and channels/);
});

test('afterEpoch: lr decays after lr_patience epochs without val-loss improvement, down to min_lr', () => {
  const p = {
    schedule: 'plateau' as const,
    lr_factor: 0.5,
    lr_patience: 2,
    min_lr: 0.0002,
    early_stopping_patience: 0,
  };
  let s = {
    lr: 0.001,
    bestValAcc: -1,
    bestEpoch: 0,
    bestValLoss: Infinity,
    plateauWait: 0,
    stopWait: 0,
    stopped: false,
  };
  const losses = [1.0, 0.9, 0.89995, 0.95, 0.95, 0.95, 0.95, 0.95, 0.95];
  const lrs: number[] = [];
  losses.forEach((loss, i) => {
    s = afterEpoch(s, i + 1, loss, 0.5, p).state;
    lrs.push(s.lr);
  });
  // 0.89995 is within min_delta of 0.9: not an improvement.
  assert.deepEqual(lrs, [0.001, 0.001, 0.001, 0.0005, 0.0005, 0.00025, 0.00025, 0.0002, 0.0002]);
  assert.equal(s.bestValLoss, 0.9);
  assert.equal(s.stopped, false, 'patience 0 never stops');
});

test('afterEpoch: early stopping on val accuracy keeps the best epoch', () => {
  const p = { schedule: 'plateau' as const, lr_factor: 0.5, lr_patience: 100, min_lr: 0, early_stopping_patience: 2 };
  let s = {
    lr: 0.001,
    bestValAcc: -1,
    bestEpoch: 0,
    bestValLoss: Infinity,
    plateauWait: 0,
    stopWait: 0,
    stopped: false,
  };
  const best: boolean[] = [];
  for (const [i, acc] of [0.5, 0.6, 0.6, 0.55].entries()) {
    const r = afterEpoch(s, i + 1, 1, acc, p);
    s = r.state;
    best.push(r.isBest);
  }
  assert.deepEqual(best, [true, true, false, false]);
  assert.equal(s.bestEpoch, 2);
  assert.equal(s.bestValAcc, 0.6);
  assert.equal(s.stopped, true);
});

test('oneCycleLr: a linear ramp to the peak over the warm-up steps, then linear down to 0 at the end', () => {
  const lrs = Array.from({ length: 10 }, (_, step) => oneCycleLr(1, step, 10, 4));
  assert.deepEqual(
    lrs.map((x) => Number(x.toFixed(4))),
    [0.25, 0.5, 0.75, 1, 1, 0.8333, 0.6667, 0.5, 0.3333, 0.1667],
  );
  assert.equal(oneCycleLr(0.2, 0, 10, 0), 0.2, 'no warm-up starts at the peak');
});

test('afterEpoch under onecycle never touches the rate but still stops early and tracks the best epoch', () => {
  const p = { schedule: 'onecycle' as const, lr_factor: 0.5, lr_patience: 1, min_lr: 0, early_stopping_patience: 2 };
  let s = { lr: 0.1, bestValAcc: -1, bestEpoch: 0, bestValLoss: Infinity, plateauWait: 0, stopWait: 0, stopped: false };
  for (const [i, acc] of [0.5, 0.4, 0.4].entries()) s = afterEpoch(s, i + 1, 2, acc, p).state;
  assert.equal(s.lr, 0.1);
  assert.equal(s.bestEpoch, 1);
  assert.equal(s.stopped, true);
});

test('fillOneHot with label smoothing spreads epsilon over the classes', () => {
  const out = new Float32Array(8);
  fillOneHot(out, new Uint8Array([2, 0]), 4, null, 0, 2, 0.2);
  assert.deepEqual(
    [...out].map((x) => Number(x.toFixed(4))),
    [0.05, 0.05, 0.85, 0.05, 0.85, 0.05, 0.05, 0.05],
  );
  fillOneHot(out, new Uint8Array([1]), 4, null, 0, 1);
  assert.deepEqual([...out.subarray(0, 4)], [0, 1, 0, 0]);
});

test('mirrorImages flips every row of every image left to right, channels kept together', () => {
  // two images of 1x3 pixels, 2 channels
  const buf = Float32Array.from([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
  mirrorImages(buf, 2, { height: 1, width: 3, channels: 2 });
  assert.deepEqual([...buf], [5, 6, 3, 4, 1, 2, 11, 12, 9, 10, 7, 8]);
});

test('backendLine: what runs and why auto skipped a faster backend, in one line', () => {
  assert.equal(backendLine({ name: 'node', tfBackend: 'tensorflow', notes: [] }), 'backend: node');
  assert.equal(
    backendLine({ name: 'node', tfBackend: 'tensorflow', onednn: true, notes: [] }),
    'backend: node (oneDNN)',
  );
  assert.equal(
    backendLine({ name: 'wasm', tfBackend: 'wasm', simd: true, threads: 2, notes: ['tfjs-node is not installed'] }),
    'backend: wasm (simd, 2 threads); tfjs-node is not installed',
  );
});

test('backendIdentity: oneDNN on tfjs-node changes the numbers, so a checkpoint fingerprint tells them apart', () => {
  assert.equal(backendIdentity({ name: 'node', tfBackend: 'tensorflow', onednn: true, notes: [] }), 'node+onednn');
  assert.equal(backendIdentity({ name: 'node', tfBackend: 'tensorflow', onednn: false, notes: [] }), 'node');
  // So does libtensorflow's version.
  assert.equal(
    backendIdentity({ name: 'node', tfBackend: 'tensorflow', onednn: true, library: '2.18.0', notes: [] }),
    'node+onednn+tf2.18.0',
  );
  // wasm's thread count does not change its results, so it is not part of the identity
  assert.equal(backendIdentity({ name: 'wasm', tfBackend: 'wasm', simd: true, threads: 2, notes: [] }), 'wasm');
});

test('the preset scripts set only params that params.yaml has, to values the stages accept', async () => {
  const { parse } = await import('yaml');
  const base = parse(await fs.readFile('params.yaml', 'utf8')) as Record<string, Record<string, unknown>>;
  for (const script of ['scripts/preset-85.sh', 'scripts/preset-91.sh']) {
    const text = await fs.readFile(script, 'utf8');
    const sets = [...text.matchAll(/-S ([a-z_]+)\.([a-z_]+)=(\S+)/g)];
    assert.ok(sets.length > 5, `${script}: its -S settings`);
    const doc = structuredClone(base);
    for (const [, section, key, raw] of sets) {
      assert.ok(
        key! in (doc[section!] ?? {}),
        `${script}: ${section}.${key} is not in params.yaml (exp run refuses it)`,
      );
      doc[section!]![key!] = parse(raw!);
    }
    const file = paramsOf(doc);
    assert.doesNotThrow(() => trainParams(file), script);
    assert.doesNotThrow(() => evaluateParams(file), script);
  }
});
