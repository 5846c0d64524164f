import pLimit from 'p-limit';
import { resolveStageParams } from '../config/index.js';
import type { StageDef } from '../config/types.js';
import type { HashInfo } from '../hash/types.js';
import { absPath, type Workspace } from './context.js';
import { type ObservedStage, type StaleReason, staleReasons } from './staleness.js';

/**
 * Gather what the workspace holds now for a stage: param values, dep and out hashes. Hashing goes
 * through the stat cache, so unchanged files are not read again.
 */
export async function observeStage(ws: Workspace, stage: StageDef): Promise<ObservedStage> {
  const hashOne = async (p: string): Promise<[string, HashInfo | null]> => [
    p,
    (await ws.hasher.hashPath(absPath(ws, p)))?.info ?? null,
  ];
  const [params, deps, outs] = await Promise.all([
    resolveStageParams(ws.project.root, stage, ws.params),
    Promise.all(stage.deps.map((d) => hashOne(d.path))),
    Promise.all(stage.outs.map((o) => hashOne(o.path))),
  ]);
  return { params, deps: new Map(deps), outs: new Map(outs) };
}

/**
 * Why each of these stages is stale on its own (upstream changes aside), read from the workspace: the
 * stages `status` lists and `repro --dry` plans with. Frozen stages are left out. Hashes up to 8 stages at once.
 */
export async function collectStaleReasons(
  ws: Workspace,
  names: readonly string[],
): Promise<Map<string, StaleReason[]>> {
  const limit = pLimit(8);
  const found = await Promise.all(
    names.map((name) =>
      limit(async () => {
        const stage = ws.graph.byName.get(name)!;
        if (stage.frozen) return null;
        return [name, staleReasons(stage, ws.lock.stages[name], await observeStage(ws, stage))] as const;
      }),
    ),
  );
  // in the order asked for, whatever order the hashing finished in
  return new Map(found.filter((f) => f !== null));
}
