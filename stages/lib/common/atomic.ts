/**
 * Atomic writes for stage outputs: a file through a temp sibling + fsync + rename, a folder built in
 * a temp sibling and swapped in with renames. A crash or a kill leaves the old output or the new one,
 * never a mix; temp folders of a dead run are swept by the next one, and Ctrl-C / SIGTERM remove ours.
 */
import { closeSync, fsyncSync, openSync, rmSync, promises as fs } from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';

const tmpName = (target: string): string =>
  path.join(path.dirname(target), `.${path.basename(target)}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`);

/** Writes a file through a temp sibling + fsync + rename, so readers never see half a file. */
export async function writeFileAtomic(target: string, data: string | Uint8Array): Promise<void> {
  await fs.mkdir(path.dirname(target), { recursive: true });
  const tmp = tmpName(target);
  const handle = await fs.open(tmp, 'w');
  try {
    await handle.writeFile(data);
    await handle.sync();
  } catch (e) {
    await handle.close();
    await fs.rm(tmp, { force: true });
    throw e;
  }
  await handle.close();
  await fs.rename(tmp, target);
}

/** Writes `files` (relative names) into `dir` and fsyncs each, for outputs a crash must not truncate. */
export async function writeFilesSynced(dir: string, files: Record<string, string | Uint8Array>): Promise<void> {
  for (const [name, data] of Object.entries(files)) {
    const file = path.join(dir, name);
    await fs.mkdir(path.dirname(file), { recursive: true });
    await fs.writeFile(file, data);
    const fd = openSync(file, 'r');
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  }
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
  await fs.mkdir(path.dirname(target), { recursive: true });
  await sweepStale(target);
  const tmp = tmpName(target);
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
