import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PNG } from 'pngjs';
import { confusionPng, samplesPng } from '../../stages/lib/ml/images.js';

const rgbAt = (png: PNG, x: number, y: number) => {
  const i = (y * png.width + x) * 4;
  return [png.data[i]!, png.data[i + 1]!, png.data[i + 2]!];
};

test('confusion heat map: a full diagonal is dark, empty cells are white', () => {
  const png = PNG.sync.read(
    confusionPng(
      [
        [5, 0],
        [0, 5],
      ],
      ['cat', 'dog'],
    ),
  );
  // Layout: 6 px padding + widest row label "1 DOG" at scale 2 + 6, then 24 px cells (counts < 10).
  const left = 5 * 4 * 2 - 2 + 12;
  const top = 22;
  const cell = 24;
  const corner = (r: number, c: number) => rgbAt(png, left + c * cell + 1, top + r * cell + 1);
  assert.deepEqual(corner(0, 0), [8, 48, 107]);
  assert.deepEqual(corner(1, 1), [8, 48, 107]);
  assert.deepEqual(corner(0, 1), [255, 255, 255]);
  assert.equal(png.width, left + 2 * cell + 4);
});

test('samples grid: green border for a right prediction, red for a wrong one, pixels upscaled', () => {
  const images = new Uint8Array(2 * 2 * 2 * 3);
  images.fill(100, 0, 12); // image 0: grey
  images.fill(200, 12); // image 1: light grey
  const png = PNG.sync.read(
    samplesPng(
      images,
      { height: 2, width: 2, channels: 3 },
      [
        { offset: 0, trueLabel: 0, predLabel: 0 },
        { offset: 12, trueLabel: 1, predLabel: 0 },
      ],
      ['a', 'b'],
    ),
  );
  // 2x2 images scale to 96 px (x48); tiles are 2 columns, 4 px gaps, 3 px borders.
  const tileW = 96 + 6;
  assert.equal(png.width, 2 * (tileW + 4) + 4);
  assert.deepEqual(rgbAt(png, 4 + 1, 4 + 1), [0, 170, 0]);
  assert.deepEqual(rgbAt(png, 4 + tileW + 4 + 1, 4 + 1), [220, 0, 0]);
  assert.deepEqual(rgbAt(png, 4 + 3 + 50, 4 + 3 + 50), [100, 100, 100]);
  assert.deepEqual(rgbAt(png, 4 + tileW + 4 + 3 + 50, 4 + 3 + 50), [200, 200, 200]);
});
