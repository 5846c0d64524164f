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
import { ChangedWhileCachingError, type LocalObjectStore } from './object-store.js';
import { yieldToLoop } from '../util/yield.js';

const BATCH = 500;

export interface OutputOptions {
  /** Folder that paths in messages are shown relative to (default: the current directory). */
  displayRoot?: string;
  /**
   * A directory output's progress, for the CLI to show: hashing its files, then storing them
   * (files done of all, and their bytes; counts only grow within a phase).
   */
  onProgress?: (p: CommitProgress) => void;
}

export interface CommitProgress {
  phase: 'hash' | 'cache';
  done: number;
  total: number;
  bytes: number;
}

export async function commitOutputImpl(
  store: LocalObjectStore,
  hasher: Hasher,
  absPath: string,
  linkTypes: readonly LinkType[],
  opts: OutputOptions = {},
): Promise<HashInfo> {
  const planner = new LinkPlanner(usableLinkTypes(linkTypes, store.root, absPath));
  const shown = (abs: string) => path.relative(opts.displayRoot ?? process.cwd(), abs) || abs;
  try {
    return await commitChecked(store, hasher, absPath, planner, shown, opts.onProgress);
  } catch (e) {
    // the store names the file by its absolute path; the user reads it relative to the project
    if (e instanceof ChangedWhileCachingError)
      throw new LockstepError(e.reason, `output file '${shown(e.absPath)}' changed while it was being cached`, e.hint);
    throw e;
  }
}

/**
 * Every file of the output ends up in the store as exactly the bytes that were hashed (the store
 * checks what it places, see LocalObjectStore.addFileSync), and an object already present is
 * inspected first (size, verification mark, else its content) and replaced when corrupt, so a
 * commit repairs a bad cache instead of trusting it.
 */
async function commitChecked(
  store: LocalObjectStore,
  hasher: Hasher,
  absPath: string,
  planner: LinkPlanner,
  shown: (abs: string) => string,
  onProgress?: (p: CommitProgress) => void,
): Promise<HashInfo> {
  const hashProgress = onProgress
    ? (done: number, total: number, bytes: number) => onProgress({ phase: 'hash', done, total, bytes })
    : undefined;
  // With copy, files read for hashing go straight into the store from the same bytes: one read
  // per new file, and the object is exactly what was hashed.
  const result =
    planner.current === 'copy' && hasher instanceof CachingHasher
      ? await hasher.hashPath(absPath, {
          onContent: (_abs, md5, bytes) => store.addBytesSync(md5, bytes),
          readLarge: (abs) => store.ingestFile(abs),
          ...(hashProgress ? { onProgress: hashProgress } : {}),
        })
      : await hasher.hashPath(absPath, hashProgress ? { onProgress: hashProgress } : {});
  if (result === null) {
    throw new LockstepError(
      'missing-output',
      `output '${shown(absPath)}' does not exist`,
      'Check that the stage command writes it.',
    );
  }
  // Objects already present are inspected before they are trusted (with hardlink/symlink they are
  // also exposed to writes through workspace links, which root's writes ignore the 0444 mode of).
  if (result.entries === undefined) {
    const state = await store.inspect(result.info.md5, result.info.size);
    commitFile(store, planner, path.resolve(absPath), result.info.md5, state);
  } else {
    const entries: DirEntry[] = result.entries;
    const root = path.resolve(absPath);
    let bytes = 0;
    for (let i = 0; i < entries.length; i++) {
      if (i > 0 && i % BATCH === 0) {
        onProgress?.({ phase: 'cache', done: i, total: entries.length, bytes });
        await yieldToLoop();
      }
      const e = entries[i] as DirEntry;
      const state = await store.inspect(e.md5, e.size);
      commitFile(store, planner, `${root}/${e.relpath}`, e.md5, state);
      bytes += e.size;
    }
    onProgress?.({ phase: 'cache', done: entries.length, total: entries.length, bytes });
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

/**
 * Store one workspace file whose hash is known; the workspace keeps it in the planner's link type.
 * `state` is the object's state found by inspect: a corrupt object is replaced by the file's bytes.
 */
function commitFile(
  store: LocalObjectStore,
  planner: LinkPlanner,
  abs: string,
  md5: Md5,
  state: 'absent' | 'sound' | 'corrupt',
): void {
  const obj = store.objectPath(md5);
  const replace = state === 'corrupt';
  // A symlink of the user's (to a file outside the cache) is hashed through, like DVC does; its
  // target must be copied in, never moved or hardlinked (which would store the link itself).
  const foreignLink = lstatSync(abs).isSymbolicLink() && readlinkOrNull(abs) !== obj;
  planner.run((type) => {
    // a type tried earlier in this loop may have stored it already
    const present = state === 'sound' || (state === 'absent' && store.hasSync(md5));
    switch (type) {
      case 'reflink':
      case 'copy':
        // The workspace file stays as it is (independent), unless it is a link into the cache.
        if (!present) store.addFileSync(abs, md5, { reflinkOnly: type === 'reflink', replace });
        else if (isLinkedTo(abs, obj)) placeAt(abs, true, (t) => placeObject(type, obj, t));
        return;
      case 'hardlink':
        if (!present && !foreignLink) {
          // Linking the workspace file in as the object copies no data at all.
          store.addFileSync(abs, md5, { hardlink: true, replace });
          return;
        }
        if (!present) store.addFileSync(abs, md5, { replace });
        if (!isHardlinkOf(abs, obj)) placeAt(abs, true, (t) => placeObject('hardlink', obj, t));
        return;
      case 'symlink':
        if (!present && !foreignLink) {
          store.addFileSync(abs, md5, { move: true, replace });
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
        if (!present) store.addFileSync(abs, md5, { replace });
        if (readlinkOrNull(abs) !== obj) placeAt(abs, true, (t) => placeObject('symlink', obj, t));
        return;
    }
  });
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
