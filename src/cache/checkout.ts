/**
 * Checking out an output: make the workspace path hold exactly what the cache recorded, touching
 * only files that differ and verifying every object before it is used.
 */
import { promises as fs, type BigIntStats } from 'node:fs';
import path from 'node:path';
import { CachingHasher } from '../hash/hasher.js';
import { compareCodePoints } from '../hash/pyjson.js';
import { nowNs, statCacheFor } from '../hash/stat-cache.js';
import { isDirHash, type DirEntry, type HashInfo, type Md5 } from '../hash/types.js';
import { mapLimit } from '../util/pool.js';
import type { OutputOptions } from './commit.js';
import { LinkPlanner, placeObject, replaceWithObject } from './link.js';
import type { LocalObjectStore } from './object-store.js';
import type { LinkType } from './types.js';

const CHECKOUT_CONCURRENCY = 16;

export interface CheckoutOptions extends OutputOptions {
  /** Hasher to judge existing workspace files with (default: one on the store's stat cache). */
  hasher?: CachingHasher;
}

export async function checkoutOutputImpl(
  store: LocalObjectStore,
  info: HashInfo,
  absPath: string,
  linkTypes: readonly LinkType[],
  opts: CheckoutOptions = {},
): Promise<{ changed: boolean }> {
  const statCache = statCacheFor(store.root);
  await statCache.load();
  const ctx: Ctx = {
    store,
    planner: new LinkPlanner(linkTypes),
    hasher: opts.hasher ?? new CachingHasher(statCache),
    display: (abs) => path.relative(opts.displayRoot ?? process.cwd(), abs) || abs,
  };
  const changed = isDirHash(info.md5) ? await checkoutDir(ctx, info.md5, absPath) : await checkoutFile(ctx, info.md5, absPath, await lstatOrNull(absPath));
  await statCache.save();
  return { changed };
}

interface Ctx {
  store: LocalObjectStore;
  planner: LinkPlanner;
  hasher: CachingHasher;
  display: (abs: string) => string;
}

async function lstatOrNull(abs: string): Promise<BigIntStats | null> {
  try {
    return await fs.lstat(abs, { bigint: true });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw e;
  }
}

/** Does the existing workspace file already hold `md5` in an acceptable form? */
async function isCurrent(ctx: Ctx, md5: Md5, abs: string, lst: BigIntStats): Promise<boolean> {
  const obj = ctx.store.objectPath(md5);
  if (lst.isSymbolicLink()) {
    // A link into the cache is right only if symlinks are wanted and it points at this object.
    return ctx.planner.types.includes('symlink') && (await fs.readlink(abs).catch(() => '')) === obj;
  }
  if (!lst.isFile()) return false;
  if (lst.nlink > 1n && !ctx.planner.types.includes('hardlink')) {
    // A hardlink into the cache where independent copies are wanted must be replaced.
    const o = await fs.stat(obj, { bigint: true }).catch(() => undefined);
    if (o !== undefined && o.ino === lst.ino && o.dev === lst.dev) return false;
  }
  return (await ctx.hasher.hashStatted(abs, lst)) === md5;
}

async function checkoutFile(ctx: Ctx, md5: Md5, abs: string, lst: BigIntStats | null): Promise<boolean> {
  if (lst !== null) {
    if (lst.isDirectory()) await fs.rm(abs, { recursive: true, force: true });
    else if (await isCurrent(ctx, md5, abs, lst)) return false;
  }
  await ctx.store.ensureVerified(md5, ctx.display(abs));
  const obj = ctx.store.objectPath(md5);
  const exists = lst !== null && !lst.isDirectory();
  if (!exists) await fs.mkdir(path.dirname(abs), { recursive: true });
  await ctx.planner.run((type) => (exists ? replaceWithObject(type, obj, abs) : placeObject(type, obj, abs)));
  await rememberPlaced(ctx, abs, md5);
  return true;
}

/** A file just placed from a verified object has a known hash: record it without reading it. */
async function rememberPlaced(ctx: Ctx, abs: string, md5: Md5): Promise<void> {
  const observedAt = nowNs();
  const st = await fs.stat(abs, { bigint: true }).catch(() => undefined);
  // A fresh copy has a fresh mtime and is skipped as racy; a hardlink keeps the object's old mtime.
  if (st !== undefined) ctx.hasher.statCache.setFile(abs, st, md5, observedAt);
}

function checkRelpath(ctx: Ctx, dirMd5: Md5, relpath: string): void {
  const parts = relpath.split('/');
  if (relpath === '' || relpath.startsWith('/') || parts.some((p) => p === '' || p === '.' || p === '..')) {
    throw ctx.store.corrupt(dirMd5);
  }
}

async function checkoutDir(ctx: Ctx, md5: Md5, absPath: string): Promise<boolean> {
  const entries: DirEntry[] = await ctx.store.readManifest(md5);
  for (const e of entries) checkRelpath(ctx, md5, e.relpath);
  let changed = false;

  const top = await lstatOrNull(absPath);
  if (top !== null && !top.isDirectory()) {
    await fs.rm(absPath, { force: true });
    changed = true;
  }
  await fs.mkdir(absPath, { recursive: true });

  // Remove what the manifest does not list, then directories left empty.
  const wanted = new Set(entries.map((e) => e.relpath));
  const existing = await walkFilesAndLinks(absPath);
  for (const rel of existing) {
    if (!wanted.has(rel)) {
      await fs.rm(path.join(absPath, rel), { force: true, recursive: true });
      changed = true;
    }
  }
  await removeEmptyDirs(absPath, new Set(entries.map((e) => path.posix.dirname(e.relpath))));

  // Create parent folders once, shallowest first, rather than once per file.
  const parents = [...new Set(entries.map((e) => path.posix.dirname(e.relpath)))].filter((d) => d !== '.').sort(compareCodePoints);
  for (const d of parents) await fs.mkdir(path.join(absPath, d), { recursive: true });

  const results = await mapLimit(entries, CHECKOUT_CONCURRENCY, async (e) => {
    const abs = path.join(absPath, e.relpath);
    return checkoutFile(ctx, e.md5, abs, await lstatOrNull(abs));
  });
  return changed || results.some(Boolean);
}

/** Every non-directory below `root` (files, symlinks of any kind), as POSIX relpaths. */
async function walkFilesAndLinks(root: string): Promise<string[]> {
  const out: string[] = [];
  const visit = async (rel: string): Promise<void> => {
    const dirents = await fs.readdir(rel === '' ? root : path.join(root, rel), { withFileTypes: true });
    for (const d of dirents) {
      const childRel = rel === '' ? d.name : `${rel}/${d.name}`;
      if (d.isDirectory()) await visit(childRel);
      else out.push(childRel);
    }
  };
  await visit('');
  return out;
}

/** Remove directories below `root` that hold no files and are not needed by the manifest. */
async function removeEmptyDirs(root: string, keep: Set<string>): Promise<void> {
  const visit = async (rel: string): Promise<boolean> => {
    const abs = rel === '' ? root : path.join(root, rel);
    const dirents = await fs.readdir(abs, { withFileTypes: true });
    let empty = true;
    for (const d of dirents) {
      if (d.isDirectory()) {
        const childRel = rel === '' ? d.name : `${rel}/${d.name}`;
        if (!(await visit(childRel))) empty = false;
      } else empty = false;
    }
    if (empty && rel !== '' && !keep.has(rel)) {
      await fs.rmdir(abs).catch(() => undefined);
      return true;
    }
    return false;
  };
  await visit('');
}
