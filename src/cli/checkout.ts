import type { Command } from 'commander';
import { checkoutOutput } from '../cache/index.js';
import { LockstepError } from '../errors.js';
import type { Md5 } from '../hash/types.js';
import { absPath, openLockedWorkspace } from '../pipeline/context.js';
import { selectStages } from '../pipeline/plan.js';
import type { ObjectStore } from '../cache/types.js';
import type { HashResult } from '../hash/index.js';
import { globals, out, parseWait } from './options.js';

/**
 * Would replacing this workspace output lose content the cache does not hold? For a directory, per
 * file: deleting or restoring some files of a directory loses nothing and needs no --force.
 */
async function losesData(store: ObjectStore, current: HashResult): Promise<boolean> {
  if (!current.entries) return !(await store.has(current.info.md5));
  for (const e of current.entries) if (!(await store.has(e.md5))) return true;
  return false;
}

/** Restore workspace outputs from the cache, as the lock file records them. */
export async function run(
  targets: string[],
  flags: { force?: boolean; wait?: string | boolean },
  cmd: Command,
): Promise<number> {
  const g = globals(cmd);
  const { ws, release } = await openLockedWorkspace({ command: 'lockstep checkout', waitMs: parseWait(flags.wait) });
  let restored = 0;
  let unchanged = 0;
  // Like dvc checkout: one output that cannot be restored does not stop the others; all are reported.
  const problems: LockstepError[] = [];
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
        if (current && !flags.force && (await losesData(ws.store, current))) {
          problems.push(
            new LockstepError(
              'usage',
              `output '${o.path}' of stage '${name}' has changes that are not in the cache`,
              'Move it away, or run lockstep checkout --force to discard the changes.',
            ),
          );
          continue;
        }
        let changed: boolean;
        try {
          ({ changed } = await checkoutOutput(
            ws.store,
            { md5: o.md5 as Md5, size: o.size, nfiles: o.nfiles },
            abs,
            ws.project.linkTypes,
            { displayRoot: ws.project.root },
          ));
        } catch (e) {
          if (!(e instanceof LockstepError) || (e.reason !== 'missing-object' && e.reason !== 'corrupt-object'))
            throw e;
          problems.push(e);
          continue;
        }
        if (!changed) {
          unchanged++;
          continue;
        }
        restored++;
        if (!g.quiet) out(`M\t${o.path}`);
      }
    }
  } finally {
    await ws.hasher.save();
    await release();
  }
  if (!g.quiet)
    out(
      `${restored} outputs restored, ${unchanged} unchanged${problems.length ? `, ${problems.length} not restored` : ''}.`,
    );
  const [first, ...more] = problems;
  if (first) {
    const others = more.length ? ` (and ${more.length} more output${more.length > 1 ? 's' : ''} not restored)` : '';
    throw new LockstepError(first.reason, `${first.message}${others}`, first.hint);
  }
  return 0;
}
