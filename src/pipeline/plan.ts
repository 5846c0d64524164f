import path from 'node:path';
import { closest, distance } from 'fastest-levenshtein';
import { PIPELINE_FILES } from '../project.js';
import { LockstepError, type Result, ok, err } from '../errors.js';
import { type Graph, withDownstream, withUpstream } from './graph.js';
import type { StaleReason } from './staleness.js';

export interface SelectOptions {
  targets: string[];
  /** Where the command runs, repo-relative: plain stage names are read in that folder's pipeline file. */
  cwd?: string;
  singleItem: boolean;
  downstream: boolean;
}

/**
 * Resolve targets to stage addresses, as DVC reads them: `train` is a stage of the pipeline file in `cwd`
 * (the root's when run from the root), `sub/dvc.yaml:train` one of another file (relative to `cwd`),
 * `sub/dvc.yaml` every stage of that file, and a foreach/matrix group (`build`) every `build@…`.
 */
export function resolveTargets(graph: Graph, targets: string[], cwd = '.'): Result<string[], LockstepError> {
  const names: string[] = [];
  const inCwd = (p: string) => path.posix.normalize(cwd === '.' ? p : `${cwd}/${p}`);
  const prefixOf = (file: string) => (file.includes('/') ? `${file}:` : '');
  /** The stages of a pipeline file given as a repo-relative path ('' prefix: the root's). */
  const stagesOf = (prefix: string) =>
    graph.stages.filter((s) => (prefix ? s.name.startsWith(prefix) : !s.name.includes(':'))).map((s) => s.name);
  for (const raw of targets) {
    const t = raw.replace(/^\.\//, '');
    if (graph.byName.has(t) && cwd === '.') {
      names.push(t);
      continue;
    }
    const colon = t.lastIndexOf(':');
    if (colon === -1 && (PIPELINE_FILES as readonly string[]).includes(path.posix.basename(t))) {
      const all = stagesOf(prefixOf(inCwd(t)));
      if (all.length) {
        names.push(...all);
        continue;
      }
    }
    let prefix: string;
    if (colon !== -1) prefix = prefixOf(inCwd(t.slice(0, colon)));
    else {
      // a plain name is a stage of the pipeline file of the folder the command runs in
      const here = PIPELINE_FILES.map((f) => prefixOf(inCwd(f))).find((p) => stagesOf(p).length > 0);
      prefix = here ?? prefixOf(inCwd(PIPELINE_FILES[0]));
    }
    const name = colon === -1 ? t : t.slice(colon + 1);
    const address = prefix + name;
    if (graph.byName.has(address)) {
      names.push(address);
      continue;
    }
    const group = graph.stages.filter((s) => s.name.startsWith(`${address}@`)).map((s) => s.name);
    if (group.length > 0) {
      names.push(...group);
      continue;
    }
    return err(unknownTarget(graph, name, address));
  }
  return ok(names);
}

function unknownTarget(graph: Graph, name: string, address: string): LockstepError {
  const all = graph.stages.map((s) => s.name);
  // the same name in another pipeline file is the likeliest meaning
  const elsewhere = all.filter((a) => a.endsWith(`:${name}`) || a === name || a.startsWith(`${name}@`));
  // A foreach/matrix group ('build' for every 'build@…') is a valid target too, so it can be suggested.
  const groups = [...new Set(all.filter((n) => n.includes('@')).map((n) => n.slice(0, n.indexOf('@'))))];
  // Suggest a name only when it is close enough to be a typo (`dag nosuch` suggested 'pull').
  const best = elsewhere[0] ?? (all.length ? closest(address, [...all, ...groups]) : '');
  const close =
    best !== '' && (elsewhere.length > 0 || distance(address, best) <= Math.max(2, Math.floor(address.length / 3)));
  const list = `Stages: ${all.slice(0, 10).join(', ')}${all.length > 10 ? ', …' : ''}.`;
  const hint = all.length ? (close ? `Did you mean '${best}'? ${list}` : list) : 'The pipeline has no stages.';
  return new LockstepError('unknown-stage', `no stage named '${address}'`, hint);
}

/**
 * What `repro` with no targets runs, as DVC: the stages of the pipeline file in `cwd` (the root's from the root),
 * with their upstream in any file; every stage when that folder has no pipeline file. Pure.
 */
export function defaultReproTargets(graph: Graph, cwd = '.'): string[] {
  for (const f of PIPELINE_FILES) {
    const file = cwd === '.' ? f : `${cwd}/${f}`;
    const own = file.includes('/')
      ? graph.stages.filter((s) => s.name.startsWith(`${file}:`))
      : graph.stages.filter((s) => !s.name.includes(':') && s.pos.file === file);
    if (own.length) return own.map((s) => s.name);
  }
  return [];
}

/** Which stages a repro/status considers, in topological order. Pure. */
export function selectStages(graph: Graph, opts: SelectOptions): Result<string[], LockstepError> {
  let chosen: Set<string>;
  if (opts.targets.length === 0) {
    chosen = new Set(graph.order);
  } else {
    const resolved = resolveTargets(graph, opts.targets, opts.cwd);
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
