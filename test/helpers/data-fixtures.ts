/**
 * Tiny but real inputs for the data stages: a CIFAR-10-format .tar.gz with the real member names
 * (written with tar-stream + zlib) and Fashion-MNIST IDX files. Stage programs run through
 * runStageProgram in ./stage.ts.
 */
import { createHash } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import tar from 'tar-stream';

export const RECORD = 3073;
export const CLASSES = ['airplane', 'automobile', 'bird', 'cat', 'deer', 'dog', 'frog', 'horse', 'ship', 'truck'];

/** Deterministic pixel bytes for a record: distinct per (batch, record), so mix-ups show. */
export function recordBytes(batch: number, r: number, label: number): Buffer {
  const rec = Buffer.alloc(RECORD);
  rec[0] = label;
  for (let i = 1; i < RECORD; i++) rec[i] = (i * 7 + r * 31 + batch * 101) & 0xff;
  // The first red pixels spell out (record, batch): no two images are byte-identical, so cache
  // deduplication can only come from real copies.
  rec[1] = r & 0xff;
  rec[2] = r >> 8;
  rec[3] = batch;
  return rec;
}

/** A batch of `records` records with labels cycling 0..9 (so every class is present equally). */
export function batchBytes(batch: number, records: number): Buffer {
  return Buffer.concat(Array.from({ length: records }, (_, r) => recordBytes(batch, r, (r + batch) % 10)));
}

export const BATCH_MEMBERS = [
  'data_batch_1.bin',
  'data_batch_2.bin',
  'data_batch_3.bin',
  'data_batch_4.bin',
  'data_batch_5.bin',
  'test_batch.bin',
];

export interface ArchiveMember {
  name: string;
  data?: Buffer;
  type?: 'file' | 'symlink' | 'link' | 'directory';
  linkname?: string;
}

/** The members of a CIFAR-10 binary archive with `records` records per batch. */
export function cifarMembers(records: number): ArchiveMember[] {
  return [
    { name: 'cifar-10-batches-bin/', type: 'directory' },
    { name: 'cifar-10-batches-bin/batches.meta.txt', data: Buffer.from(`${CLASSES.join('\n')}\n\n`) },
    ...BATCH_MEMBERS.map((m, b) => ({ name: `cifar-10-batches-bin/${m}`, data: batchBytes(b, records) })),
    { name: 'cifar-10-batches-bin/readme.html', data: Buffer.from('<p>CIFAR-10</p>') },
  ];
}

export async function tarGz(members: readonly ArchiveMember[]): Promise<Buffer> {
  const pack = tar.pack();
  const chunks: Buffer[] = [];
  pack.on('data', (c: unknown) => chunks.push(c as Buffer));
  const done = new Promise<void>((resolve, reject) => {
    pack.on('end', resolve);
    pack.on('error', reject);
  });
  for (const m of members) {
    const type = m.type ?? 'file';
    if (type === 'file') pack.entry({ name: m.name, type }, m.data ?? Buffer.alloc(0));
    else pack.entry({ name: m.name, type, linkname: m.linkname });
  }
  pack.finalize();
  await done;
  return gzipSync(Buffer.concat(chunks));
}

export const md5 = (b: Uint8Array): string => createHash('md5').update(b).digest('hex');

/** IDX image file (magic 0x803) of n images of rows x cols, pixel value (i + y*cols + x) & 255. */
export function idxImages(n: number, rows = 28, cols = 28, magic = 0x803): Buffer {
  const head = Buffer.alloc(16);
  head.writeUInt32BE(magic, 0);
  head.writeUInt32BE(n, 4);
  head.writeUInt32BE(rows, 8);
  head.writeUInt32BE(cols, 12);
  const body = Buffer.alloc(n * rows * cols);
  for (let i = 0; i < body.length; i++) body[i] = (Math.floor(i / (rows * cols)) * 13 + i) & 0xff;
  return Buffer.concat([head, body]);
}

export function idxLabels(labels: readonly number[], magic = 0x801): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(magic, 0);
  head.writeUInt32BE(labels.length, 4);
  return Buffer.concat([head, Buffer.from(labels)]);
}

/** params.yaml text for the data stages. */
export function paramsYaml(p: {
  pull?: string;
  partition?: string;
  prepare?: string;
  seed?: number | string;
  data?: string;
}): string {
  return [
    `seed: ${p.seed ?? 42}`,
    `data: ${p.data ?? 'v1'}`,
    p.pull ?? '',
    p.partition ?? 'partition:\n  size: 30\n  seed: 7',
    p.prepare ?? 'prepare:\n  split: {train: 0.8, val: 0.1, test: 0.1}',
    '',
  ].join('\n');
}
