/**
 * Where the data stages read and write (paths relative to the project root, which is the stage's
 * working directory) and the dataset description shared by raw/ and partitions/.
 */
import { promises as fs } from 'node:fs';
import { StageError } from '../common/stage.js';

export const PULL_DIR = 'data/.pull';
export const RAW_DIR = 'data/raw';
export const PARTITIONS_DIR = 'data/partitions';
export const PREPARED_DIR = 'data/prepared';

/** data/raw/meta.json and data/partitions/meta.json: what the images are. */
export interface DatasetMeta {
  dataset: string;
  height: number;
  width: number;
  channels: 1 | 3;
  /** Class names in label order: label i is classes[i]. */
  classes: string[];
}

/** A directory name for a class: Fashion-MNIST's "T-shirt/top" must not become a nested folder. */
export function classDir(name: string): string {
  const slug = name.replace(/[^A-Za-z0-9._-]+/g, '_');
  return slug === '' || slug === '.' || slug === '..' ? `class_${slug.length}` : slug;
}

export async function readMeta(file: string): Promise<DatasetMeta> {
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch {
    throw new StageError(`missing ${file}`, 'Run the stage that writes it first (lockstep repro).');
  }
  const m = JSON.parse(text) as Partial<DatasetMeta>;
  const okDim = (n: unknown) => typeof n === 'number' && Number.isInteger(n) && n > 0;
  if (
    !okDim(m.height) ||
    !okDim(m.width) ||
    (m.channels !== 1 && m.channels !== 3) ||
    !Array.isArray(m.classes) ||
    m.classes.length === 0
  ) {
    throw new StageError(
      `${file}: not a dataset description (needs height, width, channels 1|3, classes)`,
      'Re-run the stage that wrote it.',
    );
  }
  return {
    dataset: String(m.dataset ?? 'unknown'),
    height: m.height!,
    width: m.width!,
    channels: m.channels,
    classes: m.classes.map(String),
  };
}

export const metaJson = (m: DatasetMeta): string =>
  `${JSON.stringify(
    { dataset: m.dataset, height: m.height, width: m.width, channels: m.channels, classes: m.classes },
    null,
    2,
  )}\n`;
