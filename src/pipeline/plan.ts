import { closest, distance } from 'fastest-levenshtein';
import { LockstepError, type Result, ok, err } from '../errors.js';
import { type Graph, withDownstream, withUpstream } from './graph.js';
import type { StaleReason } from './staleness.js';

export interface SelectOptions {
  targets: string[];
  singleItem: boolean;
  downstream: boolean;
}

/**
 * Resolve target names (`train`, `pipeline.yaml:train`, a foreach group `build` meaning every `build@…`)
 * to stage names.
 */
export function resolveTargets(graph: Graph, targets: string[]): Result<string[], LockstepError> {
  const names: string[] = [];
  for (const raw of targets) {
    const t = raw.includes(':') ? raw.slice(raw.lastIndexOf(':') + 1) : raw;
    if (graph.byName.has(t)) {
      names.push(t);
      continue;
    }
    const group = graph.stages.filter((s) => s.name.startsWith(`${t}@`)).map((s) => s.name);
    if (group.length > 0) {
      names.push(...group);
      continue;
    }
    const all = graph.stages.map((s) => s.name);
    // A foreach/matrix group ('build' for every 'build@…') is a valid target too, so it can be suggested.
    const groups = [...new Set(all.filter((n) => n.includes('@')).map((n) => n.slice(0, n.indexOf('@'))))];
    // Suggest a name only when it is close enough to be a typo (`dag nosuch` suggested 'pull').
    const best = all.length ? closest(t, [...all, ...groups]) : '';
    const close = best !== '' && distance(t, best) <= Math.max(2, Math.floor(t.length / 3));
    const list = `Stages: ${all.slice(0, 10).join(', ')}${all.length > 10 ? ', …' : ''}.`;
    const hint = all.length ? (close ? `Did you mean '${best}'? ${list}` : list) : 'The pipeline has no stages.';
    return err(new LockstepError('unknown-stage', `no stage named '${t}'`, hint));
  }
  return ok(names);
}

/** Which stages a repro/status considers, in topological order. Pure. */
export function selectStages(graph: Graph, opts: SelectOptions): Result<string[], LockstepError> {
  let chosen: Set<string>;
  if (opts.targets.length === 0) {
    chosen = new Set(graph.order);
  } else {
    const resolved = resolveTargets(graph, opts.targets);
    if (!resolved.ok) return resolved;
    // As in DVC, --downstream means the targets and what depends on them, without their upstream.
    if (opts.downstream) chosen = withDownstream(graph, resolved.value);
    else chosen = opts.singleItem ? new Set(resolved.value) : withUpstream(graph, resolved.value);
  }
  return ok(graph.order.filter((n) => chosen.has(n)));
}

export type PlanAction = 'run' | 'skip' | 'frozen';

export interface PlanItem {
  stage: string;
  action: PlanAction;
  reasons: StaleReason[];
}

/**
 * What a repro would do, given each selected stage's own stale reasons. A stage downstream of one
 * that runs is planned to run too ('upstream'); at execution time it is checked again with the new
 * hashes, so an upstream rerun that reproduces identical outputs still lets it be skipped. Pure.
 */
export function planRepro(
  graph: Graph,
  selected: string[],
  own: Map<string, StaleReason[]>,
  opts: { force: boolean },
): PlanItem[] {
  const running = new Set<string>();
  const plan: PlanItem[] = [];
  for (const name of selected) {
    const stage = graph.byName.get(name)!;
    if (stage.frozen) {
      plan.push({ stage: name, action: 'frozen', reasons: [] });
      continue;
    }
    const reasons: StaleReason[] = [...(own.get(name) ?? [])];
    if (opts.force && reasons.length === 0) reasons.push({ kind: 'forced' });
    for (const up of graph.upstream.get(name) ?? []) if (running.has(up)) reasons.push({ kind: 'upstream', stage: up });
    if (reasons.length > 0) running.add(name);
    plan.push({ stage: name, action: reasons.length > 0 ? 'run' : 'skip', reasons });
  }
  return plan;
}
