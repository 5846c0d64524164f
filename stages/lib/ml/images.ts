/**
 * PNG renderings of evaluation results with pngjs: the confusion matrix as a heat map and a grid of
 * test images with green (right) / red (wrong) borders. Text is drawn with a built-in 3x5 pixel
 * font (digits, A-Z, a few signs), so no font files are needed.
 */
import { PNG } from 'pngjs';

type Rgb = readonly [number, number, number];

const GLYPHS: Record<string, string[]> = {
  '0': ['111', '101', '101', '101', '111'],
  '1': ['010', '110', '010', '010', '111'],
  '2': ['111', '001', '111', '100', '111'],
  '3': ['111', '001', '111', '001', '111'],
  '4': ['101', '101', '111', '001', '001'],
  '5': ['111', '100', '111', '001', '111'],
  '6': ['111', '100', '111', '101', '111'],
  '7': ['111', '001', '010', '010', '010'],
  '8': ['111', '101', '111', '101', '111'],
  '9': ['111', '101', '111', '001', '111'],
  '>': ['100', '010', '001', '010', '100'],
  A: ['010', '101', '111', '101', '101'],
  B: ['110', '101', '110', '101', '110'],
  C: ['011', '100', '100', '100', '011'],
  D: ['110', '101', '101', '101', '110'],
  E: ['111', '100', '110', '100', '111'],
  F: ['111', '100', '110', '100', '100'],
  G: ['011', '100', '101', '101', '011'],
  H: ['101', '101', '111', '101', '101'],
  I: ['111', '010', '010', '010', '111'],
  J: ['001', '001', '001', '101', '010'],
  K: ['101', '101', '110', '101', '101'],
  L: ['100', '100', '100', '100', '111'],
  M: ['101', '111', '111', '101', '101'],
  N: ['110', '101', '101', '101', '101'],
  O: ['010', '101', '101', '101', '010'],
  P: ['110', '101', '110', '100', '100'],
  Q: ['010', '101', '101', '110', '011'],
  R: ['110', '101', '110', '101', '101'],
  S: ['011', '100', '010', '001', '110'],
  T: ['111', '010', '010', '010', '010'],
  U: ['101', '101', '101', '101', '111'],
  V: ['101', '101', '101', '101', '010'],
  W: ['101', '101', '111', '111', '101'],
  X: ['101', '101', '010', '101', '101'],
  Y: ['101', '101', '010', '010', '010'],
  Z: ['111', '001', '010', '100', '111'],
  '-': ['000', '000', '111', '000', '000'],
  _: ['000', '000', '000', '000', '111'],
  '.': ['000', '000', '000', '000', '010'],
  ' ': ['000', '000', '000', '000', '000'],
  '?': ['111', '001', '010', '000', '010'],
};

class Canvas {
  readonly png: PNG;
  constructor(
    readonly width: number,
    readonly height: number,
    background: Rgb = [255, 255, 255],
  ) {
    this.png = new PNG({ width, height });
    this.fill(0, 0, width, height, background);
  }
  set(x: number, y: number, [r, g, b]: Rgb): void {
    if (x < 0 || y < 0 || x >= this.width || y >= this.height) return;
    const i = (y * this.width + x) * 4;
    this.png.data[i] = r;
    this.png.data[i + 1] = g;
    this.png.data[i + 2] = b;
    this.png.data[i + 3] = 255;
  }
  fill(x0: number, y0: number, w: number, h: number, c: Rgb): void {
    for (let y = y0; y < y0 + h; y++) for (let x = x0; x < x0 + w; x++) this.set(x, y, c);
  }
  /** Text in the 3x5 font (upper case; other characters as '?') at scale s; returns its width. */
  text(x0: number, y0: number, text: string, c: Rgb, s = 1): number {
    let x = x0;
    for (const ch of text.toUpperCase()) {
      const glyph = GLYPHS[ch] ?? GLYPHS['?']!;
      glyph.forEach((row, gy) => {
        for (let gx = 0; gx < 3; gx++) if (row[gx] === '1') this.fill(x + gx * s, y0 + gy * s, s, s, c);
      });
      x += 4 * s;
    }
    return x - x0 - s;
  }
  encode(): Buffer {
    return PNG.sync.write(this.png, { colorType: 6 });
  }
}

export const textWidth = (text: string, s: number) => Math.max(0, text.length * 4 * s - s);

/** White (0) to dark blue (1). */
function heat(t: number): Rgb {
  const u = Math.min(1, Math.max(0, t));
  return [Math.round(255 - 247 * u), Math.round(255 - 207 * u), Math.round(255 - 148 * u)];
}

/**
 * Rows = true class, columns = predicted class, in class-index order (the legend is in
 * confusion.json). Cell colour is the row-normalised share, so the diagonal reads as recall; each
 * cell shows its count.
 */
export function confusionPng(matrix: number[][], classes: string[]): Buffer {
  const k = matrix.length;
  const maxCount = Math.max(1, ...matrix.flat());
  const digits = String(maxCount).length;
  const scale = textWidth('0'.repeat(digits), 2) <= 40 ? 2 : 1;
  const cell = Math.max(24, textWidth('0'.repeat(digits), scale) + 8);
  // Rows are labelled "<index> <name>"; columns by index, which the row labels decode.
  const rowLabels = matrix.map((_, t) => `${t} ${classes[t] ?? ''}`.trimEnd());
  const left = Math.max(...rowLabels.map((l) => textWidth(l, 2))) + 12;
  const top = 22;
  const canvas = new Canvas(left + k * cell + 4, top + k * cell + 4);
  for (let t = 0; t < k; t++) {
    const row = matrix[t]!;
    const rowSum = row.reduce((a, b) => a + b, 0);
    const index = String(t);
    canvas.text(6, top + t * cell + Math.floor((cell - 10) / 2), rowLabels[t]!, [0, 0, 0], 2);
    canvas.text(left + t * cell + Math.floor((cell - textWidth(index, 2)) / 2), 6, index, [0, 0, 0], 2);
    for (let p = 0; p < k; p++) {
      const share = rowSum ? row[p]! / rowSum : 0;
      const x = left + p * cell;
      const y = top + t * cell;
      canvas.fill(x, y, cell - 1, cell - 1, heat(share));
      const count = String(row[p]!);
      const ink: Rgb = share > 0.5 ? [255, 255, 255] : [0, 0, 0];
      canvas.text(
        x + Math.floor((cell - 1 - textWidth(count, scale)) / 2),
        y + Math.floor((cell - 1 - 5 * scale) / 2),
        count,
        ink,
        scale,
      );
    }
  }
  return canvas.encode();
}

export interface SampleTile {
  /** Offset of the image in the HWC uint8 buffer. */
  offset: number;
  trueLabel: number;
  predLabel: number;
}

const GREEN: Rgb = [0, 170, 0];
const RED: Rgb = [220, 0, 0];

/**
 * A grid of test images, upscaled to about 96 px, each with a green (right) or red (wrong) border
 * and two caption lines beneath it: the true class, then the predicted one.
 */
export function samplesPng(
  images: Uint8Array,
  shape: { height: number; width: number; channels: number },
  tiles: SampleTile[],
  classes: string[],
): Buffer {
  const { height: H, width: W, channels: C } = shape;
  const scale = Math.max(1, Math.floor(96 / Math.max(H, W)));
  const border = 3;
  const caption = 26;
  const tileW = W * scale + 2 * border;
  const tileH = H * scale + 2 * border + caption;
  const cols = Math.max(1, Math.ceil(Math.sqrt(tiles.length)));
  const rows = Math.max(1, Math.ceil(tiles.length / cols));
  const gap = 4;
  const canvas = new Canvas(cols * (tileW + gap) + gap, rows * (tileH + gap) + gap);
  tiles.forEach((tile, i) => {
    const x0 = gap + (i % cols) * (tileW + gap);
    const y0 = gap + Math.floor(i / cols) * (tileH + gap);
    const right = tile.trueLabel === tile.predLabel;
    canvas.fill(x0, y0, tileW, H * scale + 2 * border, right ? GREEN : RED);
    for (let y = 0; y < H; y++) {
      for (let x = 0; x < W; x++) {
        const p = tile.offset + (y * W + x) * C;
        const rgb: Rgb = C >= 3 ? [images[p]!, images[p + 1]!, images[p + 2]!] : [images[p]!, images[p]!, images[p]!];
        canvas.fill(x0 + border + x * scale, y0 + border + y * scale, scale, scale, rgb);
      }
    }
    // Line 1: the true class in black; line 2: the prediction, green or red. Scale 1 if 2 is too wide.
    const lines: [string, Rgb][] = [
      [classes[tile.trueLabel] ?? String(tile.trueLabel), [0, 0, 0]],
      [classes[tile.predLabel] ?? String(tile.predLabel), right ? GREEN : RED],
    ];
    lines.forEach(([text, ink], n) => {
      const s = textWidth(text, 2) <= tileW ? 2 : 1;
      canvas.text(
        x0 + Math.floor((tileW - textWidth(text, s)) / 2),
        y0 + H * scale + 2 * border + 2 + n * 12,
        text,
        ink,
        s,
      );
    });
  });
  return canvas.encode();
}
