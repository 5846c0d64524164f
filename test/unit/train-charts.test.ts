import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PNG } from 'pngjs';
import { chartPng, chartSvg, confusionSpec, perClassRows, samplesSpec } from '../../stages/lib/ml/charts.js';

const texts = (svg: string) => [...svg.matchAll(/<text[^>]*>([^<]*)<\/text>/g)].map((m) => m[1]);

test('confusion matrix picture: title with the accuracy, axis titles, class names, a count per cell', async () => {
  const spec = confusionSpec(
    [
      [5, 1],
      [0, 4],
    ],
    ['cat', 'dog'],
    0.9,
  );
  const words = texts(await chartSvg(spec));
  for (const w of ['Confusion matrix, test split: accuracy 90.0%', 'true class', 'predicted class', 'cat', 'dog'])
    assert.ok(words.includes(w), `'${w}' is drawn (got ${words.join(' | ')})`);
  for (const n of ['5', '1', '0', '4']) assert.ok(words.includes(n), `count ${n} is drawn`);
  const png = PNG.sync.read(await chartPng(spec));
  assert.ok(png.width > 300 && png.height > 200, `${png.width}x${png.height}`);
  // not a blank picture: some dark pixels (text, full cells) on white
  let dark = 0;
  for (let i = 0; i < png.data.length; i += 4) if ((png.data[i] ?? 255) < 100) dark++;
  assert.ok(dark > 500, `${dark} dark pixels`);
});

test('sample grid picture: each image with its true and predicted class, a legend for the frame colours', async () => {
  const images = new Uint8Array(2 * 2 * 2 * 3);
  images.fill(100, 0, 12);
  images.fill(200, 12);
  const spec = samplesSpec(
    images,
    { height: 2, width: 2, channels: 3 },
    [
      { offset: 0, trueLabel: 0, predLabel: 0 },
      { offset: 12, trueLabel: 1, predLabel: 0 },
    ],
    ['cat', 'dog'],
    0.5,
  );
  const svg = await chartSvg(spec);
  const words = texts(svg);
  for (const w of ['true: cat', 'pred: cat', 'true: dog', 'prediction', 'right', 'wrong'])
    assert.ok(words.includes(w), `'${w}' is drawn (got ${words.join(' | ')})`);
  assert.equal((svg.match(/<image /g) ?? []).length, 2);
  const a = await chartPng(spec);
  assert.ok(a.equals(await chartPng(spec)), 'the same picture twice is the same bytes');
});

test('per-class rows for plots/per_class.json', () => {
  assert.deepEqual(perClassRows(['a'], [{ precision: 1, recall: 0.5, f1: 0.667, support: 4 }]), [
    { class: 'a', precision: 1, recall: 0.5, f1: 0.667, support: 4 },
  ]);
});
