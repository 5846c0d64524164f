/**
 * Every `.dvc` file of the project, as DVC collects them (a walk of the repository that skips `.git`,
 * `.dvc`, `.lockstep`, the cache and what git ignores is left to fast-glob's ignore list).
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import fg from 'fast-glob';
import type { LockFile, LockedStage } from '../pipeline/lockfile-types.js';
import { parseDvcFile, type DvcFile } from './format.js';

/** Folders never searched: VCS and tool folders, and data folders a pipeline writes (given by the caller). */
const ALWAYS_SKIPPED = ['**/.git/**', '**/node_modules/**', '.dvc/**', '.lockstep/**', '**/.cache/**'];

export async function collectDvcFiles(root: string, skip: readonly string[] = []): Promise<DvcFile[]> {
  const found = await fg('**/*.dvc', {
    cwd: root,
    dot: true,
    onlyFiles: true,
    followSymbolicLinks: false,
    ignore: [...ALWAYS_SKIPPED, ...skip.map((s) => `${s}/**`)],
  });
  found.sort(walkOrder);
  const out: DvcFile[] = [];
  for (const rel of found) {
    const text = await fs.readFile(path.join(root, rel), 'utf8');
    out.push(parseDvcFile(rel.split(path.sep).join('/'), text));
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
