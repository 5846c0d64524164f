import type { Command } from 'commander';
import { checkoutOutput } from '../cache/index.js';
import { LockstepError } from '../errors.js';
import type { Md5 } from '../hash/types.js';
import { absPath, openLockedWorkspace } from '../pipeline/context.js';
import { selectStages } from '../pipeline/plan.js';
import { globals, out, parseWait } from './options.js';

/** Restore workspace outputs from the cache, as the lock file records them. */
export async function run(targets: string[], flags: { force?: boolean; wait?: string | boolean }, cmd: Command): Promise<number> {
  const g = globals(cmd);
  const { ws, release } = await openLockedWorkspace({ command: 'lockstep checkout', waitMs: parseWait(flags.wait) });
  let restored = 0;
  let unchanged = 0;
  try {
    const sel = selectStages(ws.graph, { targets, singleItem: targets.length > 0, downstream: false });
    if (!sel.ok) throw sel.error;
    for (const name of sel.value) {
      const locked = ws.lock.stages[name];
      const stage = ws.graph.byName.get(name)!;
      for (const o of locked?.outs ?? []) {
        const def = stage.outs.find((d) => d.path === o.path);
        if (def && !def.cache) continue;
        const abs = absPath(ws, o.path);
        const current = await ws.hasher.hashPath(abs);
        if (current?.info.md5 === o.md5) {
          unchanged++;
          continue;
        }
        // Bad input never loses data: a modified output whose content is not in the cache is kept.
        if (current && !flags.force && !(await ws.store.has(current.info.md5))) {
          throw new LockstepError('usage', `output '${o.path}' of stage '${name}' has changes that are not in the cache`, 'Move it away, or run lockstep checkout --force to discard the changes.');
        }
        await checkoutOutput(ws.store, { md5: o.md5 as Md5, size: o.size, nfiles: o.nfiles }, abs, ws.project.linkTypes, { displayRoot: ws.project.root });
        restored++;
        if (!g.quiet) out(`M\t${o.path}`);
      }
    }
  } finally {
    await ws.hasher.save();
    await release();
  }
  if (!g.quiet) out(`${restored} outputs restored, ${unchanged} unchanged.`);
  return 0;
}
