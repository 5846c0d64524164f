/**
 * Reader for an image-folder dataset: <root>/<class>/*.png|jpg|jpeg, classes = sub-folder names in
 * sorted order. PNGs are kept byte for byte; JPEGs are decoded (jpeg-js) and re-encoded as PNG.
 * Every image must have the size of the first: prepare writes fixed-shape tensors.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import jpeg from 'jpeg-js';
import { StageError, errorText } from '../common/stage.js';
import type { DatasetMeta } from './layout.js';
import { decodePng, encodePng } from './png.js';

const MAX_FILE_BYTES = 64 * 1024 * 1024;
const HINT = 'pull.path must hold one folder per class with .png/.jpg images of one size.';

export interface FolderImage {
  id: string;
  label: number;
  /** PNG bytes. */
  png: Buffer;
}

const byCodePoint = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/** A file-name-safe, stable id: <class>-<file stem>, de-duplicated with a counter. */
function makeId(cls: string, file: string, used: Set<string>): string {
  const base = `${cls}-${path.parse(file).name}`.replace(/[^A-Za-z0-9._-]+/g, '_');
  let id = base;
  for (let n = 2; used.has(id); n++) id = `${base}-${n}`;
  used.add(id);
  return id;
}

export async function listImageFolder(
  root: string,
): Promise<{ classes: string[]; files: { cls: number; file: string }[] }> {
  const entries = await fs.readdir(root, { withFileTypes: true }).catch((e: unknown) => {
    throw new StageError(`cannot read image folder ${root}: ${errorText(e)}`, HINT);
  });
  const classes = entries
    .filter((e) => e.isDirectory() && !e.name.startsWith('.'))
    .map((e) => e.name)
    .sort(byCodePoint);
  if (classes.length === 0) throw new StageError(`image folder ${root} has no class sub-folders`, HINT);
  const files: { cls: number; file: string }[] = [];
  for (const [cls, name] of classes.entries()) {
    const inside = await fs.readdir(path.join(root, name), { withFileTypes: true });
    const images = inside
      .filter((e) => e.isFile() && /\.(png|jpe?g)$/i.test(e.name))
      .map((e) => e.name)
      .sort(byCodePoint);
    if (images.length === 0)
      throw new StageError(`class folder ${path.join(root, name)} has no .png/.jpg images`, HINT);
    for (const f of images) files.push({ cls, file: path.join(root, name, f) });
  }
  return { classes, files };
}

/**
 * Reads and checks every image; calls onImage in class, then file-name order, with the dataset
 * description (known from the first image on). Returns the description.
 */
export async function readImageFolder(
  root: string,
  onImage: (img: FolderImage, meta: DatasetMeta) => void,
): Promise<DatasetMeta> {
  const { classes, files } = await listImageFolder(root);
  let meta: DatasetMeta | undefined;
  const used = new Set<string>();
  for (const { cls, file } of files) {
    const st = await fs.stat(file);
    if (st.size > MAX_FILE_BYTES)
      throw new StageError(`${file} is ${st.size} bytes, over the limit of ${MAX_FILE_BYTES}`, HINT);
    const bytes = await fs.readFile(file);
    let png: Buffer;
    let width: number;
    let height: number;
    if (/\.png$/i.test(file)) {
      ({ width, height } = decodePng(bytes, file));
      png = bytes;
    } else {
      let img: { width: number; height: number; data: Uint8Array };
      try {
        img = jpeg.decode(bytes, {
          useTArray: true,
          formatAsRGBA: false,
          maxResolutionInMP: 50,
          maxMemoryUsageInMB: 256,
        });
      } catch (e) {
        throw new StageError(`${file}: not a readable JPEG (${errorText(e)})`, HINT);
      }
      ({ width, height } = img);
      png = encodePng(img.data, width, height, 3);
    }
    meta ??= { dataset: 'folder', height, width, channels: 3, classes };
    if (width !== meta.width || height !== meta.height) {
      throw new StageError(`${file} is ${width}x${height}, but the first image is ${meta.width}x${meta.height}`, HINT);
    }
    onImage({ id: makeId(classes[cls]!, file, used), label: cls, png }, meta);
  }
  return meta!;
}
