/**
 * PNG renderings of evaluation results with pngjs: the confusion matrix as a heat map and a grid of
 * test images with green (right) / red (wrong) borders. Numbers are drawn with a built-in 3x5 digit
 * font, so no font files are needed; class names are in the JSON files next to the images.
 */
import { PNG } from 'pngjs';

type Rgb = readonly [number, number, number];

const DIGITS: Record<string, string[]> = {
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
  /** Text of digits (and '>') at scale s; returns its width. */
  text(x0: number, y0: number, text: string, c: Rgb, s = 1): number {
    let x = x0;
    for (const ch of text) {
      const glyph = DIGITS[ch];
      if (glyph) {
        glyph.forEach((row, gy) => {
          for (let gx = 0; gx < 3; gx++) if (row[gx] === '1') this.fill(x + gx * s, y0 + gy * s, s, s, c);
        });
      }
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
export function confusionPng(matrix: number[][]): Buffer {
  const k = matrix.length;
  const maxCount = Math.max(1, ...matrix.flat());
  const digits = String(maxCount).length;
  const scale = textWidth('0'.repeat(digits), 2) <= 40 ? 2 : 1;
  const cell = Math.max(24, textWidth('0'.repeat(digits), scale) + 8);
  const margin = textWidth(String(k - 1), 2) + 12;
  const canvas = new Canvas(margin + k * cell + 4, margin + k * cell + 4);
  for (let t = 0; t < k; t++) {
    const row = matrix[t]!;
    const rowSum = row.reduce((a, b) => a + b, 0);
    const label = String(t);
    canvas.text(margin - 6 - textWidth(label, 2), margin + t * cell + (cell - 10) / 2, label, [0, 0, 0], 2);
    canvas.text(margin + t * cell + (cell - textWidth(label, 2)) / 2, (margin - 10) / 2, label, [0, 0, 0], 2);
    for (let p = 0; p < k; p++) {
      const share = rowSum ? row[p]! / rowSum : 0;
      const x = margin + p * cell;
      const y = margin + t * cell;
      canvas.fill(x, y, cell - 1, cell - 1, heat(share));
      const count = String(row[p]!);
      const ink: Rgb = share > 0.5 ? [255, 255, 255] : [0, 0, 0];
      canvas.text(x + Math.floor((cell - 1 - textWidth(count, scale)) / 2), y + Math.floor((cell - 1 - 5 * scale) / 2), count, ink, scale);
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
 * and the caption "<true> > <predicted>" in class indices beneath it.
 */
export function samplesPng(images: Uint8Array, shape: { height: number; width: number; channels: number }, tiles: SampleTile[]): Buffer {
  const { height: H, width: W, channels: C } = shape;
  const scale = Math.max(1, Math.floor(96 / Math.max(H, W)));
  const border = 3;
  const caption = 14;
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
    const label = `${tile.trueLabel}>${tile.predLabel}`;
    canvas.text(x0 + Math.floor((tileW - textWidth(label, 2)) / 2), y0 + H * scale + 2 * border + 2, label, right ? [0, 0, 0] : RED, 2);
  });
  return canvas.encode();
}
