/**
 * The checkout use case: restore a workspace's outputs from the cache as its lock file records them, keeping
 * local changes the cache does not hold unless `force`. Returns what happened as data; `lockstep checkout`,
 * `lockstep pull` and `exp apply` render or act on it. The caller holds the repository lock.
 */
import { checkoutOutput, type ObjectStore } from '../cache/index.js';
import { LockstepError } from '../errors.js';
import type { HashResult } from '../hash/index.js';
import { absPath, type Workspace } from './context.js';
import { selectStages } from './plan.js';
import { splitTargets } from './status.js';
import type { Md5 } from '../hash/types.js';

export interface CheckoutWorkspaceOptions {
  /** Stages whose outputs to restore (each alone, without upstream); all stages when empty. */
  targets: string[];
  /** Overwrite outputs whose local changes the cache does not hold. */
  force: boolean;
}

export interface OutputRef {
  stage: string;
  path: string;
}

/** An output left as it was: its local changes are not in the cache, or its objects are missing or corrupt. */
export interface CheckoutProblem extends OutputRef {
  kind: 'kept-local-changes' | 'unrestorable';
  error: LockstepError;
}

export interface CheckoutResult {
  /** Outputs whose workspace content changed, in stage order. */
  restored: OutputRef[];
  /** Outputs that already held the recorded content. */
  unchanged: OutputRef[];
  /** Like dvc checkout: one output that cannot be restored does not stop the others; all are reported. */
  problems: CheckoutProblem[];
}

/**
 * Would replacing this workspace output lose content the cache does not hold? For a directory, per
 * file: deleting or restoring some files of a directory loses nothing and needs no --force.
 */
async function losesData(store: ObjectStore, current: HashResult): Promise<boolean> {
  if (!current.entries) return !(await store.has(current.info.md5));
  for (const e of current.entries) if (!(await store.has(e.md5))) return true;
  return false;
}

export async function checkoutWorkspace(ws: Workspace, opts: CheckoutWorkspaceOptions): Promise<CheckoutResult> {
  const result: CheckoutResult = { restored: [], unchanged: [], problems: [] };
  try {
    // .dvc files are targets too (`data.dvc` or the data path), and are restored with the stages' outputs.
    const split = splitTargets(ws, opts.targets);
    const onlyData = opts.targets.length > 0 && split.stages.length === 0;
    const sel = onlyData
      ? ({ ok: true, value: [] as string[] } as const)
      : selectStages(ws.graph, {
          targets: split.stages,
          singleItem: opts.targets.length > 0,
          downstream: false,
          cwd: ws.cwd,
        });
    if (!sel.ok) throw sel.error;
    const work: { stage: string; o: { path: string; md5: Md5; size: number; nfiles?: number } }[] = [];
    for (const stage of sel.value) {
      const def = ws.graph.byName.get(stage)!;
      for (const o of ws.lock.stages[stage]?.outs ?? []) {
        // Only declared, cached outputs: a lock entry the pipeline does not declare names no file to write.
        if (def.outs.find((d) => d.path === o.path)?.cache !== true) continue;
        work.push({ stage, o });
      }
    }
    for (const f of opts.targets.length ? split.dvcFiles : ws.dvcFiles) {
      for (const o of f.outs) {
        if (o.md5 && o.cache)
          work.push({ stage: f.file, o: { path: o.path, md5: o.md5, size: o.size ?? 0, nfiles: o.nfiles } });
      }
    }
    for (const { stage, o } of work) {
      {
        const ref = { stage, path: o.path };
        const abs = absPath(ws, o.path);
        const current = await ws.hasher.hashPath(abs);
        if (current?.info.md5 === o.md5) {
          result.unchanged.push(ref);
          continue;
        }
        // Bad input never loses data: a modified output whose content is not in the cache is kept.
        if (current && !opts.force && (await losesData(ws.store, current))) {
          const error = new LockstepError(
            'usage',
            `output '${o.path}' of ${stage.endsWith('.dvc') ? stage : `stage '${stage}'`} ` +
              'has changes that are not in the cache',
            'Move it away, or run lockstep checkout --force to discard the changes.',
          );
          result.problems.push({ ...ref, kind: 'kept-local-changes', error });
          continue;
        }
        let changed: boolean;
        try {
          ({ changed } = await checkoutOutput(
            ws.store,
            { md5: o.md5, size: o.size, nfiles: o.nfiles },
            abs,
            ws.project.linkTypes,
            { displayRoot: ws.project.root },
          ));
        } catch (e) {
          if (
            !(e instanceof LockstepError) ||
            !['missing-object', 'corrupt-object', 'unreadable-object'].includes(e.reason)
          )
            throw e;
          result.problems.push({ ...ref, kind: 'unrestorable', error: e });
          continue;
        }
        (changed ? result.restored : result.unchanged).push(ref);
      }
    }
  } finally {
    await ws.hasher.save();
  }
  return result;
}

/** The one failure a checkout with problems ends in: the first problem's, counting the others. */
export function checkoutFailure(result: CheckoutResult): LockstepError | null {
  const [first, ...more] = result.problems;
  if (!first) return null;
  const others = more.length ? ` (and ${more.length} more output${more.length > 1 ? 's' : ''} not restored)` : '';
  return new LockstepError(first.error.reason, `${first.error.message}${others}`, first.error.hint);
}
