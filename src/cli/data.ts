/** `lockstep add`, `commit`, `remove`, `move`: data tracked by .dvc files, as DVC's verbs of the same names. */
import type { Command } from 'commander';
import { addData, commitDvcFiles, moveTracked, removeDvcFiles, selectDvcFiles } from '../dvcfile/add.js';
import { openLockedWorkspace } from '../pipeline/context.js';
import { globals, parseWait } from './options.js';
import { out } from './render.js';

type Flags = { wait?: string | boolean };

async function withWs<T>(
  command: string,
  flags: Flags,
  body: (ws: Awaited<ReturnType<typeof openLockedWorkspace>>['ws']) => Promise<T>,
): Promise<T> {
  const { ws, release } = await openLockedWorkspace({ command, waitMs: parseWait(flags.wait) });
  try {
    return await body(ws);
  } finally {
    await release();
  }
}

export async function add(paths: string[], flags: Flags, cmd: Command): Promise<number> {
  const added = await withWs('lockstep add', flags, (ws) => addData(ws, paths));
  if (!globals(cmd).quiet) {
    for (const a of added) out(`Added ${a.path} (${a.md5}) -> ${a.file}`);
    const files = added.map((a) => a.file).join(' ');
    out(`\nTo track the changes with git, run:\n\n\tgit add ${files} .gitignore`);
  }
  return 0;
}

export async function commit(targets: string[], flags: Flags, cmd: Command): Promise<number> {
  const done = await withWs('lockstep commit', flags, (ws) => commitDvcFiles(ws, selectDvcFiles(ws, targets)));
  if (!globals(cmd).quiet) for (const d of done) out(`Committed ${d.path} -> ${d.file}`);
  return 0;
}

export async function remove(targets: string[], flags: Flags, cmd: Command): Promise<number> {
  const removed = await withWs('lockstep remove', flags, (ws) => removeDvcFiles(ws, selectDvcFiles(ws, targets)));
  if (!globals(cmd).quiet) for (const f of removed) out(`Removed ${f} (the data stays in the workspace and the cache)`);
  return 0;
}

export async function move(src: string, dst: string, flags: Flags, cmd: Command): Promise<number> {
  const moved = await withWs('lockstep move', flags, (ws) => moveTracked(ws, src, dst));
  if (!globals(cmd).quiet) out(`Moved to ${moved.path} (${moved.file})`);
  return 0;
}
