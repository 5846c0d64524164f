/**
 * Reader (and, for tests and converters, writer) of data/prepared/, the compact tensors the prepare
 * stage writes: meta.json, <split>.images.u8 (N*H*W*C uint8, HWC), <split>.labels.u8, <split>.ids.tsv.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { StageError } from '../common/stage.js';

export const SPLITS = ['train', 'val', 'test'] as const;
export type SplitName = (typeof SPLITS)[number];

export interface PreparedMeta {
  height: number;
  width: number;
  channels: number;
  classes: string[];
  splits: Record<SplitName, number>;
}

export interface Split {
  count: number;
  images: Uint8Array;
  labels: Uint8Array;
  /** Image ids and repo-relative source paths, in image order. */
  ids: { id: string; path: string }[];
}

const HINT = 'Re-run the prepare stage (`npx lockstep repro prepare`).';

async function readOrFail(file: string): Promise<Buffer> {
  try {
    return await fs.readFile(file);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new StageError(`${file}: ${code === 'ENOENT' ? 'missing' : `cannot read (${code})`}`, HINT);
  }
}

export async function readMeta(dir: string): Promise<PreparedMeta> {
  const file = path.join(dir, 'meta.json');
  const text = (await readOrFail(file)).toString('utf8');
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw new StageError(`${file}: not valid JSON`, HINT);
  }
  const m = raw as Partial<PreparedMeta> | null;
  const posInt = (v: unknown) => typeof v === 'number' && Number.isInteger(v) && v > 0;
  if (!m || !posInt(m.height) || !posInt(m.width) || !posInt(m.channels)) {
    throw new StageError(`${file}: expected positive integers height, width and channels`, HINT);
  }
  if (
    !Array.isArray(m.classes) ||
    m.classes.length < 2 ||
    m.classes.length > 256 ||
    !m.classes.every((c) => typeof c === 'string' && c.length > 0)
  ) {
    throw new StageError(`${file}: expected "classes" to be a list of 2-256 class names`, HINT);
  }
  if (!m.splits || typeof m.splits !== 'object') throw new StageError(`${file}: missing "splits"`, HINT);
  for (const s of SPLITS) {
    const n = m.splits[s];
    if (typeof n !== 'number' || !Number.isInteger(n) || n < 0)
      throw new StageError(`${file}: splits.${s}: expected a non-negative integer`, HINT);
  }
  return m as PreparedMeta;
}

export async function readSplit(dir: string, meta: PreparedMeta, split: SplitName): Promise<Split> {
  const count = meta.splits[split];
  const pixels = meta.height * meta.width * meta.channels;
  const imagesFile = path.join(dir, `${split}.images.u8`);
  const labelsFile = path.join(dir, `${split}.labels.u8`);
  const idsFile = path.join(dir, `${split}.ids.tsv`);
  const images = await readOrFail(imagesFile);
  if (images.length !== count * pixels) {
    throw new StageError(
      `${imagesFile}: ${images.length} bytes, expected ${count * pixels} (${count} images of ` +
        `${meta.height}x${meta.width}x${meta.channels} in meta.json)`,
      HINT,
    );
  }
  const labels = await readOrFail(labelsFile);
  if (labels.length !== count)
    throw new StageError(`${labelsFile}: ${labels.length} bytes, expected ${count} (one per image)`, HINT);
  for (let i = 0; i < count; i++) {
    if (labels[i]! >= meta.classes.length) {
      throw new StageError(
        `${labelsFile}: label ${labels[i]} at index ${i} is not a class index (${meta.classes.length} classes)`,
        HINT,
      );
    }
  }
  const lines = (await readOrFail(idsFile)).toString('utf8').split('\n');
  if (lines.at(-1) === '') lines.pop();
  if (lines.length !== count) throw new StageError(`${idsFile}: ${lines.length} lines, expected ${count}`, HINT);
  const ids = lines.map((line, i) => {
    const tab = line.indexOf('\t');
    if (tab <= 0) throw new StageError(`${idsFile}:${i + 1}: expected "<id>\\t<path>"`, HINT);
    return { id: line.slice(0, tab), path: line.slice(tab + 1) };
  });
  // Views over the Buffers' own memory: no copy of the (possibly large) pixel data.
  return {
    count,
    images: new Uint8Array(images.buffer, images.byteOffset, images.length),
    labels: new Uint8Array(labels.buffer, labels.byteOffset, labels.length),
    ids,
  };
}

/** Writes a prepared data set (used by tests and by converters of other data sets). */
export async function writePrepared(
  dir: string,
  meta: Omit<PreparedMeta, 'splits'>,
  splits: Record<SplitName, { images: Uint8Array; labels: Uint8Array; ids: { id: string; path: string }[] }>,
): Promise<void> {
  await fs.mkdir(dir, { recursive: true });
  const counts = {} as Record<SplitName, number>;
  for (const s of SPLITS) {
    const split = splits[s];
    counts[s] = split.labels.length;
    await fs.writeFile(path.join(dir, `${s}.images.u8`), split.images);
    await fs.writeFile(path.join(dir, `${s}.labels.u8`), split.labels);
    await fs.writeFile(path.join(dir, `${s}.ids.tsv`), split.ids.map((x) => `${x.id}\t${x.path}\n`).join(''));
  }
  await fs.writeFile(path.join(dir, 'meta.json'), `${JSON.stringify({ ...meta, splits: counts }, null, 2)}\n`);
}
