/**
 * The static pictures evaluate writes, drawn as Vega-Lite charts: rendered to SVG by vega's own
 * renderer (headless, renderer 'none') and to PNG by resvg (@resvg/resvg-js), with system fonts.
 *
 * The engine's `plots show` draws the same confusion matrix from results/predictions.csv in the
 * browser (src/plots/vega.ts). The small spec is written twice on purpose: stages/ never imports
 * src/ (the engine must not depend on one pipeline's programs, nor they on the engine), and this one
 * differs anyway (class order from the data set, accuracy in the title, a fixed size for a PNG).
 */
import { PNG } from 'pngjs';

const FONT = 'DejaVu Sans';

/** A Vega-Lite spec -> SVG text, by vega's own renderer (no browser, no canvas). */
export async function chartSvg(spec: Record<string, unknown>): Promise<string> {
  const [vega, vl] = await Promise.all([import('vega'), import('vega-lite')]);
  const withFont = { ...spec, config: { font: FONT, ...(spec.config as object | undefined) } };
  const view = new vega.View(vega.parse(vl.compile(withFont as never).spec), { renderer: 'none' });
  const svg = await view.toSVG();
  view.finalize();
  return svg;
}

/** A Vega-Lite spec -> PNG bytes (zoom 2 for crisp text). Loads vega and resvg on first use. */
export async function chartPng(spec: Record<string, unknown>, zoom = 2): Promise<Buffer> {
  const { Resvg } = await import('@resvg/resvg-js');
  const svg = await chartSvg(spec);
  const png = new Resvg(svg, {
    fitTo: { mode: 'zoom', value: zoom },
    background: 'white',
    font: { loadSystemFonts: true, defaultFontFamily: FONT, sansSerifFamily: FONT },
  })
    .render()
    .asPng();
  return Buffer.from(png);
}

/** Rows = true class, columns = predicted class; colour = share of the true class, text = count. */
export function confusionSpec(matrix: number[][], classes: string[], accuracy: number): Record<string, unknown> {
  const values = matrix.flatMap((row, t) => {
    const total = row.reduce((a, b) => a + b, 0);
    return row.map((count, p) => ({
      truth: classes[t] ?? String(t),
      predicted: classes[p] ?? String(p),
      count,
      share: total ? count / total : 0,
    }));
  });
  const order = classes.slice(0, matrix.length);
  return {
    title: {
      text: `Confusion matrix, test split: accuracy ${(accuracy * 100).toFixed(1)}%`,
      subtitle: 'rows: true class, columns: predicted class; colour: share of the true class',
    },
    data: { values },
    width: 44 * order.length,
    height: 44 * order.length,
    encoding: {
      x: { field: 'predicted', type: 'nominal', sort: order, title: 'predicted class', axis: { labelAngle: -40 } },
      y: { field: 'truth', type: 'nominal', sort: order, title: 'true class' },
    },
    layer: [
      {
        mark: 'rect',
        encoding: {
          color: {
            field: 'share',
            type: 'quantitative',
            scale: { domain: [0, 1], scheme: 'blues' },
            title: 'share',
            legend: { format: '.0%' },
          },
        },
      },
      {
        mark: { type: 'text', fontSize: 11 },
        encoding: {
          text: { field: 'count', type: 'quantitative' },
          color: { condition: { test: 'datum.share > 0.5', value: 'white' }, value: 'black' },
        },
      },
    ],
  };
}

export interface SampleTile {
  /** Offset of the image in the HWC uint8 buffer. */
  offset: number;
  trueLabel: number;
  predLabel: number;
}

/** One test image as a PNG data URL. */
function tileUrl(images: Uint8Array, shape: { height: number; width: number; channels: number }, offset: number) {
  const { height: H, width: W, channels: C } = shape;
  const png = new PNG({ width: W, height: H });
  for (let i = 0; i < H * W; i++) {
    const p = offset + i * C;
    png.data[i * 4] = images[p] ?? 0;
    png.data[i * 4 + 1] = images[C >= 3 ? p + 1 : p] ?? 0;
    png.data[i * 4 + 2] = images[C >= 3 ? p + 2 : p] ?? 0;
    png.data[i * 4 + 3] = 255;
  }
  return `data:image/png;base64,${PNG.sync.write(png).toString('base64')}`;
}

/**
 * A grid of test images, each framed green (right) or red (wrong), with its true class and the
 * prediction beneath it; the legend says which line is which.
 */
export function samplesSpec(
  images: Uint8Array,
  shape: { height: number; width: number; channels: number },
  tiles: SampleTile[],
  classes: string[],
  accuracy: number,
): Record<string, unknown> {
  const cols = Math.max(1, Math.ceil(Math.sqrt(tiles.length)));
  const size = 72;
  const cellW = size + 60;
  const cellH = size + 36;
  const values = tiles.map((t, i) => ({
    col: i % cols,
    row: Math.floor(i / cols),
    url: tileUrl(images, shape, t.offset),
    truth: `true: ${classes[t.trueLabel] ?? t.trueLabel}`,
    predicted: `pred: ${classes[t.predLabel] ?? t.predLabel}`,
    result: t.trueLabel === t.predLabel ? 'right' : 'wrong',
  }));
  const rows = Math.max(1, Math.ceil(tiles.length / cols));
  const x = { field: 'col', type: 'quantitative', scale: { domain: [-0.5, cols - 0.5] }, axis: null };
  const y = { field: 'row', type: 'quantitative', scale: { domain: [rows - 0.5, -0.5] }, axis: null };
  const color = {
    field: 'result',
    type: 'nominal',
    scale: { domain: ['right', 'wrong'], range: ['#1a9850', '#d73027'] },
    title: 'prediction',
  };
  return {
    title: {
      text: `Test images and predictions (first ${tiles.length}; test accuracy ${(accuracy * 100).toFixed(1)}%)`,
      subtitle:
        'under each image: its true class (true), then the predicted class (pred); frame: green right, red wrong',
    },
    width: cols * cellW,
    height: rows * cellH,
    data: { values },
    config: { view: { stroke: null } },
    encoding: { x, y },
    layer: [
      {
        mark: { type: 'square', size: (size + 8) ** 2, filled: true, yOffset: -12 },
        encoding: { color },
      },
      { mark: { type: 'image', width: size, height: size, yOffset: -12 }, encoding: { url: { field: 'url' } } },
      { mark: { type: 'text', yOffset: size / 2 + 2, fontSize: 10 }, encoding: { text: { field: 'truth' } } },
      {
        mark: { type: 'text', yOffset: size / 2 + 14, fontSize: 10, fontWeight: 'bold' },
        encoding: { text: { field: 'predicted' }, color },
      },
    ],
  };
}

/** Per-class scores as rows (plots/per_class.json): what `plots show` draws as bars. */
export function perClassRows(
  classes: string[],
  perClass: Array<{ precision: number; recall: number; f1: number; support: number }>,
): Array<Record<string, string | number>> {
  return classes.map((c, i) => {
    const m = perClass[i] ?? { precision: 0, recall: 0, f1: 0, support: 0 };
    return { class: c, precision: m.precision, recall: m.recall, f1: m.f1, support: m.support };
  });
}
