/**
 * Committing an output: hash it, store every file (and the manifest), and leave the workspace
 * holding the content in the configured link type.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { LockstepError } from '../errors.js';
import type { Hasher } from '../hash/index.js';
import type { DirEntry, HashInfo, Md5 } from '../hash/types.js';
import { mapLimit } from '../util/pool.js';
import { isLinkedTo, LinkPlanner, replaceWithObject, WRITABLE_MODE } from './link.js';
import type { LinkType, ObjectStore } from './types.js';
import type { LocalObjectStore } from './object-store.js';

const COMMIT_CONCURRENCY = 16;

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
  const result = await hasher.hashPath(absPath);
  if (result === null) {
    const shown = path.relative(opts.displayRoot ?? process.cwd(), absPath) || absPath;
    throw new LockstepError('missing-output', `output '${shown}' does not exist`, 'Check that the stage command writes it.');
  }
  const planner = new LinkPlanner(linkTypes);
  if (result.entries === undefined) {
    await commitFile(store, planner, absPath, result.info.md5);
  } else {
    const entries: DirEntry[] = result.entries;
    await mapLimit(entries, COMMIT_CONCURRENCY, (e) => commitFile(store, planner, path.join(absPath, e.relpath), e.md5));
    const md5 = await store.addManifest(entries);
    if (md5 !== result.info.md5) throw new Error(`manifest hash ${md5} differs from directory hash ${result.info.md5}`);
  }
  await hasher.save();
  return result.info;
}

/** Store one workspace file whose hash is known; the workspace keeps it in the planner's link type. */
async function commitFile(store: LocalObjectStore, planner: LinkPlanner, abs: string, md5: Md5): Promise<void> {
  const obj = store.objectPath(md5);
  await planner.run(async (type) => {
    const present = await store.has(md5);
    switch (type) {
      case 'reflink':
      case 'copy':
        // The workspace file stays as it is (independent), unless it is a link into the cache.
        if (!present) await store.addFile(abs, md5, { reflinkOnly: type === 'reflink' });
        else if (await isLinkedTo(abs, obj)) await replaceWithObject(type, obj, abs);
        return;
      case 'hardlink':
        // Linking the workspace file in as the object copies no data at all.
        if (!present) await store.addFile(abs, md5, { hardlink: true });
        else if (!(await isLinkedTo(abs, obj)) || (await fs.lstat(abs)).isSymbolicLink()) await replaceWithObject('hardlink', obj, abs);
        return;
      case 'symlink':
        if (present) {
          if ((await fs.readlink(abs).catch(() => undefined)) !== obj) await replaceWithObject('symlink', obj, abs);
          return;
        }
        await store.addFile(abs, md5, { move: true });
        try {
          await fs.symlink(obj, abs);
        } catch (e) {
          // Put the content back before falling back to the next link type.
          await fs.copyFile(obj, abs);
          await fs.chmod(abs, WRITABLE_MODE);
          throw e;
        }
        return;
    }
  });
}

/** Only for callers holding any ObjectStore: the local store's extra operations are needed here. */
export function asLocalStore(store: ObjectStore): LocalObjectStore {
  if (typeof (store as LocalObjectStore).ensureVerified !== 'function') {
    throw new Error('commitOutput/checkoutOutput need the local object store (openObjectStore)');
  }
  return store as LocalObjectStore;
}
