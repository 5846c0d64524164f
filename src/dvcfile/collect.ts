/**
 * Every `.dvc` file of the project, as DVC collects them: a walk of the repository that skips `.git`,
 * `node_modules` and `.cache` folders at any depth, `.dvc` and `.lockstep` at the root, and the data
 * folders a pipeline writes (given by the caller), and folders that are repositories of their own (a `.git`,
 * `.dvc/` or `.lockstep/` in them: DVC's subrepos); symlinks are not followed. A plain readdir walk with
 * entry types: on a 60,000-file dependency folder a glob library's matching of every entry cost more
 * than listing it (every command collects these files).
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import type { LockFile, LockedStage } from '../pipeline/lockfile-types.js';
import { parseDvcFile, type DvcFile } from './format.js';
import { yieldToLoop } from '../util/yield.js';
import { type DirListings, type EntryKind, type ListedEntry, listDir, ownRepository } from '../util/dir-listings.js';

/** Folder names never searched, at any depth and at the root only. */
const SKIPPED_ANYWHERE = new Set(['.git', 'node_modules', '.cache']);
const SKIPPED_AT_ROOT = new Set(['.dvc', '.lockstep']);

/** The files of a folder this walk reads by name (for DirListings' memo: it keeps subfolders anyway). */
export const dvcWalkReads = (name: string, kind: EntryKind): boolean => kind === 'file' && name.endsWith('.dvc');

/** `listings`: folders listed by the command's pipeline-file walk, not read again. */
export async function collectDvcFiles(
  root: string,
  skip: readonly string[] = [],
  listings?: DirListings,
): Promise<DvcFile[]> {
  const skipped = new Set(skip.map((s) => s.replace(/^\.\//, '').replace(/\/+$/, '')));
  const found: string[] = [];
  const pending: string[] = [''];
  let listed = 0;
  while (pending.length > 0) {
    const rel = pending.pop() as string;
    let entries: ListedEntry[];
    try {
      entries = listDir(rel === '' ? root : path.join(root, rel), listings);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (rel !== '' && (code === 'ENOENT' || code === 'ENOTDIR')) continue; // gone while we walked
      throw e;
    }
    if (rel !== '' && ownRepository(entries)) continue; // a nested repository's files are its own
    for (const d of entries) {
      const childRel = rel === '' ? d.name : `${rel}/${d.name}`;
      if (d.isDirectory()) {
        if (SKIPPED_ANYWHERE.has(d.name) || (rel === '' && SKIPPED_AT_ROOT.has(d.name)) || skipped.has(childRel))
          continue;
        pending.push(childRel);
      } else if (d.isFile() && d.name.endsWith('.dvc')) found.push(childRel);
    }
    listed += entries.length;
    if (listed >= 4096) {
      listed = 0;
      await yieldToLoop();
    }
  }
  found.sort(walkOrder);
  const out: DvcFile[] = [];
  for (const rel of found) {
    const text = await fs.readFile(path.join(root, rel), 'utf8');
    out.push(parseDvcFile(rel, text));
  }
  return out;
}

/** The order of a top-down walk (DVC's): a folder's files before its subfolders, names sorted. */
export function walkOrder(a: string, b: string): number {
  const pa = a.split('/');
  const pb = b.split('/');
  for (let i = 0; i < Math.min(pa.length, pb.length); i++) {
    const fileA = i === pa.length - 1;
    const fileB = i === pb.length - 1;
    if (fileA !== fileB) return fileA ? -1 : 1;
    if (pa[i] !== pb[i]) return pa[i]! < pb[i]! ? -1 : 1;
  }
  return pa.length - pb.length;
}

/** The .dvc file that tracks `p` (or a folder containing it), if any. */
export function trackedBy(files: readonly DvcFile[], p: string): DvcFile | undefined {
  return files.find((f) => f.outs.some((o) => o.path === p || p.startsWith(`${o.path}/`)));
}

/**
 * .dvc files as lock entries keyed by the .dvc file's path (as DVC addresses them: `data/raw.dvc`), so
 * what moves lock outputs (push, fetch, pull, gc) moves tracked data too.
 */
export function dvcFilesAsLock(files: readonly DvcFile[]): LockFile {
  const stages: Record<string, LockedStage> = {};
  for (const f of files) {
    const outs = f.outs.filter((o) => o.md5 && o.cache);
    if (!outs.length) continue;
    stages[f.file] = {
      cmd: '',
      outs: outs.map((o) => ({
        path: o.path,
        hash: 'md5' as const,
        md5: o.md5!,
        size: o.size ?? 0,
        ...(o.nfiles !== undefined ? { nfiles: o.nfiles } : {}),
      })),
    };
  }
  return { schema: '2.0', stages };
}
