/**
 * Sweep scheduling, pure. Two experiments whose stage has the same signature (same command, same
 * tracked param values, same upstream signatures) compute the same thing, and the shared run-cache
 * can serve the second only once the first has finished that stage. So the first experiment with a
 * signature "owns" it: it reproduces its shared stages first (`repro <stages>`), and later experiments
 * that need them wait for that step, not for the owner's whole run. Each shared stage then runs once
 * per sweep, whatever -j is.
 */
import type { Pipeline, StageDef } from '../config/types.js';

const isUnder = (p: string, dir: string): boolean => p === dir || p.startsWith(`${dir}/`) || dir.startsWith(`${p}/`);

/** For each stage, the stages whose outputs it depends on. */
export function upstreamOf(pipeline: Pipeline): Map<string, string[]> {
  const up = new Map<string, string[]>();
  for (const s of pipeline.stages) {
    const deps = s.deps.map((d) => d.path);
    up.set(
      s.name,
      pipeline.stages
        .filter((o) => o !== s && o.outs.some((out) => deps.some((d) => isUnder(d, out.path))))
        .map((o) => o.name),
    );
  }
  return up;
}

function getIn(obj: unknown, key: string): unknown {
  let cur = obj;
  for (const k of key.split('.')) {
    if (typeof cur !== 'object' || cur === null) return undefined;
    cur = (cur as Record<string, unknown>)[k];
  }
  return cur;
}

/**
 * The signature of every stage for one experiment, given its parsed params files by name. Stages in a
 * cycle (an invalid pipeline, reported by repro) get a signature unique to the experiment.
 */
export function stageSignatures(
  pipeline: Pipeline,
  params: Record<string, unknown>,
  uniqueTag: string,
): Map<string, string> {
  const up = upstreamOf(pipeline);
  const byName = new Map(pipeline.stages.map((s) => [s.name, s]));
  const sigs = new Map<string, string>();
  const visiting = new Set<string>();
  const sig = (stage: StageDef): string => {
    const known = sigs.get(stage.name);
    if (known) return known;
    if (visiting.has(stage.name)) return `cycle:${uniqueTag}`;
    visiting.add(stage.name);
    const values = stage.params.map((p) => [
      p.file,
      p.keys === null ? params[p.file] : p.keys.map((k) => [k, getIn(params[p.file], k)]),
    ]);
    const upstream = (up.get(stage.name) ?? []).map((n) => sig(byName.get(n) as StageDef)).sort();
    const s = JSON.stringify([
      stage.name,
      stage.cmd,
      stage.wdir,
      values,
      upstream,
      stage.alwaysChanged ? uniqueTag : null,
    ]);
    visiting.delete(stage.name);
    sigs.set(stage.name, s);
    return s;
  };
  for (const s of pipeline.stages) sig(s);
  return sigs;
}

export interface SweepPlan {
  /** Stages each experiment reproduces first because later experiments share them. */
  warmup: string[][];
  /** Earlier experiments whose warm-up each experiment waits for. */
  waitFor: number[][];
}

/** Owners and waits from each experiment's stage signatures (index order = sweep order). */
export function planSweep(signatures: Array<Map<string, string>>): SweepPlan {
  const owner = new Map<string, number>();
  const users = new Map<string, number>();
  signatures.forEach((sigs, i) => {
    for (const s of sigs.values()) {
      if (!owner.has(s)) owner.set(s, i);
      users.set(s, (users.get(s) ?? 0) + 1);
    }
  });
  const warmup: string[][] = signatures.map(() => []);
  const waitFor: number[][] = signatures.map(() => []);
  signatures.forEach((sigs, i) => {
    const waits = new Set<number>();
    for (const [stage, s] of sigs) {
      if ((users.get(s) ?? 0) < 2) continue;
      const o = owner.get(s) as number;
      if (o === i) warmup[i]?.push(stage);
      else waits.add(o);
    }
    waitFor[i] = [...waits].sort((a, b) => a - b);
  });
  return { warmup, waitFor };
}
