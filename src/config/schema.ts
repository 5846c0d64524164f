/**
 * DVC's stage schema (dvc/schema.py) checked on an interpolated stage body, producing a StageDef.
 * Every problem is collected with its position; a stage with problems yields no StageDef.
 */
import type { FailureReason } from '../errors.js';
import { didYouMean, type Problems, type SourceFile } from './diagnostics.js';
import { PLOT_PROP_FIELDS, readPlotProps } from './plots.js';
import { resolveStagePath, type OutRef, type PathRef } from './paths.js';
import type { Span, YMap, YNode } from './source.js';
import { toPlain } from './source.js';
import type { DepDef, OutDef, OutKind, ParamDep, SourcePos, StageDef } from './types.js';

export const STAGE_FIELDS = [
  'cmd',
  'wdir',
  'deps',
  'params',
  'outs',
  'metrics',
  'plots',
  'frozen',
  'always_changed',
  'desc',
  'meta',
  'vars',
] as const;
export const TOP_LEVEL_FIELDS = ['stages', 'vars', 'plots', 'metrics', 'params', 'artifacts', 'datasets'] as const;
const OUT_FIELDS = ['cache', 'persist', 'push', 'remote', 'desc', 'type', 'labels', 'meta', 'checkpoint'] as const;
export const DEFAULT_PARAMS_FILE = 'params.yaml';
export { didYouMean };

type PathRefInput = { path: string; span: Span; role: PathRef['role'] };

export interface StageBuild {
  name: string;
  body: YMap;
  /** Span of the stage's name in the file (the key under `stages`). */
  nameSpan: Span;
  wdir: string;
  group?: string;
  trackedVars?: Record<string, Record<string, unknown>>;
}

export class StageBuilder {
  constructor(
    private readonly root: string,
    private readonly problems: Problems,
    private readonly sources: Map<string, SourceFile>,
  ) {}

  pos(span: Span | undefined): SourcePos | undefined {
    if (!span) return undefined;
    return this.sources.get(span.file)?.posAt(span.offset);
  }

  /** Unknown keys of a stage body (before interpolation, so typos are reported even in generated stages). */
  checkFields(where: string, body: YMap, allowed: readonly string[]): void {
    for (const e of body.entries) {
      if (!allowed.includes(e.key))
        this.problems.add(
          'unknown-field',
          `${where}: unknown field '${e.key}'${didYouMean(e.key, allowed)}`,
          e.keySpan,
        );
    }
  }

  /** Build one stage; returns its outputs for the overlap checks, and every path for the symlink check. */
  build(b: StageBuild): { stage: StageDef; outs: OutRef[]; paths: PathRef[] } | undefined {
    const where = `stage '${b.name}'`;
    const before = this.problems.size;
    const bad = (reason: FailureReason, text: string, span: Span) =>
      this.problems.add(reason, `${where}: ${text}`, span);
    const field = (key: string) => b.body.entries.find((e) => e.key === key);

    const cmdEntry = field('cmd');
    let cmd: string[] = [];
    if (!cmdEntry) {
      bad('config', "missing required field 'cmd'", b.nameSpan);
    } else {
      const v = cmdEntry.value;
      if (v.kind === 'scalar' && typeof v.value === 'string' && v.value.trim()) cmd = [v.value];
      else if (
        v.kind === 'seq' &&
        v.items.length &&
        v.items.every((i) => i.kind === 'scalar' && typeof i.value === 'string')
      ) {
        cmd = v.items.map((i) => String((i as { value: unknown }).value));
      } else bad('config', "'cmd' must be a non-empty string or a list of strings", v.span);
    }

    const bool = (key: string): boolean => {
      const e = field(key);
      if (!e) return false;
      if (e.value.kind === 'scalar' && typeof e.value.value === 'boolean') return e.value.value;
      bad('config', `'${key}' must be true or false`, e.value.span);
      return false;
    };
    const frozen = bool('frozen');
    const alwaysChanged = bool('always_changed');

    let desc: string | undefined;
    const descEntry = field('desc');
    if (descEntry) {
      const v = descEntry.value;
      if (v.kind === 'scalar' && typeof v.value === 'string') desc = v.value;
      else bad('config', "'desc' must be a string", v.span);
    }
    const metaEntry = field('meta');

    const outs: OutRef[] = [];
    const inputs: PathRefInput[] = [];
    const stage: StageDef = {
      name: b.name,
      cmd,
      wdir: b.wdir,
      deps: this.deps(where, b, field('deps')?.value, inputs),
      params: this.params(where, b, field('params')?.value, inputs),
      outs: [],
      frozen,
      alwaysChanged,
      pos: this.pos(b.nameSpan) ?? { file: b.nameSpan.file, line: 1, col: 1 },
      ...(desc !== undefined ? { desc } : {}),
      ...(metaEntry ? { meta: toPlain(metaEntry.value) } : {}),
      ...(b.group ? { group: b.group } : {}),
      ...(b.trackedVars && Object.keys(b.trackedVars).length ? { trackedVars: b.trackedVars } : {}),
    };
    for (const kind of ['outs', 'metrics', 'plots'] as const) {
      const node = field(kind)?.value;
      if (node) this.outputs(where, b, kind, node, stage, outs);
    }
    this.checkDepOutOverlap(where, stage, outs);
    if (this.problems.size > before) return undefined;
    const paths: PathRef[] = [
      ...(b.wdir !== '.' ? [{ stage, path: b.wdir, span: field('wdir')?.value.span, role: 'wdir' as const }] : []),
      ...inputs.map((i) => ({ stage, ...i })),
      ...outs.map((o) => ({ ...o, role: 'output' as const })),
    ];
    return { stage, outs, paths };
  }

  /** DVC refuses a path that is both a dep and an out of one stage; nested ones are refused too. */
  private checkDepOutOverlap(where: string, stage: StageDef, outs: readonly OutRef[]): void {
    const inside = (a: string, b: string) => a.startsWith(`${b}/`);
    for (const o of outs) {
      for (const d of stage.deps) {
        let text: string | undefined;
        if (d.path === o.path) text = `'${o.path}' is both a dependency and an output of this stage`;
        else if (inside(o.path, d.path)) text = `output '${o.path}' is inside its own dependency '${d.path}'`;
        else if (inside(d.path, o.path)) text = `dependency '${d.path}' is inside its own output '${o.path}'`;
        if (text && o.span) {
          this.problems.add('dep-out-overlap', `${where}: ${text}`, o.span);
          break;
        }
      }
    }
  }

  private list(where: string, key: string, node: YNode | undefined, what: string): YNode[] {
    if (!node || (node.kind === 'scalar' && node.value === null)) return [];
    if (node.kind === 'seq') return node.items;
    this.problems.add('config', `${where}: '${key}' must be a list of ${what}`, node.span);
    return [];
  }

  private deps(where: string, b: StageBuild, node: YNode | undefined, inputs: PathRefInput[]): DepDef[] {
    const deps: DepDef[] = [];
    for (const item of this.list(where, 'deps', node, 'paths')) {
      if (item.kind !== 'scalar' || typeof item.value !== 'string' || !item.value) {
        this.problems.add('config', `${where}: each entry of 'deps' must be a path`, item.span);
        continue;
      }
      const r = resolveStagePath(this.root, b.wdir, item.value);
      if (r.kind === 'outside') {
        this.problems.add('path-outside', `${where}: dependency '${item.value}' is outside the repository`, item.span);
        continue;
      }
      const pos = this.pos(item.span);
      deps.push({ path: r.path, ...(pos ? { pos } : {}) });
      inputs.push({ path: r.path, span: item.span, role: 'dependency' });
    }
    return deps;
  }

  private params(where: string, b: StageBuild, node: YNode | undefined, inputs: PathRefInput[]): ParamDep[] {
    const byFile = new Map<string, ParamDep>();
    const add = (file: string, keys: string[] | null, span: Span) => {
      const r = resolveStagePath(this.root, b.wdir, file);
      if (r.kind === 'outside') {
        this.problems.add('path-outside', `${where}: params file '${file}' is outside the repository`, span);
        return;
      }
      const existing = byFile.get(r.path);
      if (!existing) {
        inputs.push({ path: r.path, span, role: 'params file' });
        const pos = this.pos(span);
        byFile.set(r.path, { file: r.path, keys: keys ? [...new Set(keys)] : null, ...(pos ? { pos } : {}) });
      } else if (existing.keys !== null) {
        // Tracking the whole file wins over tracking some of its keys.
        existing.keys = keys === null ? null : [...new Set([...existing.keys, ...keys])];
      }
    };
    for (const item of this.list(where, 'params', node, 'keys or {file: [keys]}')) {
      if (item.kind === 'scalar' && typeof item.value === 'string' && item.value) {
        add(DEFAULT_PARAMS_FILE, [item.value], item.span);
      } else if (item.kind === 'map') {
        for (const e of item.entries) {
          const v = e.value;
          if (v.kind === 'scalar' && v.value === null) add(e.key, null, e.keySpan);
          else if (v.kind === 'seq' && v.items.length === 0) add(e.key, null, e.keySpan);
          else if (
            v.kind === 'seq' &&
            v.items.every((k) => k.kind === 'scalar' && typeof k.value === 'string' && k.value)
          ) {
            add(
              e.key,
              v.items.map((k) => String((k as { value: unknown }).value)),
              e.keySpan,
            );
          } else {
            this.problems.add(
              'config',
              `${where}: params of '${e.key}' must be a list of keys, or empty to track the whole file`,
              v.span,
            );
          }
        }
      } else {
        this.problems.add('config', `${where}: each entry of 'params' must be a key or {file: [keys]}`, item.span);
      }
    }
    return [...byFile.values()];
  }

  private outputs(where: string, b: StageBuild, kind: OutKind, node: YNode, stage: StageDef, refs: OutRef[]): void {
    for (const item of this.list(where, kind, node, 'paths or {path: {options}}')) {
      let rawPath: string;
      let span: Span;
      let opts: YMap | undefined;
      if (item.kind === 'scalar' && typeof item.value === 'string' && item.value) {
        rawPath = item.value;
        span = item.span;
      } else if (item.kind === 'map' && item.entries.length === 1 && item.entries[0]) {
        const e = item.entries[0];
        rawPath = e.key;
        span = e.keySpan;
        if (e.value.kind === 'map') opts = e.value;
        else if (!(e.value.kind === 'scalar' && e.value.value === null)) {
          this.problems.add(
            'config',
            `${where}: options of ${kind} '${rawPath}' must be a mapping like {cache: false}`,
            e.value.span,
          );
          continue;
        }
      } else {
        this.problems.add('config', `${where}: each entry of '${kind}' must be a path or {path: {options}}`, item.span);
        continue;
      }
      const r = resolveStagePath(this.root, b.wdir, rawPath);
      if (r.kind === 'outside') {
        this.problems.add('path-outside', `${where}: output '${rawPath}' is outside the repository`, span);
        continue;
      }
      if (r.path === '.') {
        this.problems.add('path-outside', `${where}: output '${rawPath}' is the whole repository`, span);
        continue;
      }
      const out: OutDef = { path: r.path, kind, cache: true, persist: false, push: true };
      const pos = this.pos(span);
      if (pos) out.pos = pos;
      if (opts) this.outOptions(where, kind, rawPath, opts, out);
      stage.outs.push(out);
      refs.push({ stage, path: r.path, span, ...(pos ? { pos } : {}) });
    }
  }

  private outOptions(where: string, kind: OutKind, rawPath: string, opts: YMap, out: OutDef): void {
    if (kind === 'plots') {
      // The plot properties (x, y, template...) next to the output options (cache, persist...).
      const props = readPlotProps(`${where}: plots '${rawPath}'`, opts, this.problems, this.root, {
        topLevel: false,
        extra: OUT_FIELDS,
      });
      if (Object.keys(props).length) out.plot = props;
    }
    const allowed: readonly string[] = kind === 'plots' ? [...OUT_FIELDS, ...PLOT_PROP_FIELDS] : OUT_FIELDS;
    for (const e of opts.entries) {
      const v = e.value;
      const label = `${kind} '${rawPath}'`;
      if (!allowed.includes(e.key)) {
        if (kind === 'plots') continue; // reported by readPlotProps
        this.problems.add(
          'unknown-field',
          `${where}: ${label}: unknown field '${e.key}'${didYouMean(e.key, allowed)}`,
          e.keySpan,
        );
        continue;
      }
      if (e.key === 'cache' || e.key === 'persist' || e.key === 'push') {
        if (v.kind === 'scalar' && typeof v.value === 'boolean') out[e.key] = v.value;
        else this.problems.add('config', `${where}: ${label}: '${e.key}' must be true or false`, v.span);
      } else if (e.key === 'remote') {
        if (v.kind === 'scalar' && typeof v.value === 'string' && v.value) out.remote = v.value;
        else this.problems.add('config', `${where}: ${label}: 'remote' must be a remote name`, v.span);
      }
    }
  }
}
