import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { openObjectStore } from '../cache/index.js';
import { LockstepError } from '../errors.js';
import { isMd5, type Md5 } from '../hash/types.js';
import type { ExperimentRecord } from '../exp/types.js';
import type { LockFile, LockedPath } from '../pipeline/lockfile-types.js';
import { PREDICTIONS_PATH, parsePredictionsCsv } from '../product/predictions.js';
import type { PredictionRun } from './types.js';

/** `<cacheDir>/files/md5/ab/cdef…` (DVC 3 layout; `.dir` manifests keep their suffix). */
export function cacheObjectPath(cacheDir: string, md5: string): string {
  return path.join(cacheDir, 'files', 'md5', md5.slice(0, 2), md5.slice(2));
}

/** The cache file of a hash read from a record: refused unless it is a hash (a path would reach anywhere). */
function objectFile(cacheDir: string, md5: unknown, where: string): string {
  if (typeof md5 !== 'string' || !isMd5(md5)) {
    throw new LockstepError(
      'corrupt-object',
      `${where}: ${JSON.stringify(String(md5)).slice(0, 80)} is not an md5 hash`,
      'The record is damaged; remove the experiment (lockstep exp remove) or run it again.',
    );
  }
  return cacheObjectPath(cacheDir, md5);
}

const trimSlash = (p: string): string => p.replace(/\\/g, '/').replace(/^\.\//, '').replace(/\/+$/, '');

/**
 * Every out of every stage of a lock file. Deps are left out: the cache keeps outs, and a dep that
 * is no stage's out (e.g. committed source images) is only in the workspace.
 */
function lockedOuts(lock: LockFile): LockedPath[] {
  return Object.values(lock.stages ?? {}).flatMap((s) => s.outs ?? []);
}

export function findLockedPath(lock: LockFile, rel: string): LockedPath | undefined {
  return lockedOuts(lock).find((o) => trimSlash(o.path) === rel);
}

async function readIfExists(file: string): Promise<Buffer | null> {
  try {
    return await fs.readFile(file);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw e;
  }
}

/** Names unique within the report: experiments of different baselines may share a name. */
function displayNames(records: readonly ExperimentRecord[]): string[] {
  const counts = new Map<string, number>();
  for (const r of records) counts.set(r.name, (counts.get(r.name) ?? 0) + 1);
  return records.map((r) => ((counts.get(r.name) ?? 0) > 1 ? `${r.name}@${r.baseline.slice(0, 7)}` : r.name));
}

export interface LoadedRuns {
  runs: PredictionRun[];
  /** The lock of each run, same order as `runs`, to resolve image paths. */
  locks: LockFile[];
  /** Failed experiments left out of the report. */
  skipped: string[];
}

/**
 * Read every successful experiment's predictions from the cache object its pipeline.lock names.
 * Collects every experiment that has no predictions before failing, so one message names them all;
 * nothing is returned unless all were read and parsed.
 */
export async function loadPredictionRuns(records: readonly ExperimentRecord[], cacheDir: string): Promise<LoadedRuns> {
  if (records.length === 0) {
    throw new LockstepError('report', 'no experiments recorded', 'Run lockstep exp run first.');
  }
  const names = displayNames(records);
  const chosen: { record: ExperimentRecord; name: string; out: LockedPath }[] = [];
  const skipped: string[] = [];
  const notInLock: string[] = [];
  for (const [i, record] of records.entries()) {
    const name = names[i] as string;
    if (record.state !== 'success') {
      skipped.push(name);
      continue;
    }
    const out = record.lock ? findLockedPath(record.lock, PREDICTIONS_PATH) : undefined;
    if (!out) notInLock.push(name);
    else chosen.push({ record, name, out });
  }
  if (notInLock.length > 0) {
    throw new LockstepError(
      'report',
      `pipeline.lock of experiment${plural(notInLock)} ${notInLock.join(', ')} records no ${PREDICTIONS_PATH}`,
      'Select experiments whose pipeline has an evaluate stage (--exp NAME).',
    );
  }
  if (chosen.length === 0) {
    throw new LockstepError(
      'report',
      `no successful experiments (failed: ${skipped.join(', ')})`,
      'Fix the failure and run lockstep exp run again.',
    );
  }

  const texts = await Promise.all(
    chosen.map((c) => readIfExists(objectFile(cacheDir, c.out.md5, `experiment '${c.name}' ${PREDICTIONS_PATH}`))),
  );
  const missing = chosen.filter((_, i) => texts[i] === null).map((c) => c.name);
  if (missing.length > 0) {
    throw new LockstepError(
      'report',
      `${PREDICTIONS_PATH} of experiment${plural(missing)} ${missing.join(', ')} missing from the cache ${cacheDir}`,
      'Run lockstep pull to fetch it from the remote.',
    );
  }
  const runs = chosen.map((c, i) => {
    const bytes = texts[i] as Buffer;
    const source = `experiment '${c.name}' ${PREDICTIONS_PATH}`;
    const actual = createHash('md5').update(bytes).digest('hex');
    if (actual !== c.out.md5) {
      throw new LockstepError(
        'corrupt-object',
        `${source}: cache object ${c.out.md5} hashes to ${actual}`,
        'Remove the object and run lockstep pull.',
      );
    }
    const parsed = parsePredictionsCsv(bytes.toString('utf8'), source);
    return { name: c.name, source, classes: parsed.classes, rows: parsed.rows };
  });
  return { runs, locks: chosen.map((c) => c.record.lock as LockFile), skipped };
}

const plural = (xs: readonly unknown[]): string => (xs.length > 1 ? 's' : '');

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

export type ImageLookup = { bytes: Buffer; from: 'cache' | 'workspace' } | { bytes: null; why: string };

/**
 * Resolves an image's repo-relative path to its PNG bytes through the locks' outs: a directory out
 * containing the path is looked up in its `.dir` manifest, then read from the cache. The workspace
 * is used only when no lock records the path, since it may hold a different version.
 */
export class ImageResolver {
  private readonly manifests = new Map<string, Promise<Map<string, string> | null>>();

  constructor(
    private readonly locks: readonly LockFile[],
    private readonly cacheDir: string,
    private readonly root: string,
  ) {}

  async lookup(imagePath: string): Promise<ImageLookup> {
    const rel = trimSlash(imagePath);
    let recorded = false;
    for (const lock of this.locks) {
      for (const entry of lockedOuts(lock)) {
        const md5 = await this.md5Within(entry, rel);
        if (md5 === undefined) continue;
        recorded = true;
        if (md5 === null) continue;
        const bytes = await readIfExists(objectFile(this.cacheDir, md5, `${entry.path} in a pipeline.lock`));
        if (bytes) return checkPng(bytes, 'cache', rel);
      }
    }
    if (recorded) return { bytes: null, why: `${rel} is missing from the cache` };
    const abs = path.resolve(this.root, rel);
    if (path.relative(this.root, abs).startsWith('..') || path.isAbsolute(path.relative(this.root, abs))) {
      return { bytes: null, why: `${rel} is outside the project` };
    }
    const bytes = await readIfExists(abs);
    return bytes
      ? checkPng(bytes, 'workspace', rel)
      : { bytes: null, why: `${rel} is in no pipeline.lock and not in the workspace` };
  }

  /** md5 of `rel` inside `entry` (undefined: not inside; null: inside a directory whose manifest is missing). */
  private async md5Within(entry: LockedPath, rel: string): Promise<string | null | undefined> {
    const base = trimSlash(entry.path);
    if (base === rel) return entry.md5;
    if (!entry.md5.endsWith('.dir') || !rel.startsWith(`${base}/`)) return undefined;
    const manifest = await this.manifest(entry.md5, base);
    if (!manifest) return null;
    return manifest.get(rel.slice(base.length + 1));
  }

  /**
   * The manifest through the cache's one reader: its bytes must hash to its name, every entry's md5
   * must be a hash and every relpath a safe path inside the output (util/safe-path.ts), else it is
   * refused as a corrupt object. Missing: null.
   */
  private manifest(md5: string, forPath: string): Promise<Map<string, string> | null> {
    let m = this.manifests.get(md5);
    if (!m) {
      const store = openObjectStore(this.cacheDir);
      m = (async () => {
        objectFile(this.cacheDir, md5, 'a directory output in a pipeline.lock');
        try {
          const entries = await store.readManifest(md5 as Md5, forPath);
          return new Map(entries.map((e) => [e.relpath, e.md5]));
        } catch (e) {
          if (e instanceof LockstepError && e.reason === 'missing-object') return null;
          throw e;
        }
      })();
      this.manifests.set(md5, m);
    }
    return m;
  }
}

function checkPng(bytes: Buffer, from: 'cache' | 'workspace', rel: string): ImageLookup {
  if (bytes.length < 8 || !bytes.subarray(0, 8).equals(PNG_SIGNATURE))
    return { bytes: null, why: `${rel} is not a PNG` };
  return { bytes, from };
}
