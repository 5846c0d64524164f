/**
 * pipeline.yaml / dvc.yaml -> Pipeline: parse with positions, build the `${...}` context
 * (params.yaml, then `vars`), expand foreach/matrix, check each stage against the schema, then
 * check outputs across stages. Every problem in the file is reported at once.
 */
import { existsSync, promises as fs, realpathSync } from 'node:fs';
import path from 'node:path';
import { LockstepError } from '../errors.js';
import { LOCK_FILES, PIPELINE_FILES } from '../project.js';
import { Context } from './context.js';
import { Problems, SourceFile } from './diagnostics.js';
import { expandForeach, expandMatrix, type Generated } from './generate.js';
import { resolveNode, resolveString, type ResolveEnv } from './interpolate.js';
import { getParam, ParamsCache } from './params.js';
import { checkOverlaps, checkRealPaths, resolveStagePath, type OutRef, type PathRef } from './paths.js';
import { projectControlPaths } from '../util/safe-path.js';
import { DEFAULT_PARAMS_FILE, STAGE_FIELDS, StageBuilder, TOP_LEVEL_FIELDS, didYouMean } from './schema.js';
import { parseYamlSourceCached } from './parse-cache.js';
import { readTopLevelMetrics, readTopLevelPlots } from './plots.js';
import { entry, toPlain, type Span, type YMap, type YNode } from './source.js';
import type { Pipeline, PlotDef, StageDef } from './types.js';
import { collectPipelineFiles } from './collect.js';
import type { DirListings } from '../util/dir-listings.js';

export interface LoadOptions {
  /**
   * The project's cache folder: when given, the parsed YAML of a large pipeline file is kept there,
   * and no output may be or hold it (`.cache` is refused either way).
   */
  cacheDir?: string;
  /** Share parsed params files with later resolveStageParams calls. */
  params?: ParamsCache;
  /** Folder listings shared with the command's other walks (see util/dir-listings.ts). */
  listings?: DirListings;
}

export async function loadPipeline(root: string, opts: LoadOptions = {}): Promise<Pipeline> {
  const cache = opts.params ?? new ParamsCache(root);
  const rootFile = PIPELINE_FILES.find((f) => existsSync(path.join(root, f)));
  const marked = existsSync(path.join(root, '.lockstep')) || existsSync(path.join(root, '.dvc'));
  if (!rootFile && !marked) {
    throw new LockstepError(
      'not-a-repo',
      `no pipeline.yaml or dvc.yaml in ${root}`,
      "Create pipeline.yaml (DVC's dvc.yaml works too).",
    );
  }
  const sources = new Map<string, SourceFile>();
  const problems = new Problems(sources);
  const checks = new ProjectChecks(root, opts.cacheDir);
  const stages: StageDef[] = [];
  const plots: PlotDef[] = [];
  const metrics: string[] = [];
  // Every pipeline file of the project, as DVC collects them; a sub-pipeline's stages are `sub/dvc.yaml:name`.
  const files = await collectPipelineFiles(root, {
    skipAbs: opts.cacheDir ? [opts.cacheDir] : [],
    ...(opts.listings ? { listings: opts.listings } : {}),
    visit: async (file) => {
      const text = await fs.readFile(path.join(root, file), 'utf8');
      sources.set(file, new SourceFile(file, text));
      const doc = parseYamlSourceCached(file, text, problems, opts.cacheDir);
      if (!doc) return [];
      if (doc.kind !== 'map') {
        problems.add('config', "the pipeline file must be a mapping with a 'stages' key", doc.span);
        return [];
      }
      const base = path.posix.dirname(file);
      const loader = new PipelineLoader(root, base, file, sources, problems, cache, checks);
      const own = await loader.load(doc);
      stages.push(...own);
      const plotsNode = entry(doc, 'plots')?.value;
      const metricsNode = entry(doc, 'metrics')?.value;
      if (plotsNode) plots.push(...readTopLevelPlots(plotsNode, problems, root, base));
      if (metricsNode)
        for (const m of readTopLevelMetrics(metricsNode, problems, root, base))
          if (!metrics.includes(m)) metrics.push(m);
      return own.flatMap((s) => s.outs.map((o) => o.path));
    },
  });
  problems.throwIfAny();
  checks.run(files, problems);
  problems.throwIfAny();
  const file = rootFile ?? (existsSync(path.join(root, '.dvc')) ? 'dvc.yaml' : 'pipeline.yaml');
  return { file, files, stages, plots, metrics };
}

/** The address of a stage: its name in the root's pipeline file, `sub/dvc.yaml:name` in any other (DVC's). */
export function stageAddress(file: string, name: string): string {
  return file.includes('/') ? `${file}:${name}` : name;
}

/** The lock file beside a pipeline file (repo-relative): `sub/dvc.yaml` -> `sub/dvc.lock`. */
export function lockFileOf(file: string): string {
  const dir = path.posix.dirname(file);
  const lock = LOCK_FILES[path.posix.basename(file)] ?? 'pipeline.lock';
  return dir === '.' ? lock : `${dir}/${lock}`;
}

/** The checks across every pipeline file: one output per stage, and no path outside or into a control file. */
class ProjectChecks {
  readonly outs: OutRef[] = [];
  readonly paths: PathRef[] = [];
  /** Params and vars files read while loading: outputs may not overwrite them. */
  readonly paramsFiles = new Set<string>([DEFAULT_PARAMS_FILE]);

  constructor(
    private readonly root: string,
    private readonly cacheDir: string | undefined,
  ) {}

  run(files: readonly string[], problems: Problems): void {
    checkOverlaps(this.outs, problems);
    const cacheDirs = ['.cache'];
    const allowed: string[] = [];
    if (this.cacheDir) {
      const rel = path.relative(this.root, path.resolve(this.root, this.cacheDir)).split(path.sep).join('/');
      cacheDirs.push(rel);
      allowed.push(realOrSelf(path.resolve(this.root, this.cacheDir)));
    }
    for (const ref of this.paths) for (const p of ref.stage.params) this.paramsFiles.add(p.file);
    // every folder holding a pipeline file owns both names and both lock names there
    const dirs = new Set(['.', ...files.map((f) => path.posix.dirname(f))]);
    const at = (dir: string, name: string) => (dir === '.' ? name : `${dir}/${name}`);
    const controls = projectControlPaths({
      pipelineFiles: [...dirs].flatMap((d) => PIPELINE_FILES.map((f) => at(d, f))),
      lockFiles: [...dirs].flatMap((d) => Object.values(LOCK_FILES).map((f) => at(d, f))),
      cacheDirs,
      paramsFiles: this.paramsFiles,
    });
    checkRealPaths(this.root, this.paths, problems, controls, allowed);
  }
}

/** Files already loaded into a context: null = whole file, list = only those keys (DVC's rules). */
type Imported = Map<string, string[] | null>;

class PipelineLoader {
  private readonly builder: StageBuilder;
  private readonly names = new Set<string>();
  private readonly stages: StageDef[] = [];
  /** params.yaml does not exist: an unknown `${...}` says so instead of only naming the variable. */
  private missingDefaults = false;
  /** The file's own params.yaml (beside it), the context of its `${...}` as in DVC. */
  private readonly defaultParams: string;

  constructor(
    private readonly root: string,
    /** The pipeline file's folder, repo-relative ('.' for the root): its stages' default wdir. */
    private readonly base: string,
    private readonly file: string,
    private readonly sources: Map<string, SourceFile>,
    private readonly problems: Problems,
    private readonly cache: ParamsCache,
    private readonly checks: ProjectChecks,
  ) {
    this.builder = new StageBuilder(root, problems, sources);
    this.defaultParams = base === '.' ? DEFAULT_PARAMS_FILE : `${base}/${DEFAULT_PARAMS_FILE}`;
    checks.paramsFiles.add(this.defaultParams);
  }

  async load(doc: YMap): Promise<StageDef[]> {
    for (const e of doc.entries) {
      if (!(TOP_LEVEL_FIELDS as readonly string[]).includes(e.key)) {
        this.problems.add(
          'unknown-field',
          `unknown top-level field '${e.key}'${didYouMean(e.key, TOP_LEVEL_FIELDS)}`,
          e.keySpan,
        );
      }
    }
    const global = new Context();
    const imported: Imported = new Map();
    const defaults = await this.cache.read(this.defaultParams);
    if (defaults.ok) {
      global.merge(defaults.data, this.defaultParams, true);
      imported.set(this.defaultParams, null);
    } else if (defaults.kind === 'syntax') {
      this.fileSyntaxProblem(defaults);
    } else {
      this.missingDefaults = true;
    }
    const vars = entry(doc, 'vars');
    if (vars) await this.loadVars(global, vars.value, this.base, 'vars', imported);

    const stagesNode = entry(doc, 'stages')?.value;
    if (stagesNode && !(stagesNode.kind === 'scalar' && stagesNode.value === null)) {
      if (stagesNode.kind !== 'map')
        this.problems.add('config', "'stages' must be a mapping of stage names to stages", stagesNode.span);
      else for (const e of stagesNode.entries) await this.loadEntry(e.key, e.keySpan, e.value, global, imported);
    }
    return this.stages;
  }

  private async loadEntry(
    name: string,
    nameSpan: Span,
    body: YNode,
    global: Context,
    imported: Imported,
  ): Promise<void> {
    const where = `stage '${stageAddress(this.file, name)}'`;
    const bad = /[@:/\\]/.exec(name);
    if (!name.trim() || bad) {
      const why =
        bad?.[0] === '@'
          ? " ('@' is reserved for stages generated by foreach/matrix)"
          : bad
            ? ` ('${bad[0]}' is not allowed)`
            : '';
      this.problems.add('config', `invalid stage name '${name}'${why}`, nameSpan);
      return;
    }
    if (body.kind !== 'map') {
      this.problems.add('config', `${where}: a stage must be a mapping of fields like 'cmd' and 'deps'`, body.span);
      return;
    }
    const foreach = entry(body, 'foreach');
    const matrix = entry(body, 'matrix');
    if (foreach) {
      this.builder.checkFields(where, body, ['foreach', 'do']);
      const doEntry = entry(body, 'do');
      if (doEntry?.value.kind !== 'map') {
        this.problems.add(
          'config',
          `${where}: 'foreach' needs a 'do' mapping with the stage to generate`,
          doEntry?.value.span ?? foreach.keySpan,
        );
        return;
      }
      const doBody = doEntry.value;
      this.builder.checkFields(where, doBody, STAGE_FIELDS);
      const env = this.env(global, where);
      const before = this.problems.size;
      const iterable = toPlain(resolveNode(foreach.value, env, 'foreach'));
      if (this.problems.size > before) return;
      const items = expandForeach(iterable);
      if ('error' in items) {
        this.problems.add('config', `${where}: ${items.error}`, foreach.value.span);
        return;
      }
      for (const g of items) await this.loadStage(name, g, nameSpan, doBody, global, imported);
      return;
    }
    if (matrix) {
      this.builder.checkFields(where, body, [...STAGE_FIELDS, 'matrix']);
      const axes = this.matrixAxes(where, matrix.value, global);
      if (!axes) return;
      const rest: YMap = { ...body, entries: body.entries.filter((e) => e.key !== 'matrix') };
      for (const g of expandMatrix(axes)) await this.loadStage(name, g, nameSpan, rest, global, imported);
      return;
    }
    const doEntry = entry(body, 'do');
    if (doEntry) this.problems.add('unknown-field', `${where}: 'do' needs 'foreach'`, doEntry.keySpan);
    this.builder.checkFields(where, { ...body, entries: body.entries.filter((e) => e.key !== 'do') }, STAGE_FIELDS);
    await this.loadStage(name, undefined, nameSpan, body, global, imported);
  }

  private matrixAxes(where: string, node: YNode, ctx: Context): Record<string, unknown[]> | undefined {
    if (node.kind !== 'map' || node.entries.length === 0) {
      this.problems.add('config', `${where}: 'matrix' must map axis names to lists of values`, node.span);
      return undefined;
    }
    const env = this.env(ctx, where);
    const axes: Record<string, unknown[]> = {};
    let ok = true;
    for (const e of node.entries) {
      const before = this.problems.size;
      const value = toPlain(resolveNode(e.value, env, 'matrix'));
      if (this.problems.size > before) ok = false;
      else if (!Array.isArray(value)) {
        this.problems.add('config', `${where}: matrix axis '${e.key}' must be a list`, e.value.span);
        ok = false;
      } else axes[e.key] = value;
    }
    return ok ? axes : undefined;
  }

  private async loadStage(
    group: string,
    gen: Generated | undefined,
    nameSpan: Span,
    body: YMap,
    base: Context,
    imported: Imported,
  ): Promise<void> {
    const local = gen ? `${group}@${gen.suffix}` : group;
    const name = stageAddress(this.file, local);
    const where = `stage '${name}'`;
    if (this.names.has(name)) {
      this.problems.add('config', `${where} is defined twice`, nameSpan);
      return;
    }
    this.names.add(name);
    let ctx = gen ? base.withOverrides(gen.vars) : base;

    let wdir = this.base;
    const wdirEntry = entry(body, 'wdir');
    if (wdirEntry) {
      const v = wdirEntry.value;
      const resolved =
        v.kind === 'scalar' && typeof v.value === 'string'
          ? resolveString(v.value, v.span, this.env(ctx, where), 'string')
          : v;
      if (resolved.kind === 'scalar' && typeof resolved.value === 'string' && resolved.value) {
        const r = resolveStagePath(this.root, this.base, resolved.value);
        if (r.kind === 'outside') {
          this.problems.add('path-outside', `${where}: wdir '${resolved.value}' is outside the repository`, v.span);
          return;
        }
        wdir = r.path;
      } else if (!(resolved.kind === 'scalar' && typeof resolved.value === 'string')) {
        this.problems.add('config', `${where}: 'wdir' must be a folder path`, v.span);
        return;
      }
    }
    const varsEntry = entry(body, 'vars');
    if (varsEntry) {
      ctx = ctx.cloneForMerge();
      const ok = await this.loadVars(ctx, varsEntry.value, wdir, `stages.${group}.vars`, new Map(imported));
      if (!ok) return;
    }
    const env = this.env(ctx, where);
    env.tracked = new Map();
    const before = this.problems.size;
    const entries = body.entries
      .filter((e) => e.key !== 'vars')
      .map((e) => ({ ...e, value: resolveNode(e.value, env, e.key) }));
    const built = this.builder.build({
      name,
      body: { ...body, entries },
      nameSpan,
      wdir,
      ...(gen ? { group } : {}),
      trackedVars: Object.fromEntries(env.tracked),
    });
    // A stage whose ${...} failed would only add confusing overlap reports; its problems stand.
    if (!built || this.problems.size > before) return;
    this.stages.push(built.stage);
    this.checks.outs.push(...built.outs);
    this.checks.paths.push(...built.paths);
  }

  private env(ctx: Context, where: string): ResolveEnv {
    const env: ResolveEnv = { ctx, problems: this.problems, sources: this.sources, where };
    if (this.missingDefaults) env.missingParamsFile = this.defaultParams;
    return env;
  }

  /** `vars`: params-like files (`file.yaml`, `file.yaml:key1,key2`, relative to wdir) and inline dicts. */
  private async loadVars(ctx: Context, node: YNode, wdir: string, label: string, imported: Imported): Promise<boolean> {
    if (node.kind === 'scalar' && node.value === null) return true;
    if (node.kind !== 'seq') {
      this.problems.add('config', `'${label}' must be a list of files and mappings`, node.span);
      return false;
    }
    const before = this.problems.size;
    for (const [i, item] of node.items.entries()) {
      if (item.kind === 'map') {
        const err = ctx.merge(toPlain(item) as Record<string, unknown>, `${label}[${i}]`, false);
        if (err) this.problems.add('config', `${label}[${i}]: ${err}`, item.span);
        continue;
      }
      if (item.kind !== 'scalar' || typeof item.value !== 'string' || !item.value) {
        this.problems.add('config', `${label}[${i}]: each entry of 'vars' must be a file name or a mapping`, item.span);
        continue;
      }
      const spec = item.value;
      const colon = spec.indexOf(':');
      const rawFile = colon === -1 ? spec : spec.slice(0, colon);
      const keys =
        colon === -1
          ? []
          : spec
              .slice(colon + 1)
              .split(',')
              .map((k) => k.trim())
              .filter(Boolean);
      const resolvedFile = resolveStagePath(this.root, wdir, rawFile);
      if (resolvedFile.kind === 'outside') {
        this.problems.add(
          'path-outside',
          `${label}[${i}]: vars file '${rawFile}' is outside the repository`,
          item.span,
        );
        continue;
      }
      const file = resolvedFile.path;
      this.checks.paramsFiles.add(file);
      const prior = imported.get(file);
      if (prior !== undefined) {
        if (!keys.length && prior === null) continue; // the same whole file twice is fine
        if (!keys.length || prior === null || keys.some((k) => prior.includes(k))) {
          const how = keys.length ? 'partially load' : 'load';
          const already = prior === null ? 'already loaded' : 'partially loaded already';
          this.problems.add('config', `${label}[${i}]: cannot ${how} '${spec}' as it is ${already}`, item.span);
          continue;
        }
      }
      const read = await this.cache.read(file);
      if (!read.ok) {
        if (read.kind === 'missing')
          this.problems.add('missing-param', `${label}[${i}]: vars file '${file}' not found`, item.span);
        else this.fileSyntaxProblem(read);
        continue;
      }
      let data = read.data;
      if (keys.length) {
        data = {};
        for (const k of keys) {
          const got = getParam(read.data, k);
          if (!got.found)
            this.problems.add(
              'missing-param',
              `${label}[${i}]: key '${k}' not found in vars file '${file}'`,
              item.span,
            );
          else setDotted(data, k, got.value);
        }
      }
      const err = ctx.merge(data, file, true);
      if (err) this.problems.add('config', `${label}[${i}]: ${err}`, item.span);
      imported.set(file, keys.length ? [...(prior ?? []), ...keys] : null);
    }
    return this.problems.size === before;
  }

  private fileSyntaxProblem(r: {
    file: string;
    message: string;
    pos?: { line: number; col: number };
    text: string;
  }): void {
    const src = new SourceFile(r.file, r.text);
    this.sources.set(r.file, src);
    let offset: number | undefined;
    if (r.pos) {
      const lines = r.text.split('\n', r.pos.line - 1);
      offset = lines.reduce((n, l) => n + l.length + 1, 0) + r.pos.col - 1;
    }
    this.problems.add('yaml-syntax', r.message, offset === undefined ? undefined : { file: r.file, offset, length: 1 });
  }
}

function realOrSelf(abs: string): string {
  try {
    return realpathSync.native(abs);
  } catch {
    return abs;
  }
}

function setDotted(obj: Record<string, unknown>, dotted: string, value: unknown): void {
  const parts = dotted.split('.');
  let cur = obj;
  for (const p of parts.slice(0, -1)) {
    const next = cur[p];
    if (typeof next === 'object' && next !== null && !Array.isArray(next)) cur = next as Record<string, unknown>;
    else cur = cur[p] = {};
  }
  cur[parts[parts.length - 1] ?? dotted] = value;
}
