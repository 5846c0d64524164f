import type { Command } from 'commander';
import { openLockedWorkspace } from '../pipeline/context.js';
import { gitGcRoots } from '../exp/gc-roots.js';
import { checkScope, garbageCollect, type GcScope } from '../pipeline/gc.js';
import { globals, parseWait } from './options.js';
import { out } from './render.js';

interface GcFlags {
  workspace?: boolean;
  allBranches?: boolean;
  allTags?: boolean;
  allCommits?: boolean;
  allExperiments?: boolean;
  dry?: boolean;
  json?: boolean;
  wait?: string | boolean;
}

export async function run(flags: GcFlags, cmd: Command): Promise<number> {
  const g = globals(cmd);
  const scope: GcScope = {
    workspace: !!flags.workspace,
    allBranches: !!flags.allBranches,
    allTags: !!flags.allTags,
    allCommits: !!flags.allCommits,
    allExperiments: !!flags.allExperiments,
  };
  checkScope(scope); // before any lock or file is touched
  const waitMs = parseWait(flags.wait);
  const { ws, release } = await openLockedWorkspace(flags.dry ? null : { command: 'lockstep gc', waitMs });
  try {
    const result = await garbageCollect(ws, scope, gitGcRoots(ws.project.root), { dry: !!flags.dry, waitMs });
    if (flags.json) out(JSON.stringify(result, null, 2));
    else if (!g.quiet) {
      if (flags.dry) for (const h of result.removed) out(h);
      out(
        `${flags.dry ? 'Would remove' : 'Removed'} ${result.removed.length} objects ` +
          `(${(result.bytes / 1e6).toFixed(1)} MB).`,
      );
    }
    return 0;
  } finally {
    await release();
  }
}
