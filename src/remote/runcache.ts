import { randomBytes } from 'node:crypto';
import { createWriteStream, promises as fs } from 'node:fs';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { LockstepError } from '../errors.js';
import { showPath, unsafeRelPath } from '../util/safe-path.js';
import { RUNS_PREFIX } from './keys.js';
import { isDirHash, type Md5 } from '../hash/types.js';
import { readRunCacheEntries } from '../pipeline/run-cache.js';
import {
  forEachConcurrent,
  pushObjectsTo,
  retryingOp,
  type PushSource,
  type TransferOptions,
  type TransferResult,
} from './transfer.js';
import type { Remote } from './types.js';

/**
 * The run-cache (`<cacheDir>/runs/…`, written by the pipeline engine) travels as a plain mirror of
 * files under the remote's `runs/` (where DVC keeps it too). Entries are immutable once written,
 * so presence by name is enough; their outputs travel as ordinary objects.
 */
async function localRunFiles(cacheDir: string): Promise<string[]> {
  const base = path.join(cacheDir, 'runs');
  const out: string[] = [];
  const walk = async (dir: string, rel: string): Promise<void> => {
    let entries: import('node:fs').Dirent[];
    try {
      entries = await fs.readdir(dir, { withFileTypes: true });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw e;
    }
    for (const ent of entries) {
      if (ent.name.startsWith('.') || ent.name.endsWith('.tmp')) continue;
      const r = rel ? `${rel}/${ent.name}` : ent.name;
      if (ent.isDirectory()) await walk(path.join(dir, ent.name), r);
      else if (ent.isFile()) out.push(r);
    }
  };
  await walk(base, '');
  return out;
}

async function remoteRunFiles(remote: Remote, opts: TransferOptions, under = ''): Promise<Set<string>> {
  const keys = new Set<string>();
  await retryingOp(remote, RUNS_PREFIX + under, opts, async () => {
    keys.clear();
    for await (const k of remote.list(RUNS_PREFIX + under)) keys.add(k.slice(RUNS_PREFIX.length));
  });
  return keys;
}

const RUN_FILE_RE = /^[0-9a-f]{2}\/[0-9a-f]{64}\/[0-9a-f]{64}$/;

/**
 * A remote's listing is untrusted: a name that could write outside `runs/` is refused, other names
 * that are not `ab/<key>/<entry>` (a README, a stray upload) are left alone.
 */
function isRunCacheName(remote: Remote, rel: string): boolean {
  const why = unsafeRelPath(rel);
  if (why) {
    throw new LockstepError(
      'remote',
      `remote ${remote.display} lists an unsafe run-cache entry ${showPath(RUNS_PREFIX + rel)} (${why})`,
      'Remove that entry from the remote.',
    );
  }
  return RUN_FILE_RE.test(rel);
}

/** Where the entries of one run-cache key live, under `runs/` (the engine's layout, DVC's too). */
export const runCacheKeyPrefix = (key: string): string => `${key.slice(0, 2)}/${key}/`;

/**
 * Upload the run-cache entries the remote lacks. An entry names its outputs' objects, and another machine
 * restores from it by fetching them: so the objects go first (as `lockstep push` sends them), and an entry
 * goes up only when every object it names is then on the remote. An entry whose objects this cache lacks
 * stays here; those objects are reported as `missing`. Entries that fail the lock checks never leave.
 */
export async function pushRunCache(
  cacheDir: string,
  remote: Remote,
  opts: TransferOptions,
  store: PushSource,
): Promise<TransferResult> {
  const local = await localRunFiles(cacheDir);
  const there = await remoteRunFiles(remote, opts);
  const todo = local.filter((r) => !there.has(r) && RUN_FILE_RE.test(r));
  const byKey = new Map<string, Set<string>>();
  for (const rel of todo) {
    const [, key, name] = rel.split('/') as [string, string, string];
    byKey.set(key, (byKey.get(key) ?? new Set()).add(name));
  }
  const named: { rel: string; outs: Md5[] }[] = [];
  for (const [key, names] of byKey) {
    for (const { name, entry } of await readRunCacheEntries(cacheDir, key)) {
      if (names.has(name))
        named.push({ rel: `${runCacheKeyPrefix(key)}${name}`, outs: (entry.outs ?? []).map((o) => o.md5) });
    }
  }
  const roots = [...new Set(named.flatMap((n) => n.outs))];
  const objects = roots.length > 0 ? await pushObjectsTo(store, remote, roots, opts) : { missing: [] as Md5[] };
  const missing = new Set(objects.missing);
  const whole = async (h: Md5) =>
    !missing.has(h) && (!isDirHash(h) || missing.size === 0 || (await dirComplete(store, h, missing)));
  const ready: string[] = [];
  for (const n of named) {
    let ok = true;
    for (const h of n.outs) if (!(await whole(h))) ok = false;
    if (ok) ready.push(n.rel);
  }
  let bytes = 0;
  await forEachConcurrent(ready, opts.jobs, (rel) =>
    retryingOp(remote, RUNS_PREFIX + rel, opts, () =>
      remote.upload(path.join(cacheDir, 'runs', ...rel.split('/')), RUNS_PREFIX + rel, (n) => (bytes += n)),
    ),
  );
  return { transferred: ready.length, bytes, upToDate: local.length - todo.length, missing: [...missing] };
}

/** Whether a directory's manifest and every file it lists are in `store` and none of them is `missing`. */
export async function dirComplete(store: PushSource, dir: Md5, missing: ReadonlySet<Md5>): Promise<boolean> {
  if (missing.has(dir) || !(await store.has(dir))) return false;
  return (await store.readManifest(dir)).every((e) => !missing.has(e.md5));
}

/** Copy the remote's run-cache entries (all, or those under `under`, e.g. one key's) that the cache lacks. */
export async function fetchRunCache(
  cacheDir: string,
  remote: Remote,
  opts: TransferOptions,
  under = '',
): Promise<TransferResult> {
  const there = await remoteRunFiles(remote, opts, under);
  const local = new Set(await localRunFiles(cacheDir));
  const todo = [...there].filter((r) => !local.has(r) && isRunCacheName(remote, r));
  let bytes = 0;
  await forEachConcurrent(todo, opts.jobs, (rel) =>
    retryingOp(remote, RUNS_PREFIX + rel, opts, async () => {
      const target = path.join(cacheDir, 'runs', ...rel.split('/'));
      await fs.mkdir(path.dirname(target), { recursive: true });
      const tmp = `${target}.${randomBytes(4).toString('hex')}.tmp`;
      try {
        await pipeline(await remote.read(RUNS_PREFIX + rel), createWriteStream(tmp));
        bytes += (await fs.stat(tmp)).size;
        await fs.rename(tmp, target);
      } finally {
        await fs.rm(tmp, { force: true });
      }
    }),
  );
  return { transferred: todo.length, bytes, upToDate: there.size - todo.length, missing: [] };
}
