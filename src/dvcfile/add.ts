/**
 * `add`, `commit`, `remove` and `move` for data tracked by .dvc files, as DVC does them: the data is
 * hashed into the cache, `<path>.dvc` records it (written atomically), and the data is git-ignored.
 */
import { existsSync, promises as fs } from 'node:fs';
import path from 'node:path';
import { commitOutput } from '../cache/index.js';
import { LockstepError } from '../errors.js';
import { ignoreOutputs } from '../util/gitignore.js';
import type { Workspace } from '../pipeline/context.js';
import { writeFileAtomic } from '../util/atomic.js';
import { parseDvcFile, serializeDvcFile, type DvcFile, type DvcOut } from './format.js';

/** A user-given path -> repo-relative POSIX, refused when outside the project. */
export function repoPath(root: string, p: string, cwd = process.cwd()): string {
  const abs = path.resolve(cwd, p);
  const rel = path.relative(root, abs).split(path.sep).join('/');
  if (!rel || rel === '..' || rel.startsWith('../') || path.isAbsolute(rel))
    throw new LockstepError('path-outside', `'${p}' is outside the project ${root}`, 'Track data inside the project.');
  return rel;
}

async function readExisting(root: string, file: string): Promise<DvcFile | undefined> {
  const text = await fs.readFile(path.join(root, file), 'utf8').catch(() => null);
  return text === null ? undefined : parseDvcFile(file, text);
}

export interface AddedData {
  file: string;
  path: string;
  md5: string;
  size: number;
  nfiles?: number;
}

/** `lockstep add <path…>`: cache each path and write `<path>.dvc`. */
export async function addData(ws: Workspace, paths: string[], cwd = process.cwd()): Promise<AddedData[]> {
  const root = ws.project.root;
  const rels = paths.map((p) => repoPath(root, p, cwd));
  for (const rel of rels) {
    if (rel.endsWith('.dvc'))
      throw new LockstepError('usage', `'${rel}' is a .dvc file`, 'Name the data it tracks instead.');
    for (const s of ws.pipeline.stages) {
      const out = s.outs.find((o) => o.path === rel || rel.startsWith(`${o.path}/`) || o.path.startsWith(`${rel}/`));
      if (out)
        throw new LockstepError(
          'usage',
          `'${rel}' overlaps output '${out.path}' of stage '${s.name}'`,
          'Stage outputs are tracked by the lock file; add other data.',
        );
    }
    if (!existsSync(path.join(root, rel)))
      throw new LockstepError('missing-output', `'${rel}' does not exist`, 'Check the path.');
  }
  const added: AddedData[] = [];
  try {
    for (const rel of rels) added.push(await trackPath(ws, rel));
  } finally {
    await ws.hasher.save();
  }
  await ignoreOutputs(root, rels);
  return added;
}

async function trackPath(ws: Workspace, rel: string, file = `${rel}.dvc`): Promise<AddedData> {
  const root = ws.project.root;
  const info = await commitOutput(ws.store, ws.hasher, path.join(root, rel), ws.project.linkTypes, {
    displayRoot: root,
  });
  const prior = await readExisting(root, file);
  const flags = prior?.outs.find((o) => o.path === rel);
  const out: DvcOut = {
    path: rel,
    md5: info.md5,
    size: info.size,
    cache: flags?.cache ?? true,
    push: flags?.push ?? true,
    ...(info.nfiles !== undefined ? { nfiles: info.nfiles } : {}),
    ...(flags?.remote ? { remote: flags.remote } : {}),
  };
  await writeFileAtomic(path.join(root, file), serializeDvcFile({ file, outs: [out], extra: prior?.extra ?? {} }));
  return {
    file,
    path: rel,
    md5: info.md5,
    size: info.size,
    ...(info.nfiles !== undefined ? { nfiles: info.nfiles } : {}),
  };
}

/** The .dvc files named by targets (`data.dvc` or the data path `data`); all when empty. */
export function selectDvcFiles(ws: Workspace, targets: string[], cwd = process.cwd()): DvcFile[] {
  if (!targets.length) return ws.dvcFiles;
  return targets.map((t) => {
    const rel = repoPath(ws.project.root, t, cwd);
    const f = ws.dvcFiles.find((d) => d.file === rel || d.file === `${rel}.dvc` || d.outs.some((o) => o.path === rel));
    if (!f) throw new LockstepError('unknown-stage', `'${t}' is not tracked by a .dvc file`, 'Run lockstep add first.');
    return f;
  });
}

/** `lockstep commit <x.dvc>`: record the data's current content in its .dvc file (and the cache). */
export async function commitDvcFiles(ws: Workspace, files: DvcFile[]): Promise<AddedData[]> {
  const done: AddedData[] = [];
  try {
    for (const f of files) for (const o of f.outs) done.push(await trackPath(ws, o.path, f.file));
  } finally {
    await ws.hasher.save();
  }
  return done;
}

async function unignore(root: string, rel: string): Promise<void> {
  const file = path.join(root, path.posix.dirname(rel), '.gitignore');
  const text = await fs.readFile(file, 'utf8').catch(() => null);
  if (text === null) return;
  const entry = `/${path.posix.basename(rel)}`;
  const lines = text.split('\n');
  if (!lines.includes(entry)) return;
  const kept = lines.filter((l) => l !== entry).join('\n');
  if (kept.trim() === '') await fs.rm(file, { force: true });
  else await writeFileAtomic(file, kept);
}

/** `lockstep remove <x.dvc>`: stop tracking (the .dvc file and its .gitignore entry go; the data stays). */
export async function removeDvcFiles(ws: Workspace, files: DvcFile[]): Promise<string[]> {
  for (const f of files) {
    for (const o of f.outs) await unignore(ws.project.root, o.path);
    await fs.rm(path.join(ws.project.root, f.file), { force: true });
  }
  return files.map((f) => f.file);
}

/** `lockstep move <src> <dst>`: move tracked data and its .dvc file (renamed to `<dst>.dvc`). */
export async function moveTracked(ws: Workspace, src: string, dst: string, cwd = process.cwd()): Promise<AddedData> {
  const root = ws.project.root;
  const [f] = selectDvcFiles(ws, [src], cwd);
  const from = f!.outs[0]!;
  if (f!.outs.length !== 1)
    throw new LockstepError('usage', `${f!.file} tracks several paths`, 'Move each path by hand and re-add it.');
  let to = repoPath(root, dst, cwd);
  if (existsSync(path.join(root, to)) && (await fs.stat(path.join(root, to))).isDirectory())
    to = path.posix.join(to, path.posix.basename(from.path));
  if (existsSync(path.join(root, to)))
    throw new LockstepError('usage', `'${to}' already exists`, 'Choose a new path or remove it first.');
  await fs.mkdir(path.dirname(path.join(root, to)), { recursive: true });
  await fs.rename(path.join(root, from.path), path.join(root, to));
  const file = `${to}.dvc`;
  const moved: DvcFile = { file, outs: [{ ...from, path: to }], extra: f!.extra };
  await writeFileAtomic(path.join(root, file), serializeDvcFile(moved));
  if (file !== f!.file) await fs.rm(path.join(root, f!.file), { force: true });
  await unignore(root, from.path);
  await ignoreOutputs(root, [to]);
  return { file, path: to, md5: from.md5 ?? '', size: from.size ?? 0 };
}
