/**
 * Runs in progress and gc exclude each other, per cache (a cache may be shared by several workspaces and
 * by every `exp run` workspace).
 *
 * A run (repro, exp run) writes objects that no root names until it records them (a lock entry, an
 * experiment ref), so gc must not sweep while one is going. Each side announces itself before looking
 * at the other, with files under `<cache>/tmp/activity/`:
 *   - a run creates `run-<pid>-<start>.json` (its process identity and command), then checks for
 *     `gc.lock`; if a live gc holds it, the run withdraws, waits for gc to end and tries again;
 *   - gc creates `gc.lock` (O_EXCL), then lists the run files; if a live run is there, gc withdraws and
 *     fails naming it (or waits with --wait).
 * Both write before they read, so at least one of two racing sides sees the other: a run never writes
 * an object while gc deletes. Files of dead processes (kill -9) are ignored and removed.
 */
import { promises as fs, rmSync } from 'node:fs';
import path from 'node:path';
import { LockstepError } from '../errors.js';
import { stillRunning, thisProcess, type ProcessId } from '../util/process-id.js';
import { removeFile } from '../util/atomic.js';

interface ActivityEntry extends ProcessId {
  command: string;
  started: string;
}

const dirOf = (cacheDir: string) => path.join(cacheDir, 'tmp', 'activity');
const GC_LOCK = 'gc.lock';
const POLL_MS = 100;

async function readEntry(file: string): Promise<ActivityEntry | null> {
  try {
    const e = JSON.parse(await fs.readFile(file, 'utf8')) as ActivityEntry;
    return typeof e?.pid === 'number' ? e : null;
  } catch {
    return null;
  }
}

function me(command: string): ActivityEntry {
  return { ...thisProcess(), command, started: new Date().toISOString() };
}

/** Remove `file` at exit too (process.exit on a signal), unless released before. */
function removeAtExit(file: string): () => void {
  const onExit = () => rmSync(file, { force: true });
  process.on('exit', onExit);
  return () => process.off('exit', onExit);
}

/** A live gc's entry, or null (a dead gc's lock is removed). */
async function liveGc(dir: string): Promise<ActivityEntry | null> {
  const file = path.join(dir, GC_LOCK);
  const entry = await readEntry(file);
  if (entry && stillRunning(entry)) return entry;
  if (
    entry ||
    (await fs.access(file).then(
      () => true,
      () => false,
    ))
  ) {
    // dead, or half-written by a process that died at once: rename first so two cleaners cannot race
    const stale = `${file}.stale.${process.pid}`;
    await fs.rename(file, stale).then(
      () => removeFile(stale),
      () => undefined,
    );
  }
  return null;
}

/**
 * Register a run using the cache until the returned function is called. Waits (as long as it takes:
 * gc is short) while a gc is sweeping.
 */
export async function registerRun(cacheDir: string, command: string): Promise<() => Promise<void>> {
  const dir = dirOf(cacheDir);
  await fs.mkdir(dir, { recursive: true });
  const entry = me(command);
  const file = path.join(dir, `run-${entry.pid}-${entry.startTime ?? 'x'}-${Date.now()}.json`);
  for (;;) {
    await fs.writeFile(file, JSON.stringify(entry));
    if ((await liveGc(dir)) === null) break;
    await removeFile(file);
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
  const forget = removeAtExit(file);
  return async () => {
    forget();
    await removeFile(file);
  };
}

/** The live runs registered on this cache (stale files of dead processes are removed). */
export async function runsInProgress(cacheDir: string): Promise<ActivityEntry[]> {
  const dir = dirOf(cacheDir);
  const names = await fs.readdir(dir).catch(() => [] as string[]);
  const live: ActivityEntry[] = [];
  for (const n of names.filter((x) => x.startsWith('run-') && x.endsWith('.json'))) {
    const entry = await readEntry(path.join(dir, n));
    if (entry && stillRunning(entry)) live.push(entry);
    else if (entry) await removeFile(path.join(dir, n));
    // an unreadable entry may be one being written right now: it is neither live nor removed
  }
  return live.sort((a, b) => a.started.localeCompare(b.started));
}

/**
 * Hold the cache for gc: no run is in progress and none starts until the returned function is called.
 * With `waitMs` > 0, waits that long for runs to finish; otherwise fails naming them.
 */
export async function holdCacheForGc(cacheDir: string, waitMs: number): Promise<() => Promise<void>> {
  const dir = dirOf(cacheDir);
  await fs.mkdir(dir, { recursive: true });
  const file = path.join(dir, GC_LOCK);
  const deadline = Date.now() + waitMs;
  for (;;) {
    let handle: fs.FileHandle | undefined;
    try {
      handle = await fs.open(file, 'wx');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
    if (handle) {
      await handle.writeFile(JSON.stringify(me('lockstep gc')));
      await handle.close();
      const runs = await runsInProgress(cacheDir);
      if (runs.length === 0) {
        const forget = removeAtExit(file);
        return async () => {
          forget();
          await removeFile(file);
        };
      }
      await removeFile(file);
      if (Date.now() >= deadline) throw busy(runs, waitMs);
    } else {
      const other = await liveGc(dir);
      if (other && Date.now() >= deadline)
        throw new LockstepError(
          'locked',
          `gc: another gc (pid ${other.pid}) is sweeping this cache`,
          'Wait for it to finish, or run with --wait.',
        );
    }
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
}

function busy(runs: ActivityEntry[], waitMs: number): LockstepError {
  const shown = runs
    .slice(0, 3)
    .map((r) => `pid ${r.pid} ${r.command}, started ${r.started}`)
    .join('; ');
  const n = runs.length;
  return new LockstepError(
    'locked',
    `gc: ${n} run${n > 1 ? 's are' : ' is'} using the cache (${shown}${n > 3 ? '; ...' : ''}); what ` +
      `${n > 1 ? 'they write' : 'it writes'} is recorded only when ${n > 1 ? 'they end' : 'it ends'}`,
    waitMs > 0
      ? 'It is still running; wait longer with --wait SECONDS.'
      : 'Run gc again when it ends, or with --wait to queue behind it.',
  );
}
