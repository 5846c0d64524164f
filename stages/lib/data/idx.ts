/**
 * Reader for Fashion-MNIST's gzipped IDX files (as Debian's dataset-fashion-mnist installs them):
 * {train,t10k}-images-idx3-ubyte.gz (magic 0x803, n x 28 x 28) and -labels-idx1-ubyte.gz (magic 0x801, n).
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { StageError, errorText } from '../common/stage.js';
import type { DatasetMeta } from './layout.js';
import type { OriginalSplit } from './raw-writer.js';

export const FASHION_CLASSES = [
  'T-shirt/top',
  'Trouser',
  'Pullover',
  'Dress',
  'Coat',
  'Sandal',
  'Shirt',
  'Sneaker',
  'Bag',
  'Ankle boot',
];
export const FASHION_SIDE = 28;
export const fashionMeta = (): DatasetMeta => ({
  dataset: 'fashion-mnist',
  height: FASHION_SIDE,
  width: FASHION_SIDE,
  channels: 1,
  classes: FASHION_CLASSES,
});

const IMAGES_MAGIC = 0x00000803;
const LABELS_MAGIC = 0x00000801;
/** Bounds a gzip bomb: the real train images are 47 MB unpacked. */
const MAX_UNPACKED = 256 * 1024 * 1024;
const HINT = 'Point pull.path at the Fashion-MNIST IDX files (apt-get install dataset-fashion-mnist).';

export interface IdxImages {
  count: number;
  rows: number;
  cols: number;
  /** count x rows x cols bytes, row-major. */
  pixels: Buffer;
}

export function parseIdxImages(buf: Buffer, file: string): IdxImages {
  if (buf.length < 16) throw new StageError(`${file}: too short for an IDX image header (${buf.length} bytes)`, HINT);
  const magic = buf.readUInt32BE(0);
  if (magic !== IMAGES_MAGIC)
    throw new StageError(
      `${file}: magic number 0x${magic.toString(16)}, expected 0x803 (unsigned bytes, 3 dimensions)`,
      HINT,
    );
  const count = buf.readUInt32BE(4);
  const rows = buf.readUInt32BE(8);
  const cols = buf.readUInt32BE(12);
  if (rows !== FASHION_SIDE || cols !== FASHION_SIDE)
    throw new StageError(`${file}: images are ${rows}x${cols}, expected ${FASHION_SIDE}x${FASHION_SIDE}`, HINT);
  const expected = 16 + count * rows * cols;
  if (buf.length !== expected)
    throw new StageError(
      `${file}: ${buf.length} bytes, expected 16 + ${count} x ${rows} x ${cols} = ${expected}`,
      HINT,
    );
  return { count, rows, cols, pixels: buf.subarray(16) };
}

export function parseIdxLabels(buf: Buffer, file: string, classes: number): Buffer {
  if (buf.length < 8) throw new StageError(`${file}: too short for an IDX label header (${buf.length} bytes)`, HINT);
  const magic = buf.readUInt32BE(0);
  if (magic !== LABELS_MAGIC)
    throw new StageError(
      `${file}: magic number 0x${magic.toString(16)}, expected 0x801 (unsigned bytes, 1 dimension)`,
      HINT,
    );
  const count = buf.readUInt32BE(4);
  if (buf.length !== 8 + count) throw new StageError(`${file}: ${buf.length} bytes, expected 8 + ${count}`, HINT);
  const labels = buf.subarray(8);
  const bad = labels.findIndex((l) => l >= classes);
  if (bad >= 0) throw new StageError(`${file}: label ${labels[bad]} at index ${bad}, expected 0-${classes - 1}`, HINT);
  return labels;
}

async function readMaybeGz(dir: string, stem: string): Promise<{ file: string; bytes: Buffer }> {
  for (const name of [`${stem}.gz`, stem]) {
    const file = path.join(dir, name);
    const bytes = await fs.readFile(file).catch(() => undefined);
    if (bytes === undefined) continue;
    if (!name.endsWith('.gz')) return { file, bytes };
    try {
      return { file, bytes: gunzipSync(bytes, { maxOutputLength: MAX_UNPACKED }) };
    } catch (e) {
      throw new StageError(`${file}: cannot gunzip (${errorText(e)})`, HINT);
    }
  }
  throw new StageError(`missing ${path.join(dir, `${stem}.gz`)}`, HINT);
}

export interface GrayImage {
  id: string;
  label: number;
  split: OriginalSplit;
  pixels: Uint8Array;
}

/** Reads both splits; calls `onSplit` once per split with its images in file order. */
export async function readFashionMnist(
  dir: string,
  onSplit: (images: GrayImage[]) => void | Promise<void>,
): Promise<void> {
  for (const [split, prefix] of [
    ['train', 'train'],
    ['test', 't10k'],
  ] as const) {
    const img = await readMaybeGz(dir, `${prefix}-images-idx3-ubyte`);
    const lab = await readMaybeGz(dir, `${prefix}-labels-idx1-ubyte`);
    const images = parseIdxImages(img.bytes, img.file);
    const labels = parseIdxLabels(lab.bytes, lab.file, FASHION_CLASSES.length);
    if (labels.length !== images.count)
      throw new StageError(`${lab.file} has ${labels.length} labels but ${img.file} has ${images.count} images`, HINT);
    const size = images.rows * images.cols;
    const out: GrayImage[] = [];
    for (let i = 0; i < images.count; i++) {
      out.push({
        id: `${split}-${String(i).padStart(5, '0')}`,
        label: labels[i]!,
        split,
        pixels: images.pixels.subarray(i * size, (i + 1) * size),
      });
    }
    await onSplit(out);
  }
}
