/**
 * Where the data stages read and write (paths relative to the project root, which is the stage's
 * working directory), the dataset description shared by raw/ and partitions/, and the
 * write-to-temp-then-rename helper that keeps half-written outputs invisible.
 */
import { rmSync, promises as fs } from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { DataError } from './errors.js';

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

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
};

const liveTempDirs = new Set<string>();
let signalsHooked = false;

/** On Ctrl-C or a kill by the engine, remove our temp dirs before exiting (a crash leaves them to sweepStale). */
function hookSignals(): void {
  if (signalsHooked) return;
  signalsHooked = true;
  for (const [signal, code] of [
    ['SIGINT', 130],
    ['SIGTERM', 143],
  ] as const) {
    process.once(signal, () => {
      for (const dir of liveTempDirs) rmSync(dir, { recursive: true, force: true });
      process.exit(code);
    });
  }
}

/** Removes temp dirs beside `target` left by a run that died (its pid is gone). */
async function sweepStale(target: string): Promise<void> {
  const prefix = `.${path.basename(target)}.tmp-`;
  const names = await fs.readdir(path.dirname(target)).catch(() => [] as string[]);
  for (const name of names) {
    if (!name.startsWith(prefix)) continue;
    const pid = Number(name.slice(prefix.length).split('-')[0]);
    if (Number.isInteger(pid) && pid !== process.pid && !alive(pid))
      await fs.rm(path.join(path.dirname(target), name), { recursive: true, force: true });
  }
}

/** A fresh empty directory beside `target` (same file system, so the final rename is atomic). */
export async function makeTempDir(target: string): Promise<string> {
  await sweepStale(target);
  const tmp = path.join(
    path.dirname(target),
    `.${path.basename(target)}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`,
  );
  await fs.mkdir(tmp, { recursive: true });
  liveTempDirs.add(tmp);
  hookSignals();
  return tmp;
}

/** Forget a temp dir that was renamed into place or removed. */
export const releaseTempDir = (tmp: string): void => {
  liveTempDirs.delete(tmp);
};

/** Puts a finished temp directory in place of `target`, replacing what was there. */
export async function replaceDir(tmp: string, target: string): Promise<void> {
  const old = `${tmp}.old`;
  const hadOld = await fs.rename(target, old).then(
    () => true,
    (e: NodeJS.ErrnoException) => {
      if (e.code === 'ENOENT') return false;
      throw e;
    },
  );
  await fs.rename(tmp, target);
  releaseTempDir(tmp);
  if (hadOld) await fs.rm(old, { recursive: true, force: true });
}

/** Runs `fill(tmp)` and moves tmp into place; on any failure the temp dir is removed and target untouched. */
export async function writeDirAtomically<T>(target: string, fill: (tmp: string) => Promise<T>): Promise<T> {
  await fs.mkdir(path.dirname(target), { recursive: true });
  const tmp = await makeTempDir(target);
  try {
    const result = await fill(tmp);
    await replaceDir(tmp, target);
    return result;
  } catch (e) {
    await fs.rm(tmp, { recursive: true, force: true });
    releaseTempDir(tmp);
    throw e;
  }
}

export async function readMeta(file: string): Promise<DatasetMeta> {
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch {
    throw new DataError(`missing ${file}`, 'Run the stage that writes it first (lockstep repro).');
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
    throw new DataError(
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
