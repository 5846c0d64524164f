/**
 * Reader for the CIFAR-10 "binary version": cifar-10-batches-bin/{data_batch_1..5,test_batch}.bin,
 * each a run of 1 + 3,072-byte records (label, then the 1,024 red, green and blue values of a 32x32
 * image), from the .tar.gz or from a folder of the extracted batches.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { StageError } from '../common/stage.js';
import type { DatasetMeta } from './layout.js';
import type { OriginalSplit } from './raw-writer.js';
import { readTarGz, type TarLimits } from './tar.js';

export const CIFAR_DIR = 'cifar-10-batches-bin';
export const CIFAR_CLASSES = ['airplane', 'automobile', 'bird', 'cat', 'deer', 'dog', 'frog', 'horse', 'ship', 'truck'];
export const CIFAR_SIDE = 32;
export const CIFAR_PIXELS = CIFAR_SIDE * CIFAR_SIDE;
export const CIFAR_RECORD = 1 + 3 * CIFAR_PIXELS;
export const CIFAR_RECORDS_PER_BATCH = 10_000;

export interface CifarBatchFile {
  member: string;
  split: OriginalSplit;
  /**
   * Position of the batch within its split (0-based): ids come from it, so they stay put whatever order the members
   * come in.
   */
  batchNo: number;
}

export const CIFAR_BATCHES: readonly CifarBatchFile[] = [
  ...[1, 2, 3, 4, 5].map((n) => ({ member: `data_batch_${n}.bin`, split: 'train' as const, batchNo: n - 1 })),
  { member: 'test_batch.bin', split: 'test', batchNo: 0 },
];
const META_MEMBER = 'batches.meta.txt';

export const cifarMeta = (): DatasetMeta => ({
  dataset: 'cifar10',
  height: CIFAR_SIDE,
  width: CIFAR_SIDE,
  channels: 3,
  classes: CIFAR_CLASSES,
});

export interface CifarImage {
  id: string;
  label: number;
  split: OriginalSplit;
  /** 32x32x3 HWC. */
  pixels: Uint8Array;
}

export type OnCifarBatch = (images: CifarImage[]) => void | Promise<void>;

/** Checks one batch's bytes and turns them into images (planar CHW -> interleaved HWC). */
export function decodeBatch(where: string, batch: CifarBatchFile, data: Buffer, recordsPerBatch: number): CifarImage[] {
  const expected = recordsPerBatch * CIFAR_RECORD;
  if (data.length !== expected) {
    throw new StageError(
      `${where}: ${batch.member} is ${data.length} bytes, expected ${recordsPerBatch} x ${CIFAR_RECORD} = ${expected}`,
      'The archive is truncated or not CIFAR-10 binary (pull.records_per_batch must match it).',
    );
  }
  const digits = String(recordsPerBatch * 5).length;
  const images: CifarImage[] = [];
  for (let r = 0; r < recordsPerBatch; r++) {
    const base = r * CIFAR_RECORD;
    const label = data[base]!;
    if (label >= CIFAR_CLASSES.length) {
      throw new StageError(
        `${where}: ${batch.member} record ${r} has label ${label}, expected 0-9`,
        'The archive is corrupt or not CIFAR-10 binary.',
      );
    }
    const pixels = new Uint8Array(3 * CIFAR_PIXELS);
    const red = base + 1;
    for (let i = 0; i < CIFAR_PIXELS; i++) {
      pixels[i * 3] = data[red + i]!;
      pixels[i * 3 + 1] = data[red + CIFAR_PIXELS + i]!;
      pixels[i * 3 + 2] = data[red + 2 * CIFAR_PIXELS + i]!;
    }
    const index = batch.batchNo * recordsPerBatch + r;
    images.push({
      id: `${batch.split}-${String(index).padStart(Math.max(5, digits), '0')}`,
      label,
      split: batch.split,
      pixels,
    });
  }
  return images;
}

/** batches.meta.txt must name the ten classes in label order: anything else is not CIFAR-10. */
function checkClassNames(where: string, text: string): void {
  const names = text
    .split(/\r?\n/)
    .map((s) => s.trim())
    .filter(Boolean);
  if (names.join(',') !== CIFAR_CLASSES.join(',')) {
    throw new StageError(
      `${where}: ${META_MEMBER} lists classes ${names.join(', ')}, expected ${CIFAR_CLASSES.join(', ')}`,
      'The archive is not CIFAR-10 binary.',
    );
  }
}

const LIMITS: TarLimits = { maxMemberBytes: 64 * 1024 * 1024, maxTotalBytes: 512 * 1024 * 1024, maxMembers: 1000 };

/** Reads every batch of a CIFAR-10 binary .tar.gz. Missing or duplicate batches are errors. */
export async function readCifarArchive(archive: string, recordsPerBatch: number, onBatch: OnCifarBatch): Promise<void> {
  const byMember = new Map(CIFAR_BATCHES.map((b) => [`${CIFAR_DIR}/${b.member}`, b]));
  const seen = new Set<string>();
  await readTarGz(
    archive,
    (name) => byMember.has(name) || name === `${CIFAR_DIR}/${META_MEMBER}`,
    async (name, data) => {
      if (seen.has(name)) throw new StageError(`${archive}: member '${name}' appears twice`, 'The archive is corrupt.');
      seen.add(name);
      const batch = byMember.get(name);
      if (batch) await onBatch(decodeBatch(archive, batch, data, recordsPerBatch));
      else checkClassNames(archive, data.toString('utf8'));
    },
    LIMITS,
  );
  const missing = [...byMember.keys()].filter((m) => !seen.has(m));
  if (missing.length)
    throw new StageError(
      `${archive}: missing member${missing.length > 1 ? 's' : ''} ${missing.join(', ')}`,
      'The archive is truncated or not CIFAR-10 binary.',
    );
}

/** The extracted layout: `dir` is cifar-10-batches-bin/ itself or a folder holding it. */
export async function resolveCifarFolder(dir: string): Promise<string | undefined> {
  for (const candidate of [dir, path.join(dir, CIFAR_DIR)]) {
    if (
      await fs.stat(path.join(candidate, 'data_batch_1.bin')).then(
        (s) => s.isFile(),
        () => false,
      )
    )
      return candidate;
  }
  return undefined;
}

export async function readCifarFolder(dir: string, recordsPerBatch: number, onBatch: OnCifarBatch): Promise<void> {
  for (const batch of CIFAR_BATCHES) {
    const file = path.join(dir, batch.member);
    const st = await fs.lstat(file).catch(() => undefined);
    if (!st?.isFile())
      throw new StageError(
        `${dir}: missing ${batch.member}`,
        'Point pull.url at the extracted cifar-10-batches-bin folder.',
      );
    if (st.size !== recordsPerBatch * CIFAR_RECORD) {
      throw new StageError(
        `${file} is ${st.size} bytes, expected ${recordsPerBatch} x ${CIFAR_RECORD} = ` +
          `${recordsPerBatch * CIFAR_RECORD}`,
        'The file is truncated or not CIFAR-10 binary.',
      );
    }
    await onBatch(decodeBatch(dir, batch, await fs.readFile(file), recordsPerBatch));
  }
  const text = await fs.readFile(path.join(dir, META_MEMBER), 'utf8').catch(() => undefined);
  if (text !== undefined) checkClassNames(dir, text);
}
