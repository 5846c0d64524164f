/**
 * Writes data/raw: one PNG per image under <class>/<id>.png plus index.csv and meta.json, all into a
 * temp directory that `finish` renames into place, so a failed pull leaves no partial data/raw.
 */
import { mkdirSync, writeFileSync, promises as fs } from 'node:fs';
import path from 'node:path';
import { toCsv } from './csv.js';
import { StageError } from '../common/stage.js';
import { makeTempDir, releaseTempDir, replaceDir } from '../common/atomic.js';
import { RAW_DIR, classDir, metaJson, type DatasetMeta } from './layout.js';
import { encodePng } from './png.js';

export type OriginalSplit = 'train' | 'test';

export interface RawIndexRow {
  id: string;
  class: string;
  label: number;
  split: OriginalSplit;
  /** Repository-relative path, e.g. data/raw/airplane/train-00001.png. */
  path: string;
}

export const RAW_INDEX_COLUMNS = ['id', 'class', 'label', 'split', 'path'] as const;

export class RawWriter {
  private readonly rows: RawIndexRow[] = [];
  private readonly ids = new Set<string>();
  private described: DatasetMeta | undefined;

  private constructor(
    private readonly tmp: string,
    private readonly target: string,
  ) {}

  /** `meta` may come later (setMeta), for sources whose image size is known only after the first image. */
  static async open(meta: DatasetMeta | undefined, target = RAW_DIR): Promise<RawWriter> {
    await fs.mkdir(path.dirname(target), { recursive: true });
    const w = new RawWriter(await makeTempDir(target), target);
    if (meta) w.setMeta(meta);
    return w;
  }

  setMeta(meta: DatasetMeta): void {
    if (this.described) return;
    this.described = meta;
    for (const name of meta.classes) mkdirSync(path.join(this.tmp, classDir(name)), { recursive: true });
  }

  get meta(): DatasetMeta {
    if (!this.described) throw new Error('RawWriter: setMeta before adding images');
    return this.described;
  }

  get count(): number {
    return this.rows.length;
  }

  /** Encodes raw pixels (HWC, meta.channels per pixel) as PNG. */
  addPixels(id: string, label: number, split: OriginalSplit, pixels: Uint8Array): void {
    const { width, height, channels } = this.meta;
    this.addPng(id, label, split, encodePng(pixels, width, height, channels));
  }

  /** Stores an already-encoded PNG as it is (image folders whose files are PNG already). */
  addPng(id: string, label: number, split: OriginalSplit, png: Uint8Array): void {
    const name = this.meta.classes[label];
    if (name === undefined) throw new Error(`label ${label} out of range`);
    if (this.ids.has(id))
      throw new StageError(`duplicate image id ${id}`, 'Check that the source holds each image once.');
    this.ids.add(id);
    const rel = `${classDir(name)}/${id}.png`;
    // Sync writes: the encoder is sync too, and 60,000 tiny files are faster without promise churn.
    writeFileSync(path.join(this.tmp, rel), png);
    this.rows.push({ id, class: name, label, split, path: `${this.target}/${rel}` });
  }

  /** Writes index.csv (sorted by id, so the order of reading never shows) and meta.json, then renames into place. */
  async finish(): Promise<RawIndexRow[]> {
    const rows = this.rows.slice().sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    await fs.writeFile(
      path.join(this.tmp, 'index.csv'),
      toCsv(
        RAW_INDEX_COLUMNS,
        rows.map((r) => [r.id, r.class, r.label, r.split, r.path]),
      ),
    );
    await fs.writeFile(path.join(this.tmp, 'meta.json'), metaJson(this.meta));
    await replaceDir(this.tmp, this.target);
    return rows;
  }

  async abort(): Promise<void> {
    await fs.rm(this.tmp, { recursive: true, force: true });
    releaseTempDir(this.tmp);
  }
}
