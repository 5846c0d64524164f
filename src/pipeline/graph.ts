import type { StageDef } from '../config/types.js';
import { LockstepError, type Result, ok, err } from '../errors.js';

/** The stage graph: an edge A -> B when an output of A is at, above or below a dependency of B. */
export interface Graph {
  /** Stages in file order. */
  stages: StageDef[];
  byName: Map<string, StageDef>;
  /** stage -> the stages it depends on (upstream). */
  upstream: Map<string, Set<string>>;
  /** stage -> the stages depending on it (downstream). */
  downstream: Map<string, Set<string>>;
  /** Topological order (upstream first), stable with respect to file order. */
  order: string[];
  /** Every edge with the paths that make it. */
  edges: GraphEdge[];
}

export interface GraphEdge {
  from: string;
  to: string;
  /** The dependency paths of `to` that `from` produces. */
  paths: string[];
}

/** True when `a` is `b` or lies below it (POSIX, repo-relative). */
export function isAtOrBelow(a: string, b: string): boolean {
  return a === b || b === '.' || a.startsWith(b.endsWith('/') ? b : `${b}/`);
}

export function pathsOverlap(a: string, b: string): boolean {
  return isAtOrBelow(a, b) || isAtOrBelow(b, a);
}

export function buildGraph(stages: StageDef[]): Result<Graph, LockstepError> {
  const byName = new Map(stages.map((s) => [s.name, s]));
  const upstream = new Map<string, Set<string>>(stages.map((s) => [s.name, new Set()]));
  const downstream = new Map<string, Set<string>>(stages.map((s) => [s.name, new Set()]));
  const edges: GraphEdge[] = [];

  // Index outputs by their first path segment so that 500 stages do not cost 500x500 comparisons
  // per path; outputs at the root ('.') go into every bucket's check via `rootOuts`.
  const outsByHead = new Map<string, { stage: string; path: string }[]>();
  for (const s of stages) {
    for (const o of s.outs) {
      const head = o.path.split('/')[0] ?? o.path;
      const list = outsByHead.get(head) ?? [];
      list.push({ stage: s.name, path: o.path });
      outsByHead.set(head, list);
    }
  }
  for (const s of stages) {
    const producers = new Map<string, string[]>();
    for (const d of s.deps) {
      const head = d.path.split('/')[0] ?? d.path;
      const candidates =
        d.path === '.'
          ? [...outsByHead.values()].flat()
          : [...(outsByHead.get(head) ?? []), ...(outsByHead.get('.') ?? [])];
      for (const o of candidates) {
        if (o.stage === s.name || !pathsOverlap(d.path, o.path)) continue;
        const paths = producers.get(o.stage) ?? [];
        paths.push(d.path);
        producers.set(o.stage, paths);
      }
    }
    for (const [from, paths] of producers) {
      upstream.get(s.name)!.add(from);
      downstream.get(from)!.add(s.name);
      edges.push({ from, to: s.name, paths });
    }
  }

  const order = topologicalOrder(
    stages.map((s) => s.name),
    upstream,
  );
  if (!order.ok) return order;
  return ok({ stages, byName, upstream, downstream, order: order.value, edges });
}

/** Kahn's algorithm picking ready stages in file order; on a cycle, names it (a -> b -> a). */
function topologicalOrder(names: string[], upstream: Map<string, Set<string>>): Result<string[], LockstepError> {
  const position = new Map(names.map((n, i) => [n, i]));
  const remaining = new Map(names.map((n) => [n, upstream.get(n)!.size]));
  const downstream = new Map<string, string[]>(names.map((n) => [n, []]));
  for (const n of names) for (const u of upstream.get(n)!) downstream.get(u)!.push(n);
  const ready = names.filter((n) => remaining.get(n) === 0);
  const order: string[] = [];
  while (ready.length > 0) {
    ready.sort((a, b) => position.get(a)! - position.get(b)!);
    const next = ready.shift()!;
    order.push(next);
    for (const d of downstream.get(next)!) {
      const left = remaining.get(d)! - 1;
      remaining.set(d, left);
      if (left === 0) ready.push(d);
    }
  }
  if (order.length === names.length) return ok(order);
  const cycle = findCycle(
    names.filter((n) => remaining.get(n)! > 0),
    upstream,
  );
  return err(
    new LockstepError('cycle', `the pipeline has a cycle: ${cycle.join(' -> ')}`, 'Remove one of these dependencies.'),
  );
}

function findCycle(candidates: string[], upstream: Map<string, Set<string>>): string[] {
  const inSet = new Set(candidates);
  const start = candidates[0]!;
  const path: string[] = [];
  const seen = new Map<string, number>();
  let node = start;
  // Every remaining node has an upstream node that is also remaining: walk until a node repeats.
  while (!seen.has(node)) {
    seen.set(node, path.length);
    path.push(node);
    node = [...upstream.get(node)!].find((u) => inSet.has(u))!;
  }
  // path goes downstream->upstream; report it upstream->downstream.
  return [...path.slice(seen.get(node)!), node].reverse();
}

/** The targets and every stage they depend on, transitively. */
export function withUpstream(graph: Graph, targets: Iterable<string>): Set<string> {
  return closure(graph.upstream, targets);
}

export function withDownstream(graph: Graph, targets: Iterable<string>): Set<string> {
  return closure(graph.downstream, targets);
}

function closure(next: Map<string, Set<string>>, targets: Iterable<string>): Set<string> {
  const out = new Set<string>();
  const stack = [...targets];
  while (stack.length) {
    const n = stack.pop()!;
    if (out.has(n)) continue;
    out.add(n);
    for (const m of next.get(n) ?? []) stack.push(m);
  }
  return out;
}
