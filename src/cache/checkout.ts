/**
 * Checking out an output: make the workspace path hold exactly what the cache recorded, touching
 * only files that differ and verifying every object before it is used.
 */
import { lstatSync, mkdirSync, readdirSync, readlinkSync, rmdirSync, rmSync, statSync, type Stats } from 'node:fs';
import path from 'node:path';
import { CachingHasher } from '../hash/hasher.js';
import { compareCodePoints } from '../hash/pyjson.js';
import { statCacheFor } from '../hash/stat-cache.js';
import { isDirHash, type DirEntry, type HashInfo, type Md5 } from '../hash/types.js';
import type { OutputOptions } from './commit.js';
import { LinkPlanner, placeAt, placeObject, usableLinkTypes, writeCopy } from './link.js';
import type { LocalObjectStore } from './object-store.js';
import type { LinkType } from './types.js';
import { yieldToLoop } from '../util/yield.js';
import { LockstepError } from '../errors.js';

const BATCH = 500;

export interface CheckoutOptions extends OutputOptions {
  /** Hasher to judge existing workspace files with (default: one on the store's stat cache). */
  hasher?: CachingHasher;
}

interface Ctx {
  store: LocalObjectStore;
  planner: LinkPlanner;
  hasher: CachingHasher;
  display: (abs: string) => string;
  /** Files written by this checkout, recorded in the stat cache at the end (see recordPlaced). */
  placed: { abs: string; md5: Md5 }[];
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
  const abs = path.resolve(absPath);
  const ctx: Ctx = {
    store,
    planner: new LinkPlanner(usableLinkTypes(linkTypes, store.root, path.dirname(abs))),
    hasher: opts.hasher ?? new CachingHasher(statCache),
    display: (p) => path.relative(opts.displayRoot ?? process.cwd(), p) || p,
    placed: [],
  };
  try {
    const changed = isDirHash(info.md5)
      ? await checkoutDir(ctx, info.md5, abs)
      : await checkoutFile(ctx, info.md5, abs, lstatOrNull(abs));
    return { changed };
  } finally {
    recordPlaced(ctx);
    await statCache.save();
  }
}

function lstatOrNull(abs: string): Stats | null {
  return lstatSync(abs, { throwIfNoEntry: false }) ?? null;
}

/** Does the existing workspace file already hold `md5` in an acceptable form? */
async function isCurrent(ctx: Ctx, md5: Md5, abs: string, lst: Stats): Promise<boolean> {
  const obj = ctx.store.objectPath(md5);
  if (lst.isSymbolicLink()) {
    // A link into the cache is right only if symlinks are wanted, it points at this object, and the
    // object still holds its content (root can write through the link despite the 0444 mode).
    if (!ctx.planner.types.includes('symlink')) return false;
    let target: string;
    try {
      target = readlinkSync(abs);
    } catch {
      return false;
    }
    return (
      target === obj &&
      ctx.store.ensureVerified(md5, ctx.display(abs)).then(
        () => true,
        () => false,
      )
    );
  }
  if (!lst.isFile()) return false;
  if (lst.nlink > 1 && !ctx.planner.types.includes('hardlink')) {
    // A hardlink into the cache where independent copies are wanted must be replaced.
    const o = statSync(obj, { throwIfNoEntry: false });
    if (o !== undefined && o.ino === lst.ino && o.dev === lst.dev) return false;
  }
  return (await ctx.hasher.hashStatted(abs, lst)) === md5;
}

async function checkoutFile(ctx: Ctx, md5: Md5, abs: string, lst: Stats | null): Promise<boolean> {
  if (lst !== null) {
    if (lst.isDirectory()) rmSync(abs, { recursive: true, force: true });
    else if (await isCurrent(ctx, md5, abs, lst)) return false;
  }
  const exists = lst !== null && !lst.isDirectory();
  if (!exists) mkdirSync(path.dirname(abs), { recursive: true });
  await place(ctx, md5, abs, exists);
  return true;
}

/** Errors meaning the workspace's disk (or the user's quota) is full. */
const NO_SPACE = new Set(['ENOSPC', 'EDQUOT']);

/**
 * Verify the object (once) and put it at `abs`. A full disk fails the checkout with one line naming
 * the file: the temp sibling is gone (placeAt removes it), the file keeps its old content or stays absent.
 */
async function place(ctx: Ctx, md5: Md5, abs: string, exists: boolean): Promise<void> {
  try {
    await placeUnchecked(ctx, md5, abs, exists);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (!code || !NO_SPACE.has(code)) throw e;
    throw new LockstepError(
      'no-space',
      `no space left on the device to write ${ctx.display(abs)} (${code})`,
      'Free some space there, then run the command again: what is already restored stays.',
    );
  }
}

async function placeUnchecked(ctx: Ctx, md5: Md5, abs: string, exists: boolean): Promise<void> {
  const { store, planner } = ctx;
  const obj = store.objectPath(md5);
  if (planner.current === 'copy') {
    // Small objects: one read serves both the verification and the copy.
    const bytes = store.readVerifiedSmallSync(md5, () => ctx.display(abs));
    if (bytes !== undefined) {
      placeAt(abs, exists, (t) => writeCopy(bytes, t));
      ctx.placed.push({ abs, md5 });
      return;
    }
  }
  await store.ensureVerified(md5, () => ctx.display(abs));
  planner.run((type) => placeAt(abs, exists, (t) => placeObject(type, obj, t)));
  ctx.placed.push({ abs, md5 });
}

/**
 * Files this checkout wrote hold verified content, so they go into the stat cache without being
 * read. As with git's index after a checkout, the content observation is our own write: a file
 * whose mtime is still within the racy window when we get here is left out, and the remaining risk
 * is another process rewriting a file within the same timestamp tick as our write, during checkout.
 */
function recordPlaced(ctx: Ctx): void {
  const now = Date.now();
  for (const { abs, md5 } of ctx.placed) {
    const st = statSync(abs, { throwIfNoEntry: false });
    if (st !== undefined) ctx.hasher.statCache.setFile(abs, st, md5, now);
  }
}

function checkRelpath(ctx: Ctx, dirMd5: Md5, relpath: string): void {
  const parts = relpath.split('/');
  if (relpath === '' || relpath.startsWith('/') || parts.some((p) => p === '' || p === '.' || p === '..')) {
    throw ctx.store.corrupt(dirMd5);
  }
}

async function checkoutDir(ctx: Ctx, md5: Md5, absPath: string): Promise<boolean> {
  const entries: DirEntry[] = await ctx.store.readManifest(md5, () => ctx.display(absPath));
  for (const e of entries) checkRelpath(ctx, md5, e.relpath);
  let changed = false;

  const top = lstatOrNull(absPath);
  if (top !== null && !top.isDirectory()) {
    rmSync(absPath, { force: true });
    changed = true;
  }
  mkdirSync(absPath, { recursive: true });

  // Remove what the manifest does not list, then directories left empty.
  const wanted = new Set(entries.map((e) => e.relpath));
  for (const rel of walkFilesAndLinks(absPath)) {
    if (!wanted.has(rel)) {
      rmSync(path.join(absPath, rel), { force: true, recursive: true });
      changed = true;
    }
  }
  const parents = [...new Set(entries.map((e) => path.posix.dirname(e.relpath)))];
  if (changed) removeEmptyDirs(absPath, new Set(parents)); // only removals can leave folders empty
  // Create parent folders once, shallowest first, rather than once per file.
  for (const d of parents.filter((p) => p !== '.').sort(compareCodePoints))
    mkdirSync(path.join(absPath, d), { recursive: true });

  for (let i = 0; i < entries.length; i++) {
    if (i > 0 && i % BATCH === 0) await yieldToLoop();
    const e = entries[i] as DirEntry;
    const abs = `${absPath}/${e.relpath}`;
    if (await checkoutFile(ctx, e.md5, abs, lstatOrNull(abs))) changed = true;
  }
  return changed;
}

/** Every non-directory below `root` (files, symlinks of any kind), as POSIX relpaths. */
function walkFilesAndLinks(root: string): string[] {
  const out: string[] = [];
  const pending = [''];
  while (pending.length > 0) {
    const rel = pending.pop() as string;
    for (const d of readdirSync(rel === '' ? root : path.join(root, rel), { withFileTypes: true })) {
      const childRel = rel === '' ? d.name : `${rel}/${d.name}`;
      if (d.isDirectory()) pending.push(childRel);
      else out.push(childRel);
    }
  }
  return out;
}

/** Remove directories below `root` that hold no files and are not needed by the manifest. */
function removeEmptyDirs(root: string, keep: Set<string>): void {
  const visit = (rel: string): boolean => {
    const abs = rel === '' ? root : path.join(root, rel);
    let empty = true;
    for (const d of readdirSync(abs, { withFileTypes: true })) {
      if (d.isDirectory()) {
        if (!visit(rel === '' ? d.name : `${rel}/${d.name}`)) empty = false;
      } else empty = false;
    }
    if (empty && rel !== '' && !keep.has(rel)) {
      rmdirSync(abs);
      return true;
    }
    return false;
  };
  visit('');
}
