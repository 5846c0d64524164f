/**
 * Reader for an image-folder dataset, in the layouts people download:
 *   <root>/<class>/*.png|jpg|jpeg                      (flat; Keras' image_dataset_from_directory)
 *   <root>/{train,test}/<class>/*  (also val, valid, validation, training, testing: torchvision's
 *                                   ImageFolder per split, the "CIFAR-10 as PNG folders" downloads)
 * Classes are the class folder names in sorted order (the same in every split); in the split layout
 * the original split is kept (train/training -> train; test/testing/val/... -> test) and ids start
 * with the split folder's name. PNGs are kept byte for byte; JPEGs are decoded (jpeg-js) and
 * re-encoded as PNG. Every image must have the size of the first: prepare writes fixed-shape tensors.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import jpeg from 'jpeg-js';
import { StageError, errorText } from '../common/stage.js';
import type { DatasetMeta } from './layout.js';
import { decodePng, encodePng } from './png.js';

const MAX_FILE_BYTES = 64 * 1024 * 1024;
const HINT =
  'pull.path must hold <class>/*.png|jpg, or train/<class>/* and test/<class>/* (also val, validation), ' +
  'images of one size.';
const TRAIN_SPLITS = ['train', 'training'];
const TEST_SPLITS = ['test', 'testing', 'val', 'valid', 'validation'];
const isSplitName = (n: string) => [...TRAIN_SPLITS, ...TEST_SPLITS].includes(n.toLowerCase());

export interface FolderImage {
  id: string;
  label: number;
  split: 'train' | 'test';
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

interface FolderFile {
  cls: number;
  file: string;
  split: 'train' | 'test';
  /** The split folder's own name in the split layout (the id prefix), else ''. */
  splitDir: string;
}

const subdirs = async (dir: string): Promise<string[]> =>
  (
    await fs.readdir(dir, { withFileTypes: true }).catch((e: unknown) => {
      throw new StageError(`cannot read image folder ${dir}: ${errorText(e)}`, HINT);
    })
  )
    .filter((e) => e.isDirectory() && !e.name.startsWith('.'))
    .map((e) => e.name)
    .sort(byCodePoint);

async function imagesIn(dir: string): Promise<string[]> {
  const inside = await fs.readdir(dir, { withFileTypes: true });
  return inside
    .filter((e) => e.isFile() && /\.(png|jpe?g)$/i.test(e.name))
    .map((e) => e.name)
    .sort(byCodePoint);
}

export async function listImageFolder(root: string): Promise<{ classes: string[]; files: FolderFile[] }> {
  const top = await subdirs(root);
  if (top.length === 0) throw new StageError(`image folder ${root} has no class sub-folders`, HINT);
  const splitDirs = top.filter(isSplitName);
  if (splitDirs.length > 0 && splitDirs.length < top.length) {
    const other = top.filter((d) => !isSplitName(d));
    throw new StageError(
      `image folder ${root} mixes split folders (${splitDirs.join(', ')}) with other folders (${other.join(', ')})`,
      HINT,
    );
  }
  const layout = splitDirs.length
    ? splitDirs.map((d) => ({ dir: path.join(root, d), splitDir: d }))
    : [{ dir: root, splitDir: '' }];
  let classes: string[] | undefined;
  const files: FolderFile[] = [];
  for (const { dir, splitDir } of layout) {
    const names = await subdirs(dir);
    if (names.length === 0) throw new StageError(`split folder ${dir} has no class sub-folders`, HINT);
    if (classes && names.join('/') !== classes.join('/'))
      throw new StageError(
        `split folder ${dir} has classes ${names.join(', ')}, but ${layout[0]!.dir} has ${classes.join(', ')}`,
        'Every split folder must hold the same class folders.',
      );
    classes = names;
    const split = TRAIN_SPLITS.includes(splitDir.toLowerCase()) || splitDir === '' ? 'train' : 'test';
    for (const [cls, name] of names.entries()) {
      const images = await imagesIn(path.join(dir, name));
      if (images.length === 0) {
        const nested = (await subdirs(path.join(dir, name))).length > 0;
        throw new StageError(
          `class folder ${path.join(dir, name)} has no .png/.jpg ` +
            `images${nested ? ' (it holds folders: is this a split layout under another name?)' : ''}`,
          HINT,
        );
      }
      for (const f of images) files.push({ cls, file: path.join(dir, name, f), split, splitDir });
    }
  }
  return { classes: classes!, files };
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
  for (const { cls, file, split, splitDir } of files) {
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
    const id = makeId(splitDir ? `${splitDir}-${classes[cls]!}` : classes[cls]!, file, used);
    onImage({ id, label: cls, split, png }, meta);
  }
  return meta!;
}
