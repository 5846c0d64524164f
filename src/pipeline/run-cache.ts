import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { dump, load } from 'js-yaml';
import { writeFileAtomic } from '../util/atomic.js';
import { unsafeRelPath } from '../util/safe-path.js';
import { checkStage } from './lockfile-schema.js';
import type { LockedPath, LockedStage } from './lockfile-types.js';
import { canonicalJson } from './staleness.js';

/**
 * The run-cache: for a key over (cmd, dep paths and hashes, param values), the outputs a run produced.
 * Stored like DVC's: `<cacheDir>/runs/<key[0:2]>/<key>/<sha256 of the entry>`, each entry a YAML lock
 * entry. Entries are immutable and written atomically; several per key are possible (non-deterministic
 * commands), the newest is tried first.
 */
export function runCacheKey(
  cmd: string | string[],
  deps: LockedPath[],
  params: Record<string, Record<string, unknown>>,
): string {
  const depKey = [...deps].sort((a, b) => (a.path < b.path ? -1 : 1)).map((d) => ({ path: d.path, md5: d.md5 }));
  return createHash('sha256')
    .update(canonicalJson({ cmd, deps: depKey, params }))
    .digest('hex');
}

function keyDir(cacheDir: string, key: string): string {
  return path.join(cacheDir, 'runs', key.slice(0, 2), key);
}

export async function saveRunCacheEntry(cacheDir: string, key: string, entry: LockedStage): Promise<void> {
  const text = dump(entry, { lineWidth: -1, noRefs: true });
  const name = createHash('sha256').update(text).digest('hex');
  const file = path.join(keyDir(cacheDir, key), name);
  try {
    await fs.access(file);
    const now = new Date();
    await fs.utimes(file, now, now); // newest first on lookup
  } catch {
    await writeFileAtomic(file, text);
  }
}

/** Entries for a key, newest first; unreadable entries are skipped (they never make a stage fresh). */
export async function findRunCacheEntries(cacheDir: string, key: string): Promise<LockedStage[]> {
  return (await readRunCacheEntries(cacheDir, key)).map((e) => e.entry);
}

/** The entries of a key with their file names (`<sha256>` under `runs/<ab>/<key>/`), newest first. */
export async function readRunCacheEntries(
  cacheDir: string,
  key: string,
): Promise<{ name: string; entry: LockedStage }[]> {
  const dir = keyDir(cacheDir, key);
  let names: string[];
  try {
    names = (await fs.readdir(dir)).filter((n) => !n.startsWith('.') && !n.endsWith('.tmp'));
  } catch {
    return [];
  }
  const withTime = await Promise.all(
    names.map(async (n) => ({ n, t: (await fs.stat(path.join(dir, n)).catch(() => null))?.mtimeMs ?? -1 })),
  );
  withTime.sort((a, b) => b.t - a.t);
  const entries: { name: string; entry: LockedStage }[] = [];
  for (const { n } of withTime) {
    try {
      // Entries travel through remotes: the same checks as a lock file's, and every path repo-relative.
      const e = checkStage(`run-cache entry ${n}`, key, load(await fs.readFile(path.join(dir, n), 'utf8')));
      const paths = [...(e.deps ?? []), ...(e.outs ?? [])].map((p) => p.path).concat(Object.keys(e.params ?? {}));
      if (Array.isArray(e.outs) && paths.every((p) => unsafeRelPath(p) === undefined))
        entries.push({ name: n, entry: e });
    } catch {
      // a damaged or hostile entry is ignored, not trusted: the stage runs instead
    }
  }
  return entries;
}

/** Every run-cache entry file (for gc and for pushing the run-cache to a remote). */
export async function listRunCacheFiles(cacheDir: string): Promise<string[]> {
  const root = path.join(cacheDir, 'runs');
  const out: string[] = [];
  let heads: string[];
  try {
    heads = await fs.readdir(root);
  } catch {
    return out;
  }
  for (const h of heads) {
    for (const k of await fs.readdir(path.join(root, h)).catch(() => [] as string[])) {
      for (const e of await fs.readdir(path.join(root, h, k)).catch(() => [] as string[])) {
        if (!e.startsWith('.')) out.push(path.join(root, h, k, e));
      }
    }
  }
  return out;
}
