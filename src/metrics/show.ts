/** `metrics show`, `metrics diff` and `params diff` use cases: collect the files at the revisions asked for. */
import { loadPipeline } from '../config/load.js';
import { openProject } from '../project.js';
import { diffFiles, type DiffRow } from './compare.js';
import { allCommits, checkRev, metricsFilesOf, paramsFilesOf, readFilesAt, type FlatFile, type Rev } from './read.js';

export interface RevFiles {
  /** 'workspace' or the revision as named (a full sha for `-A`). */
  rev: string;
  files: Map<string, FlatFile>;
}

async function context(targets: string[]) {
  const project = await openProject();
  const pipeline = await loadPipeline(project.root, { cacheDir: project.cacheDir });
  return { root: project.root, pipeline, targets };
}

/** Metrics of the workspace (and of every commit with `allCommits`), limited to `targets` when given. */
export async function showMetrics(opts: { targets: string[]; allCommits: boolean }): Promise<RevFiles[]> {
  const { root, pipeline } = await context(opts.targets);
  const files = opts.targets.length ? opts.targets : metricsFilesOf(pipeline);
  const out: RevFiles[] = [{ rev: 'workspace', files: await readFilesAt(root, null, files) }];
  if (opts.allCommits)
    for (const sha of await allCommits(root)) out.push({ rev: sha, files: await readFilesAt(root, sha, files) });
  return out;
}

export interface DiffResult {
  a: string;
  b: string;
  rows: DiffRow[];
}

/** Revisions of `diff [a_rev] [b_rev]`: HEAD and the workspace by default, b the workspace when only a is given. */
async function revs(root: string, a?: string, b?: string): Promise<[Rev, Rev]> {
  const ra = a ?? 'HEAD';
  for (const r of [ra, b]) if (r && r !== 'workspace') await checkRev(root, r);
  const norm = (r: string | undefined): Rev => (r === undefined || r === 'workspace' ? null : r);
  return [norm(ra), norm(b)];
}

async function diffKind(
  kind: 'metrics' | 'params',
  opts: { a?: string; b?: string; all: boolean; targets?: string[] },
): Promise<DiffResult> {
  const { root, pipeline } = await context([]);
  const [ra, rb] = await revs(root, opts.a, opts.b);
  const files = opts.targets?.length
    ? opts.targets
    : kind === 'metrics'
      ? metricsFilesOf(pipeline)
      : paramsFilesOf(pipeline, root);
  const [fa, fb] = [await readFilesAt(root, ra, files), await readFilesAt(root, rb, files)];
  return {
    a: ra ?? 'workspace',
    b: rb ?? 'workspace',
    rows: diffFiles(fa, fb, { all: opts.all, numericChange: kind === 'metrics' }),
  };
}

export const diffMetrics = (opts: { a?: string; b?: string; all: boolean; targets?: string[] }) =>
  diffKind('metrics', opts);
export const diffParams = (opts: { a?: string; b?: string; all: boolean; targets?: string[] }) =>
  diffKind('params', opts);
