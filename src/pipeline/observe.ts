import { resolveStageParams } from '../config/index.js';
import type { StageDef } from '../config/types.js';
import type { HashInfo } from '../hash/types.js';
import { absPath, type Workspace } from './context.js';
import type { ObservedStage } from './staleness.js';

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
