/**
 * Champion and challenger on the project's real stages and real images: the project's pipeline.yaml and
 * .lockstep/config.yaml, its pull stage reading a folder of Fashion-MNIST PNGs that grows (Debian's
 * dataset-fashion-mnist; skipped when absent), the tiny model on the cpu backend. `retrain
 * --if-data-changed` trains and promotes the first version, does nothing on unchanged data, and on grown
 * data retrains, scores the champion again with the real evaluate stage on the new test set and decides
 * by the rule on those two numbers.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, promises as fs } from 'node:fs';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { REPO_ROOT, copyTree, tempProject } from '../helpers/project.js';
import { tempDir } from '../helpers/tmp.js';
import { encodePng } from '../../stages/lib/data/png.js';

const ROOT = '/usr/share/datasets/fashion-mnist';
const CLASSES = ['t-shirt', 'trouser', 'pullover', 'dress', 'coat', 'sandal', 'shirt', 'sneaker', 'bag', 'ankle-boot'];

interface Decision {
  challenger: { exp: string; value: number; testSet: string | null; version?: string };
  champion: { version: string; value: number; recorded: number | null; testSet: string | null; rescored: boolean };
  promoted: boolean;
  reason: string;
}

interface Retrained {
  ran: boolean;
  knownAs: string | null;
  data: { md5: string };
  experiment?: { name: string; state: string };
  decision?: Decision;
}

test('retrain on the real stages: a grown image folder is trained on, the champion is scored again on the new \
test set, and the rule decides', {
  skip:
    !existsSync(path.join(ROOT, 'train-images-idx3-ubyte.gz')) &&
    `${ROOT} is absent (apt-get install dataset-fashion-mnist)`,
  timeout: 900_000,
}, async () => {
  const images = gunzipSync(await fs.readFile(path.join(ROOT, 'train-images-idx3-ubyte.gz'))).subarray(16);
  const labels = gunzipSync(await fs.readFile(path.join(ROOT, 'train-labels-idx1-ubyte.gz'))).subarray(8);
  const source = await tempDir('lockstep-model-real-source-');
  let written = 0;
  /** The folder grows to the first n images of the real training set, as <class>/<index>.png. */
  const grow = async (n: number) => {
    for (; written < n; written++) {
      const dir = path.join(source, CLASSES[labels[written]!]!);
      await fs.mkdir(dir, { recursive: true });
      const px = images.subarray(written * 784, (written + 1) * 784);
      await fs.writeFile(path.join(dir, `${String(written).padStart(5, '0')}.png`), encodePng(px, 28, 28, 1));
    }
  };

  const files: Record<string, Uint8Array> = {};
  await copyTree(REPO_ROOT, 'stages', files);
  const params = [
    'seed: 42',
    'data: v1',
    'pull:',
    '  dataset: folder',
    `  path: ${source}`,
    'partition:',
    '  size: 240',
    '  seed: 7',
    '  count: 1',
    'prepare:',
    '  split: {train: 0.7, val: 0.1, test: 0.2}',
    '  split_seed: 42',
    'train: {model: tiny, backend: cpu, epochs: 2, batch_size: 32}',
    'evaluate: {samples: 4, backend: cpu, batch_size: 100}',
    '',
  ].join('\n');
  const p = await tempProject({
    ...files,
    'pipeline.yaml': await fs.readFile(path.join(REPO_ROOT, 'pipeline.yaml'), 'utf8'),
    '.lockstep/config.yaml': await fs.readFile(path.join(REPO_ROOT, '.lockstep/config.yaml'), 'utf8'),
    'params.yaml': params,
    '.gitignore': '/node_modules\n/.cache/\n/data/\n/models/\n/results/\n/metrics/\n/plots/\n.lockstep/tmp/\n',
    'package.json': JSON.stringify({ type: 'module', private: true }),
  });
  // the stage programs import tsx, yaml, pngjs, tfjs… from the project, as in a real checkout
  await fs.symlink(path.join(REPO_ROOT, 'node_modules'), path.join(p.dir, 'node_modules'));

  const retrain = async (): Promise<Retrained> => {
    const r = await p.run(['retrain', '--if-data-changed', '--json'], { timeout: 600_000 });
    assert.equal(r.exitCode, 0, r.all);
    return JSON.parse(r.stdout) as Retrained;
  };
  const prod = async () => {
    const r = await p.run(['model', 'show', 'cifar10-cnn#prod', '--json']);
    assert.equal(r.exitCode, 0, r.all);
    return (JSON.parse(r.stdout) as { versions: Array<{ version: string }> }).versions[0]!.version;
  };

  await grow(300);
  const first = await retrain();
  assert.equal(first.ran, true);
  assert.equal(first.experiment?.state, 'success');
  assert.equal(first.decision?.promoted, true, first.decision?.reason);
  assert.equal(first.decision?.champion, null);
  assert.ok(first.decision!.challenger.value > 0.2, `above chance on real images: ${first.decision!.challenger.value}`);
  assert.equal(await prod(), 'v0.1.0');

  const same = await retrain();
  assert.deepEqual([same.ran, same.knownAs, same.data.md5], [false, 'v0.1.0', first.data.md5]);

  await grow(450);
  const grown = await retrain();
  assert.equal(grown.ran, true);
  assert.notEqual(grown.data.md5, first.data.md5);
  const d = grown.decision!;
  assert.equal(d.champion.version, 'v0.1.0');
  assert.equal(d.champion.rescored, true, 'the champion was scored on other images: scored again');
  assert.equal(d.champion.recorded, first.decision!.challenger.value);
  assert.equal(d.champion.testSet, first.decision!.challenger.testSet, 'the test set the champion was recorded on');
  assert.notEqual(d.challenger.testSet, d.champion.testSet, 'grown data, another test set');
  // The rule on the two numbers, whichever way the real training went.
  assert.equal(d.promoted, Number((d.challenger.value - d.champion.value).toFixed(12)) >= 0.002, d.reason);
  assert.equal(await prod(), d.promoted ? d.challenger.version : 'v0.1.0');

  const served = await p.run(['model', 'get', 'cifar10-cnn#prod', '-o', 'served']);
  assert.equal(served.exitCode, 0, served.all);
  assert.ok((await fs.readdir(path.join(p.dir, 'served'))).length > 0);
});
