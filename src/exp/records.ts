/**
 * Experiment records under refs/exps/<baseline sha>/<name>: written with git plumbing (objects, a
 * temporary index, commit-tree, then update-ref last with the expected old value), read back with one
 * `git for-each-ref` and one `git cat-file --batch`. Never touches the user's branch, index or files.
 */
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { LockstepError } from '../errors.js';
import { lockFromData } from '../pipeline/lockfile.js';
import type { LockFile } from '../pipeline/lockfile-types.js';
import { catFileBatch, git, gitMaybe } from './git.js';
import type { Assignment } from './sweep.js';
import type { ExperimentRecord } from './types.js';

export const REF_PREFIX = 'refs/exps/';
/** Where the record's own metadata lives inside its commit tree. */
export const META_PATH = '.lockstep/exp.json';
const ZERO_SHA = '0000000000000000000000000000000000000000';

/** What `.lockstep/exp.json` in a record's tree holds. */
export interface RecordMeta {
  version: 1;
  name: string;
  baseline: string;
  created: string;
  state: 'success' | 'failed';
  error?: string;
  /** The params this experiment set (its sweep point). */
  overrides: Assignment[];
  params: Record<string, Record<string, unknown>>;
  metrics: Record<string, Record<string, unknown>>;
  /** A copy of pipeline.lock (also in the tree as a file) so listing never parses YAML. */
  lock: LockFile | null;
  /** Wall time of the run in ms. */
  durationMs?: number;
  /** Stages that ran, and that were restored from the run-cache. */
  stages?: { ran: string[]; restored: string[] };
}

export interface ListedExperiment extends ExperimentRecord {
  ref: string;
  overrides: Assignment[];
  durationMs?: number;
  stages?: { ran: string[]; restored: string[] };
}

export const expRef = (baseline: string, name: string): string => `${REF_PREFIX}${baseline}/${name}`;

export interface WriteRecordInput {
  meta: RecordMeta;
  /** Files for the tree: repo-relative path in the record and the absolute file to read. */
  files: Array<{ path: string; abs: string }>;
}

const identityEnv = (): Record<string, string> => ({
  GIT_AUTHOR_NAME: process.env.GIT_AUTHOR_NAME ?? 'lockstep',
  GIT_AUTHOR_EMAIL: process.env.GIT_AUTHOR_EMAIL ?? 'lockstep@localhost',
  GIT_COMMITTER_NAME: process.env.GIT_COMMITTER_NAME ?? 'lockstep',
  GIT_COMMITTER_EMAIL: process.env.GIT_COMMITTER_EMAIL ?? 'lockstep@localhost',
});

export function commitMessage(meta: RecordMeta): string {
  const what = meta.overrides
    .map((a) => `${a.key}=${typeof a.value === 'string' ? a.value : JSON.stringify(a.value)}`)
    .join(' ');
  return (
    `lockstep exp ${meta.name}${what ? `: ${what}` : ''}\n\nLockstep-State: ${meta.state}\nLockstep-Created: ` +
    `${meta.created}\n`
  );
}

/**
 * Write one record and return its commit sha. The ref is written last and only if it does not exist
 * yet, so a concurrent run with the same name fails instead of overwriting, and a crash leaves at most
 * unreferenced objects (collected by git gc), never a half-written record.
 */
export async function writeRecord(root: string, input: WriteRecordInput): Promise<string> {
  const { meta } = input;
  const files = [...input.files].sort((a, b) => a.path.localeCompare(b.path));
  const tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'lockstep-index-'));
  try {
    // the meta file joins the others in one `hash-object` (a git process less per experiment)
    const metaFile = path.join(tmp, 'exp.json');
    await fs.writeFile(metaFile, `${JSON.stringify(meta, null, 1)}\n`);
    const shas = (
      await git(root, ['hash-object', '-w', '--no-filters', '--stdin-paths'], {
        input: `${[...files.map((f) => f.abs), metaFile].join('\n')}\n`,
      })
    )
      .trim()
      .split('\n');
    const metaSha = shas.pop();
    if (shas.length !== files.length || !metaSha)
      throw new LockstepError('exp', 'git hash-object returned fewer hashes than files', 'Run `git fsck`.');
    const env = { GIT_INDEX_FILE: path.join(tmp, 'index') };
    const lines = files.map((f, i) => `100644 ${shas[i]}\t${f.path}`);
    lines.push(`100644 ${metaSha}\t${META_PATH}`);
    await git(root, ['update-index', '--add', '--index-info'], { env, input: `${lines.join('\n')}\n` });
    const tree = (await git(root, ['write-tree'], { env })).trim();
    const commit = (
      await git(root, ['commit-tree', tree, '-p', meta.baseline, '-F', '-'], {
        input: commitMessage(meta),
        env: { ...identityEnv(), GIT_AUTHOR_DATE: meta.created, GIT_COMMITTER_DATE: meta.created },
      })
    ).trim();
    const ref = expRef(meta.baseline, meta.name);
    const ok = await gitMaybe(root, ['update-ref', '-m', `lockstep exp run ${meta.name}`, ref, commit, ZERO_SHA]);
    if (ok === null) {
      throw new LockstepError(
        'exp',
        `experiment name '${meta.name}' is already taken on baseline ${meta.baseline.slice(0, 7)} (${ref})`,
        'Pick another name with -n, or remove the old one with `lockstep exp remove`.',
      );
    }
    return commit;
  } finally {
    await fs.rm(tmp, { recursive: true, force: true });
  }
}

export interface RefEntry {
  ref: string;
  baseline: string;
  name: string;
  sha: string;
}

/** Every experiment ref, with one `git for-each-ref`. */
export async function listRefs(root: string): Promise<RefEntry[]> {
  const out = await git(root, ['for-each-ref', '--format=%(objectname) %(refname)', REF_PREFIX]);
  const entries: RefEntry[] = [];
  for (const line of out.split('\n')) {
    if (!line) continue;
    const sp = line.indexOf(' ');
    const sha = line.slice(0, sp);
    const ref = line.slice(sp + 1);
    const rest = ref.slice(REF_PREFIX.length);
    const slash = rest.indexOf('/');
    if (slash < 0) continue;
    entries.push({ ref, sha, baseline: rest.slice(0, slash), name: rest.slice(slash + 1) });
  }
  return entries;
}

/** Resolve revisions (branch, tag, sha, HEAD) to full commit shas. */
export async function resolveRevs(root: string, revs: string[]): Promise<string[]> {
  const shas: string[] = [];
  for (const rev of revs) {
    const sha = await gitMaybe(root, ['rev-parse', '--verify', '--quiet', `${rev}^{commit}`]);
    if (sha === null) {
      throw new LockstepError(
        'exp',
        `'${rev}' is not a commit in ${root}`,
        rev === 'HEAD' ? 'Commit once before running experiments.' : 'Give a branch, tag or commit sha.',
      );
    }
    shas.push(sha.trim());
  }
  return shas;
}

export interface ListOptions {
  /** Baselines to list (revisions); default HEAD. */
  revs?: string[];
  /** Only these experiment names. */
  names?: string[];
  /** Every baseline that has experiments. */
  allCommits?: boolean;
}

/** Parse one record's metadata blob into the public record shape. */
export function recordFromMeta(entry: RefEntry, text: string): ListedExperiment {
  const meta = JSON.parse(text) as RecordMeta;
  const rec: ListedExperiment = {
    ref: entry.ref,
    name: entry.name,
    baseline: entry.baseline,
    sha: entry.sha,
    created: meta.created,
    state: meta.state,
    params: meta.params ?? {},
    metrics: meta.metrics ?? {},
    lock: meta.lock ? lockFromData(meta.lock, `experiment '${entry.name}' (${META_PATH})`) : null,
    overrides: meta.overrides ?? [],
  };
  if (meta.error !== undefined) rec.error = meta.error;
  if (meta.durationMs !== undefined) rec.durationMs = meta.durationMs;
  if (meta.stages !== undefined) rec.stages = meta.stages;
  return rec;
}

/**
 * The experiments of the given baselines (default HEAD), oldest first within a baseline. Takes no
 * lock: refs and objects are immutable once written, so a concurrent `exp run` is never in the way.
 */
export async function listExperiments(root: string, opts: ListOptions = {}): Promise<ListedExperiment[]> {
  let refs = await listRefs(root);
  if (!opts.allCommits) {
    const baselines = new Set(await resolveRevs(root, opts.revs?.length ? opts.revs : ['HEAD']));
    refs = refs.filter((r) => baselines.has(r.baseline));
  }
  if (opts.names?.length) {
    const names = new Set(opts.names);
    refs = refs.filter(
      (r) => names.has(r.name) || names.has(r.sha) || opts.names!.some((n) => n.length >= 7 && r.sha.startsWith(n)),
    );
  }
  const blobs = await catFileBatch(
    root,
    refs.map((r) => `${r.sha}:${META_PATH}`),
  );
  const records: ListedExperiment[] = [];
  refs.forEach((r, i) => {
    const blob = blobs[i];
    if (!blob) return; // not a lockstep record (someone else's ref): skip rather than fail the listing
    try {
      records.push(recordFromMeta(r, blob.content.toString('utf8')));
    } catch {
      // a damaged metadata blob must not hide the other experiments
    }
  });
  return records.sort(
    (a, b) =>
      a.baseline.localeCompare(b.baseline) || a.created.localeCompare(b.created) || a.name.localeCompare(b.name),
  );
}

/**
 * Find one experiment by name (or sha prefix). A name present under several baselines resolves to the
 * one under HEAD, else it is ambiguous.
 */
export async function resolveExperiment(root: string, nameOrSha: string): Promise<ListedExperiment> {
  const all = await listExperiments(root, { allCommits: true, names: [nameOrSha] });
  if (all.length === 1) return all[0] as ListedExperiment;
  if (all.length === 0) {
    throw new LockstepError(
      'exp',
      `no experiment named '${nameOrSha}'`,
      'List them with `lockstep exp list --all-commits`.',
    );
  }
  const head = (await gitMaybe(root, ['rev-parse', 'HEAD']))?.trim();
  const onHead = all.filter((r) => r.baseline === head);
  if (onHead.length === 1) return onHead[0] as ListedExperiment;
  throw new LockstepError(
    'exp',
    `experiment name '${nameOrSha}' is ambiguous: ${all.map((r) => `${r.baseline.slice(0, 7)}/${r.name}`).join(', ')}`,
    'Give the experiment sha instead.',
  );
}

/** Names already used under a baseline. */
export async function takenNames(root: string, baseline: string): Promise<Set<string>> {
  return new Set((await listRefs(root)).filter((r) => r.baseline === baseline).map((r) => r.name));
}

/** Delete refs atomically in one `git update-ref --stdin` transaction, each checked against its sha. */
export async function removeRefs(root: string, entries: Array<{ ref: string; sha: string }>): Promise<void> {
  if (entries.length === 0) return;
  const input = `${entries.map((e) => `delete ${e.ref} ${e.sha}`).join('\n')}\n`;
  await git(root, ['update-ref', '--stdin', '-m', 'lockstep exp remove'], { input });
}

/** Read files of a record's tree (e.g. its params files) as buffers; missing files are left out. */
export async function readRecordFiles(root: string, sha: string, paths: string[]): Promise<Map<string, Buffer>> {
  const blobs = await catFileBatch(
    root,
    paths.map((p) => `${sha}:${p}`),
  );
  const out = new Map<string, Buffer>();
  paths.forEach((p, i) => {
    const b = blobs[i];
    if (b && b.type === 'blob') out.set(p, Buffer.from(b.content));
  });
  return out;
}

/** Every file path in a record's tree. */
export async function recordFilePaths(root: string, sha: string): Promise<string[]> {
  const out = await git(root, ['ls-tree', '-r', '-z', '--name-only', sha]);
  return out.split('\0').filter(Boolean);
}
