import pLimit from 'p-limit';
import { resolveStageParams } from '../config/index.js';
import type { StageDef } from '../config/types.js';
import type { CommitProgress } from '../cache/index.js';
import type { HashInfo } from '../hash/types.js';
import { absPath, type Workspace } from './context.js';
import { type ObservedStage, type StaleReason, staleReasons } from './staleness.js';

/**
 * What each path hashed to during one command, while nothing has written to the workspace: a
 * directory that is the out of one stage and the dep of the next is walked once, not twice. Any
 * stage that restores or runs calls forgetObservations before it writes and when it is done (a hash
 * in flight meanwhile is dropped with the rest, so it is not reused).
 */
const memos = new WeakMap<Workspace, Map<string, Promise<HashInfo | null>>>();

export function forgetObservations(ws: Workspace): void {
  memos.get(ws)?.clear();
}

/** Reports a path's hashing progress (execute.ts turns it into `stage-progress` events). */
export type ObserveProgress = (path: string) => (p: CommitProgress) => void;

function observePath(ws: Workspace, p: string, progress?: ObserveProgress): Promise<HashInfo | null> {
  let memo = memos.get(ws);
  if (memo === undefined) {
    memo = new Map();
    memos.set(ws, memo);
  }
  const abs = absPath(ws, p);
  const known = memo.get(abs);
  if (known !== undefined) return known;
  const report = progress?.(p);
  const pending = ws.hasher
    .hashPath(abs, {
      infoOnly: true,
      ...(report ? { onProgress: (done, total, bytes) => report({ phase: 'hash', done, total, bytes }) } : {}),
    })
    .then((r) => r?.info ?? null);
  memo.set(abs, pending);
  const m = memo;
  pending.catch(() => {
    if (m.get(abs) === pending) m.delete(abs);
  });
  return pending;
}

/**
 * Gather what the workspace holds now for a stage: param values, dep and out hashes. Hashing goes
 * through the stat cache, so unchanged files are not read again.
 */
export async function observeStage(ws: Workspace, stage: StageDef, progress?: ObserveProgress): Promise<ObservedStage> {
  const hashOne = async (p: string): Promise<[string, HashInfo | null]> => [p, await observePath(ws, p, progress)];
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
