import type { Command } from 'commander';
import { openProject } from '../project.js';
import { parseJobs } from './transfer-common.js';

/**
 * `lockstep status --cloud`: new / deleted / missing objects per output against the remote.
 * src/cli/status.ts delegates here when --cloud is given.
 */
export async function run(
  targets: string[],
  opts: { remote?: string; jobs?: string; json?: boolean },
  _cmd?: Command,
): Promise<number> {
  const project = await openProject();
  const { cloudStatus } = await import('../remote/index.js');
  const status = await cloudStatus(project, { targets, remote: opts.remote, jobs: parseJobs(opts.jobs) });
  if (opts.json) {
    process.stdout.write(`${JSON.stringify(status, null, 2)}\n`);
    return 0;
  }
  const limit = 10;
  for (const o of status.outputs) {
    const counts = `${o.new.length} new, ${o.deleted.length} deleted, ${o.missing.length} missing, ${o.ok} in sync`;
    process.stdout.write(`${o.stage}: ${o.path} (remote '${o.remote}'${o.push ? '' : ', push: false'}): ${counts}\n`);
    for (const [word, list] of [
      ['new', o.new],
      ['deleted', o.deleted],
      ['missing', o.missing],
    ] as const) {
      for (const p of list.slice(0, limit)) process.stdout.write(`\t${word}:\t${p}\n`);
      if (list.length > limit) process.stdout.write(`\t${word}:\t… and ${list.length - limit} more\n`);
    }
  }
  if (status.outputs.length === 0) process.stdout.write('no cached outputs in the lock file\n');
  else if (status.inSync) process.stdout.write('cache and remote are in sync\n');
  return 0;
}
