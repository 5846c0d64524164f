/**
 * Committing an output: hash it, store every file (and the manifest), and leave the workspace
 * holding the content in the configured link type.
 */
import { chmodSync, copyFileSync, lstatSync, readlinkSync, statSync, symlinkSync } from 'node:fs';
import path from 'node:path';
import { LockstepError } from '../errors.js';
import { CachingHasher } from '../hash/hasher.js';
import type { Hasher } from '../hash/index.js';
import type { DirEntry, HashInfo, Md5 } from '../hash/types.js';
import { isLinkedTo, LinkPlanner, placeAt, placeObject, usableLinkTypes, WRITABLE_MODE } from './link.js';
import type { LinkType } from './types.js';
import type { LocalObjectStore } from './object-store.js';
import { yieldToLoop } from '../util/yield.js';

const BATCH = 500;

export interface OutputOptions {
  /** Folder that paths in messages are shown relative to (default: the current directory). */
  displayRoot?: string;
}

export async function commitOutputImpl(
  store: LocalObjectStore,
  hasher: Hasher,
  absPath: string,
  linkTypes: readonly LinkType[],
  opts: OutputOptions = {},
): Promise<HashInfo> {
  const planner = new LinkPlanner(usableLinkTypes(linkTypes, store.root, absPath));
  // With copy, files read for hashing go straight into the store from the same bytes: one read
  // per new file, and the object is exactly what was hashed.
  const result =
    planner.current === 'copy' && hasher instanceof CachingHasher
      ? await hasher.hashPath(absPath, { onContent: (_abs, md5, bytes) => store.addBytesSync(md5, bytes) })
      : await hasher.hashPath(absPath);
  if (result === null) {
    const shown = path.relative(opts.displayRoot ?? process.cwd(), absPath) || absPath;
    throw new LockstepError(
      'missing-output',
      `output '${shown}' does not exist`,
      'Check that the stage command writes it.',
    );
  }
  // With hardlink/symlink the objects are exposed to writes through workspace links (root ignores
  // their 0444 mode): never link a fresh output to an object whose content has changed.
  if (planner.current === 'hardlink' || planner.current === 'symlink') {
    for (const md5 of result.entries?.map((e) => e.md5) ?? [result.info.md5]) {
      if (store.hasSync(md5) && !(await isIntact(store, md5))) await store.remove(md5);
    }
  }
  if (result.entries === undefined) {
    commitFile(store, planner, path.resolve(absPath), result.info.md5);
  } else {
    const entries: DirEntry[] = result.entries;
    const root = path.resolve(absPath);
    for (let i = 0; i < entries.length; i++) {
      if (i > 0 && i % BATCH === 0) await yieldToLoop();
      const e = entries[i] as DirEntry;
      commitFile(store, planner, `${root}/${e.relpath}`, e.md5);
    }
    const md5 = await store.addManifest(entries);
    if (md5 !== result.info.md5) {
      // Only a stale directory record could disagree with the manifest built from the files'
      // hashes; what was stored is the manifest, so it is the truth.
      if (hasher instanceof CachingHasher) hasher.statCache.forgetDir(root);
      await hasher.save();
      return { ...result.info, md5 };
    }
  }
  await hasher.save();
  return result.info;
}

/** Store one workspace file whose hash is known; the workspace keeps it in the planner's link type. */
function commitFile(store: LocalObjectStore, planner: LinkPlanner, abs: string, md5: Md5): void {
  const obj = store.objectPath(md5);
  // A symlink of the user's (to a file outside the cache) is hashed through, like DVC does; its
  // target must be copied in, never moved or hardlinked (which would store the link itself).
  const foreignLink = lstatSync(abs).isSymbolicLink() && readlinkOrNull(abs) !== obj;
  planner.run((type) => {
    const present = store.hasSync(md5);
    switch (type) {
      case 'reflink':
      case 'copy':
        // The workspace file stays as it is (independent), unless it is a link into the cache.
        if (!present) store.addFileSync(abs, md5, { reflinkOnly: type === 'reflink' });
        else if (isLinkedTo(abs, obj)) placeAt(abs, true, (t) => placeObject(type, obj, t));
        return;
      case 'hardlink':
        if (!present && !foreignLink) {
          // Linking the workspace file in as the object copies no data at all.
          store.addFileSync(abs, md5, { hardlink: true });
          return;
        }
        if (!present) store.addFileSync(abs, md5);
        if (!isHardlinkOf(abs, obj)) placeAt(abs, true, (t) => placeObject('hardlink', obj, t));
        return;
      case 'symlink':
        if (!present && !foreignLink) {
          store.addFileSync(abs, md5, { move: true });
          try {
            symlinkSync(obj, abs);
          } catch (e) {
            // Put the content back before falling back to the next link type.
            copyFileSync(obj, abs);
            chmodSync(abs, WRITABLE_MODE);
            throw e;
          }
          return;
        }
        if (!present) store.addFileSync(abs, md5);
        if (readlinkOrNull(abs) !== obj) placeAt(abs, true, (t) => placeObject('symlink', obj, t));
        return;
    }
  });
}

async function isIntact(store: LocalObjectStore, md5: Md5): Promise<boolean> {
  try {
    await store.ensureVerified(md5, store.displayPath(md5));
    return true;
  } catch (e) {
    if (e instanceof LockstepError && e.reason === 'corrupt-object') return false;
    throw e;
  }
}

function isHardlinkOf(abs: string, obj: string): boolean {
  const st = lstatSync(abs);
  if (st.isSymbolicLink() || st.nlink < 2) return false;
  const o = statSync(obj, { throwIfNoEntry: false });
  return o !== undefined && o.ino === st.ino && o.dev === st.dev;
}

function readlinkOrNull(abs: string): string | null {
  try {
    return readlinkSync(abs);
  } catch {
    return null;
  }
}
