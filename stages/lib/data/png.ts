/** PNG encode/decode for the data stages (pngjs sync API: no per-image promise overhead). */
import { PNG } from 'pngjs';
import { StageError, errorText } from '../common/stage.js';

/**
 * zlib level 1, default strategy, the Paeth filter only: on CIFAR's 32x32 images this takes ~25% less
 * CPU than pngjs's defaults (level 9, RLE strategy, all five filters tried on every row) for files
 * within 1% of their size; Sub/Up/no filter are no faster but 9-30% larger. Measured with bench/data.ts.
 */
const FAST = { deflateLevel: 1, deflateStrategy: 0, filterType: 4 } as const;

/** Encodes interleaved 8-bit pixels (channels 1 = gray, 3 = RGB) as a PNG of the same colour type. */
export function encodePng(pixels: Uint8Array, width: number, height: number, channels: 1 | 3): Buffer {
  const colorType = channels === 1 ? 0 : 2;
  const png = {
    width,
    height,
    data: Buffer.from(pixels.buffer, pixels.byteOffset, pixels.byteLength),
  } as unknown as PNG;
  return PNG.sync.write(png, { ...FAST, colorType, inputColorType: colorType, inputHasAlpha: false });
}

export interface Decoded {
  width: number;
  height: number;
  /** RGBA, 8 bits per channel, as pngjs always returns it. */
  rgba: Buffer;
}

export function decodePng(bytes: Buffer, file: string): Decoded {
  try {
    const png = PNG.sync.read(bytes);
    return { width: png.width, height: png.height, rgba: png.data };
  } catch (e) {
    throw new StageError(`${file}: not a readable PNG (${errorText(e)})`, 'Re-run the stage that wrote it.');
  }
}

/** Copies the first `channels` channels of each RGBA pixel into `out` at `offset` (HWC order). */
export function rgbaInto(rgba: Buffer, channels: number, out: Uint8Array, offset: number): void {
  const pixels = rgba.length / 4;
  if (channels === 3) {
    for (let p = 0, o = offset; p < pixels; p++, o += 3) {
      out[o] = rgba[p * 4]!;
      out[o + 1] = rgba[p * 4 + 1]!;
      out[o + 2] = rgba[p * 4 + 2]!;
    }
  } else if (channels === 1) {
    for (let p = 0; p < pixels; p++) out[offset + p] = rgba[p * 4]!;
  } else {
    throw new Error(`unsupported channel count ${channels}`);
  }
}
