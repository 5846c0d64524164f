import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, promises as fs } from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import { PNG } from 'pngjs';
import { computeHardExamples, renderHardExamplesHtml, THUMB_PX } from '../../src/report/index.js';
import type { HtmlImage } from '../../src/report/html.js';
import { CLASSES, run, solidPng, type Row } from './hard-examples-fixtures.js';
import { tempDir } from '../helpers/tmp.js';

type Rgb = [number, number, number];
const RED: Rgb = [220, 20, 60];
const GREEN: Rgb = [0, 200, 83];
const BLUE: Rgb = [30, 60, 230];

/** Three hard images with increasing mean p_true, so the page shows them red, green, blue. */
const ROWS: Row[] = [
  ['red', 'cat', 'dog', [0.1, 0.8, 0.1]],
  ['green', 'dog', 'frog', [0.1, 0.2, 0.7]],
  ['blue', 'frog', 'cat', [0.6, 0.1, 0.3]],
];
const report = computeHardExamples([run('a', CLASSES, ROWS), run('b', CLASSES, ROWS)], { minRate: 1, minRuns: 2 });
const images = new Map<string, HtmlImage>([
  ['red', { bytes: solidPng(RED) }],
  ['green', { bytes: solidPng(GREEN) }],
  ['blue', { bytes: solidPng(BLUE) }],
]);

function findChromium(): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    for (const name of ['chromium', 'chromium-browser']) {
      const file = path.join(dir, name);
      if (existsSync(file)) return file;
    }
  }
  return undefined;
}

async function screenshot(html: string, width: number, height: number): Promise<PNG> {
  const dir = await tempDir('lockstep-html-');
  const page = path.join(dir, 'page.html');
  const shot = path.join(dir, 'shot.png');
  await fs.writeFile(page, html);
  await execa(
    findChromium() as string,
    [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      `--user-data-dir=${path.join(dir, 'profile')}`,
      '--force-device-scale-factor=1',
      '--hide-scrollbars',
      `--window-size=${width},${height}`,
      `--screenshot=${shot}`,
      `file://${page}`,
    ],
    { timeout: 60_000 },
  );
  return PNG.sync.read(await fs.readFile(shot));
}

interface Box {
  left: number;
  top: number;
  right: number;
  bottom: number;
  pixels: number;
}

/** Bounding box of the pixels within a small tolerance of `rgb` (colour management may shift a unit or two). */
function boxOf(png: PNG, rgb: Rgb): Box | undefined {
  let box: Box | undefined;
  for (let y = 0; y < png.height; y++) {
    for (let x = 0; x < png.width; x++) {
      const i = (y * png.width + x) * 4;
      const close = [0, 1, 2].every((c) => Math.abs((png.data[i + c] as number) - (rgb[c] as number)) <= 6);
      if (!close) continue;
      box ??= { left: x, top: y, right: x, bottom: y, pixels: 0 };
      box.left = Math.min(box.left, x);
      box.right = Math.max(box.right, x);
      box.top = Math.min(box.top, y);
      box.bottom = Math.max(box.bottom, y);
      box.pixels++;
    }
  }
  return box;
}

test('page text: labels, figures, escaping, top limit, placeholder for a missing image', () => {
  const html = renderHardExamplesHtml(
    report,
    2,
    new Map([
      ['red', { bytes: solidPng(RED) }],
      ['green', { bytes: null, why: 'x <missing>' }],
    ]),
  );
  assert.equal((html.match(/<figure /g) ?? []).length, 2, '--top 2 shows two images');
  assert.match(html, /<span class="true">cat<\/span> → <span class="wrong">dog <small>\(2×\)<\/small><\/span>/);
  assert.match(html, /<div title="missed by a, b">missed 2\/2 \(100%\)<\/div>/);
  assert.match(html, /p<sub>true<\/sub> 0\.100 ± 0\.000/);
  assert.match(html, /title="x &lt;missing&gt;"/);
  assert.ok(!html.includes('<missing>'));
  assert.match(html, /image-rendering:pixelated/);
  assert.equal(
    renderHardExamplesHtml(report, 2, new Map()),
    renderHardExamplesHtml(report, 2, new Map()),
    'no timestamps: same bytes',
  );
});

test('headless Chromium renders the images upscaled, hardest first, left to right', {
  skip: findChromium() ? false : 'chromium is not installed (apt-get install -y chromium)',
}, async () => {
  const png = await screenshot(renderHardExamplesHtml(report, 48, images), 900, 700);
  const boxes = [RED, GREEN, BLUE].map((c) => boxOf(png, c));
  boxes.forEach((b, i) => {
    assert.ok(b, `colour ${i} is not in the screenshot`);
    const w = b.right - b.left + 1;
    const h = b.bottom - b.top + 1;
    assert.ok(
      Math.abs(w - THUMB_PX) <= 2 && Math.abs(h - THUMB_PX) <= 2,
      `image ${i} is ${w}x${h}, expected ${THUMB_PX}x${THUMB_PX}`,
    );
    assert.ok(b.pixels >= 0.9 * w * h, `image ${i} is not solid (${b.pixels} of ${w * h} pixels)`);
  });
  const [r, g, b] = boxes as Box[] as [Box, Box, Box];
  assert.ok(r.right < g.left && g.right < b.left, 'ranked left to right: red, green, blue');
  assert.ok(Math.abs(r.top - g.top) <= 1 && Math.abs(g.top - b.top) <= 1, 'one row');
});
