import { execa } from 'execa';
import type { Command } from 'commander';
import { collectGarbage } from '../cache/index.js';
import type { Md5 } from '../hash/types.js';
import { openLockedWorkspace } from '../pipeline/context.js';
import type { LockFile } from '../pipeline/lockfile-types.js';
import { globals, parseWait } from './options.js';
import { out } from './render.js';

/** Every object hash a lock file references (outs and deps: deps may be another stage's outs). */
export function hashesOf(lock: LockFile): Md5[] {
  const used: Md5[] = [];
  for (const s of Object.values(lock.stages)) {
    for (const p of [...(s.outs ?? []), ...(s.deps ?? [])]) used.push(p.md5);
  }
  return used;
}

/** Lock files of every recorded experiment. */
async function experimentLocks(root: string): Promise<LockFile[]> {
  // Outside a git repository there are no experiment records to keep.
  const inGit = await execa('git', ['rev-parse', '--git-dir'], { cwd: root, reject: false });
  if (inGit.exitCode !== 0) return [];
  const { listExperiments } = await import('../exp/records.js');
  const exps = await listExperiments(root, { allCommits: true });
  return exps.map((e) => e.lock).filter((l): l is LockFile => l !== null);
}

export async function run(
  flags: { dry?: boolean; json?: boolean; wait?: string | boolean },
  cmd: Command,
): Promise<number> {
  const g = globals(cmd);
  const { ws, release } = await openLockedWorkspace(
    flags.dry ? null : { command: 'lockstep gc', waitMs: parseWait(flags.wait) },
  );
  try {
    const used = new Set<Md5>(hashesOf(ws.lock));
    for (const lock of await experimentLocks(ws.project.root)) for (const h of hashesOf(lock)) used.add(h);
    const result = await collectGarbage(ws.store, used, { dry: !!flags.dry });
    if (flags.json) out(JSON.stringify({ dry: !!flags.dry, removed: result.removed, bytes: result.bytes }, null, 2));
    else if (!g.quiet) {
      if (flags.dry) for (const h of result.removed) out(h);
      out(
        `${flags.dry ? 'Would remove' : 'Removed'} ${result.removed.length} objects (${(result.bytes / 1e6).toFixed(1)} MB).`,
      );
    }
    return 0;
  } finally {
    await release();
  }
}
