/**
 * Real data: 1,500 Fashion-MNIST training images from Debian's dataset-fashion-mnist, converted
 * into the prepared format here, trained for one short epoch on the best available backend.
 * Skipped when the package is not installed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, promises as fs } from 'node:fs';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { tempProject } from '../helpers/project.js';
import { runStageProgram } from '../helpers/stage.js';
import { writePrepared } from '../../stages/lib/ml/prepared.js';

const ROOT = '/usr/share/datasets/fashion-mnist';
const CLASSES = ['t-shirt', 'trouser', 'pullover', 'dress', 'coat', 'sandal', 'shirt', 'sneaker', 'bag', 'ankle-boot'];

/** IDX: big-endian magic (0x0000 type dims), dims as uint32, then the data. */
async function readIdx(file: string): Promise<{ dims: number[]; data: Uint8Array }> {
  const buf = gunzipSync(await fs.readFile(path.join(ROOT, file)));
  const ndim = buf[3]!;
  assert.equal(buf[2], 0x08, `${file}: expected unsigned byte data`);
  const dims = Array.from({ length: ndim }, (_, i) => buf.readUInt32BE(4 + 4 * i));
  return {
    dims,
    data: new Uint8Array(
      buf.buffer,
      buf.byteOffset + 4 + 4 * ndim,
      dims.reduce((a, b) => a * b, 1),
    ),
  };
}

function slice(images: Uint8Array, labels: Uint8Array, from: number, count: number, prefix: string) {
  const px = 28 * 28;
  return {
    images: images.slice(from * px, (from + count) * px),
    labels: labels.slice(from, from + count),
    ids: Array.from({ length: count }, (_, i) => {
      const id = `${prefix}-${String(from + i).padStart(5, '0')}`;
      return { id, path: `data/raw/${CLASSES[labels[from + i]!]}/${id}.png` };
    }),
  };
}

test('trains on real Fashion-MNIST images well above chance', {
  skip:
    !existsSync(path.join(ROOT, 'train-images-idx3-ubyte.gz')) &&
    `${ROOT} is absent (apt-get install dataset-fashion-mnist)`,
}, async (t) => {
  const [trainImages, trainLabels, testImages, testLabels] = await Promise.all(
    [
      'train-images-idx3-ubyte.gz',
      'train-labels-idx1-ubyte.gz',
      't10k-images-idx3-ubyte.gz',
      't10k-labels-idx1-ubyte.gz',
    ].map(readIdx),
  );
  assert.deepEqual(trainImages!.dims, [60000, 28, 28]);
  const p = await tempProject(
    {
      'params.yaml': `seed: 42
train:
  model: tiny
  backend: auto
  epochs: 1
  batch_size: 32
  lr: 0.003
  augment: false
evaluate:
  samples: 16
`,
    },
    { git: false },
  );
  await writePrepared(
    path.join(p.dir, 'data/prepared'),
    { height: 28, width: 28, channels: 1, classes: CLASSES },
    {
      train: slice(trainImages!.data, trainLabels!.data, 0, 1500, 'fmnist-train'),
      val: slice(trainImages!.data, trainLabels!.data, 1500, 300, 'fmnist-train'),
      test: slice(testImages!.data, testLabels!.data, 0, 1000, 'fmnist-test'),
    },
  );
  const train = await runStageProgram('train', p.dir, { timeout: 300_000 });
  assert.equal(train.exitCode, 0, train.all);
  assert.match(train.stdout, /^backend: (node|wasm|cpu)/m);
  assert.match(train.stdout, /images\/s/);
  const evaluate = await runStageProgram('evaluate', p.dir, { timeout: 300_000 });
  assert.equal(evaluate.exitCode, 0, evaluate.all);
  const metrics = JSON.parse(await p.read('metrics/eval.json'));
  assert.equal(metrics.test_images, 1000);
  t.diagnostic(`test accuracy ${metrics.accuracy}; ${train.stdout.match(/^done: .*$/m)?.[0] ?? ''}`);
  assert.ok(metrics.accuracy > 0.6, `test accuracy ${metrics.accuracy} (chance is 0.1)\n${train.stdout}`);
});
