/**
 * Model registry use cases: register, list, show, assign, deprecate. Every change is one new git tag
 * (GTO's format, see tags.ts); nothing is ever rewritten, so the registry's history is git's.
 */
import { LockstepError } from '../errors.js';
import { resolveExperiment } from '../exp/records.js';
import type { Project } from '../project.js';
import type { LockFile } from '../pipeline/lockfile-types.js';
import { loadRegistryConfig, type ModelConfig } from './config.js';
import { createTag, readTags, resolveCommit } from './git-tags.js';
import { pathHash } from './hashes.js';
import {
  assignTagName,
  deprecateTagName,
  deregisterTagName,
  NAME_RE,
  nextVersion,
  registerTagName,
  registryState,
  STAGE_RE,
  tagSubject,
  unassignTagName,
  VERSION_RE,
  type ArtifactState,
  type VersionState,
} from './tags.js';
import {
  formatMessage,
  lockAt,
  lockedEntry,
  metricsAt,
  paramsOfLock,
  parseMessageMeta,
  type VersionMeta,
} from './versions.js';

export interface ShownVersion extends VersionState {
  meta: VersionMeta | null;
}

export interface ShownArtifact extends Omit<ArtifactState, 'versions'> {
  versions: ShownVersion[];
}

const usage = (message: string, hint: string) => new LockstepError('usage', message, hint);

export async function registry(root: string): Promise<Map<string, ArtifactState>> {
  return registryState(await readTags(root));
}

export async function listModels(root: string): Promise<ShownArtifact[]> {
  return [...(await registry(root)).values()].map(withMeta).sort((a, b) => a.name.localeCompare(b.name));
}

const withMeta = (a: ArtifactState): ShownArtifact => ({
  ...a,
  versions: a.versions.map((v) => ({ ...v, meta: parseMessageMeta<VersionMeta>(v.message) })),
});

export async function showModel(root: string, name: string): Promise<ShownArtifact> {
  const a = (await registry(root)).get(name);
  if (!a) throw unknownModel(name, await registry(root));
  return withMeta(a);
}

function unknownModel(name: string, reg: Map<string, ArtifactState>): LockstepError {
  const known = [...reg.keys()];
  return usage(
    `no model named '${name}' in the registry`,
    known.length ? `Known models: ${known.join(', ')}.` : 'Register one with `lockstep model register NAME --exp EXP`.',
  );
}

/** `NAME`, `NAME@vX.Y.Z`, `NAME@latest`, `NAME#STAGE` -> the version it names now. */
export async function resolveSpec(
  root: string,
  spec: string,
): Promise<{ artifact: ShownArtifact; version: ShownVersion }> {
  const m = /^([^@#]+)(?:@(.+)|#(.+))?$/.exec(spec);
  if (!m) throw usage(`'${spec}' is not a model reference`, 'Use NAME, NAME@vX.Y.Z, NAME@latest or NAME#STAGE.');
  const artifact = await showModel(root, m[1]!);
  const live = artifact.versions.filter((v) => !v.deregistered);
  let version: ShownVersion | undefined;
  if (m[3]) {
    const holder = artifact.stages[m[3]];
    version = live.find((v) => v.version === holder);
    if (!version)
      throw usage(`no version of ${artifact.name} is in stage '${m[3]}'`, 'See `lockstep model show NAME`.');
  } else if (!m[2] || m[2] === 'latest') {
    version = live[0];
    if (!version)
      throw usage(`${artifact.name} has no registered version`, 'Register one with `lockstep model register`.');
  } else {
    version = artifact.versions.find((v) => v.version === m[2]);
    if (!version) throw usage(`${artifact.name} has no version ${m[2]}`, 'See `lockstep model show NAME`.');
  }
  return { artifact, version };
}

export interface RegisterOptions {
  name: string;
  version?: string;
  exp?: string;
  rev?: string;
  path?: string;
  bump?: 'major' | 'minor' | 'patch';
  /** Extra fields kept in the version's record (a challenge's decision). */
  extra?: Record<string, unknown>;
}

export interface Registered {
  name: string;
  version: string;
  tag: string;
  commit: string;
  meta: VersionMeta;
  /** True when this commit was already registered and that version is returned instead. */
  existing: boolean;
}

/** What a version would record, from an experiment or a revision. */
export async function describeSource(
  project: Project,
  model: ModelConfig,
  opts: { exp?: string; rev?: string; path?: string },
): Promise<VersionMeta> {
  const artifactPath = opts.path ?? model.path;
  if (!artifactPath)
    throw usage(
      `model '${model.name}' has no path`,
      `Give --path, or set models.${model.name}.path in .lockstep/config.yaml.`,
    );
  let commit: string;
  let lock: LockFile | null;
  let metrics: VersionMeta['metrics'];
  let params: VersionMeta['params'];
  const source: VersionMeta['source'] = { commit: '' };
  if (opts.exp) {
    const rec = await resolveExperiment(project.root, opts.exp);
    if (rec.state !== 'success')
      throw new LockstepError(
        'exp',
        `experiment '${rec.name}' failed; a failed run cannot be registered`,
        'Pick a successful one (`lockstep exp show`).',
      );
    commit = rec.sha;
    lock = rec.lock;
    metrics = rec.metrics;
    params = rec.params;
    Object.assign(source, { exp: rec.name, baseline: rec.baseline });
  } else {
    const rev = opts.rev ?? 'HEAD';
    const c = await resolveCommit(project.root, rev);
    if (!c) throw usage(`'${rev}' is not a commit`, 'Give a branch, tag or commit sha with --rev.');
    commit = c;
    lock = (await lockAt(project.root, commit))?.lock ?? null;
    metrics = await metricsAt(project.root, commit);
    params = lock ? paramsOfLock(lock) : {};
    source.rev = rev;
  }
  source.commit = commit;
  if (!lock)
    throw usage(`no lock file at ${commit.slice(0, 7)}`, 'Register a commit or experiment whose pipeline ran.');
  const entry = lockedEntry(lock, artifactPath);
  if (!entry)
    throw usage(
      `${artifactPath} is not recorded in the lock file at ${commit.slice(0, 7)}`,
      'Give the output that holds the model with --path (e.g. models/model).',
    );
  const meta: VersionMeta = { path: artifactPath, md5: entry.md5, size: entry.size, source, metrics, params };
  if (entry.nfiles !== undefined) meta.nfiles = entry.nfiles;
  if (model.data) {
    const d = await pathHash(project, lock, model.data);
    if (d) meta.data = { path: model.data, md5: d };
  }
  if (model.testSet) {
    const t = await pathHash(project, lock, model.testSet);
    if (t) meta.testSet = { path: model.testSet, hash: t };
  }
  return meta;
}

export async function registerVersion(project: Project, opts: RegisterOptions): Promise<Registered> {
  if (!NAME_RE.test(opts.name))
    throw usage(
      `'${opts.name}' is not a valid model name`,
      'Use lower-case letters, digits and dashes, e.g. cifar10-cnn.',
    );
  if (opts.version !== undefined && !VERSION_RE.test(opts.version))
    throw usage(`'${opts.version}' is not a version`, 'Use vMAJOR.MINOR.PATCH, e.g. v1.2.0.');
  if (opts.exp && opts.rev) throw usage('give either --exp or --rev, not both', 'Pick one source.');
  const config = await loadRegistryConfig(project.root);
  const model = config.models[opts.name] ?? { name: opts.name };
  const meta = await describeSource(project, model, opts);
  const fullMeta = opts.extra ? { ...meta, ...opts.extra } : meta;
  for (let attempt = 0; attempt < 8; attempt++) {
    const state = (await registry(project.root)).get(opts.name);
    if (state?.deprecated)
      throw usage(`model '${opts.name}' is deprecated`, 'Pick another name, or delete its @deprecated tag.');
    const same = state?.versions.find((v) => v.commit === meta.source.commit && !v.deregistered);
    if (same) {
      if (opts.version && opts.version !== same.version)
        throw usage(`this commit is already registered as ${opts.name}@${same.version}`, 'Register another commit.');
      return {
        name: opts.name,
        version: same.version,
        tag: same.tag,
        commit: same.commit,
        meta: parseMessageMeta<VersionMeta>(same.message) ?? meta,
        existing: true,
      };
    }
    const taken = state?.versions.map((v) => v.version) ?? [];
    if (opts.version && taken.includes(opts.version))
      throw usage(
        `${opts.name}@${opts.version} already exists`,
        'Give another --version, or leave it out for the next one.',
      );
    const version = opts.version ?? nextVersion(taken, opts.bump);
    const tag = registerTagName(opts.name, version);
    const subject = tagSubject({ kind: 'register', artifact: opts.name, version });
    if (await createTag(project.root, tag, meta.source.commit, formatMessage(subject, fullMeta)))
      return { name: opts.name, version, tag, commit: meta.source.commit, meta, existing: false };
    if (opts.version) throw usage(`${tag} was created by someone else just now`, 'Give another --version.');
  }
  throw new LockstepError('locked', `could not register ${opts.name}: the registry kept changing`, 'Try again.');
}

export interface Assigned {
  name: string;
  version: string;
  stage: string;
  tag: string;
  previous: string | null;
}

/**
 * Assign a stage to a version with the next counter tag. `expect` makes it a compare-and-swap: the
 * assignment happens only while the stage is still held by `expect.holder` (null: by nobody) and the
 * counter is still `expect.counter`; otherwise null is returned and the caller decides again.
 */
export async function assignStage(
  project: Project,
  name: string,
  version: string,
  stage: string,
  opts: { message?: unknown; expect?: { holder: string | null; counter: number } } = {},
): Promise<Assigned | null> {
  if (!STAGE_RE.test(stage)) throw usage(`'${stage}' is not a valid stage name`, 'Use e.g. prod, staging.');
  for (let attempt = 0; attempt < 8; attempt++) {
    const a = (await registry(project.root)).get(name);
    if (!a) throw unknownModel(name, await registry(project.root));
    const v = a.versions.find((x) => x.version === version);
    if (!v) throw usage(`${name} has no version ${version}`, 'See `lockstep model show NAME`.');
    if (v.deregistered) throw usage(`${name}@${version} is deprecated`, 'Assign another version.');
    const previous = a.stages[stage] ?? null;
    if (opts.expect && (opts.expect.holder !== previous || opts.expect.counter !== a.nextCounter)) return null;
    const counter = opts.expect ? opts.expect.counter : a.nextCounter;
    const tag = assignTagName(name, stage, counter);
    const subject = tagSubject({ kind: 'assign', artifact: name, stage }, version);
    if (await createTag(project.root, tag, v.commit, formatMessage(subject, opts.message))) {
      return { name, version, stage, tag, previous };
    }
    if (opts.expect) return null;
  }
  throw new LockstepError(
    'locked',
    `could not assign ${stage} to ${name}@${version}: the registry kept changing`,
    'Try again.',
  );
}

/** GTO's deprecate: NAME (the artifact), NAME@VERSION (deregister), NAME@VERSION + STAGE (unassign). */
export async function deprecate(project: Project, name: string, version?: string, stage?: string): Promise<string> {
  const a = (await registry(project.root)).get(name);
  if (!a) throw unknownModel(name, await registry(project.root));
  if (!version) {
    const tag = deprecateTagName(name);
    const head = a.versions[0]?.commit ?? (await resolveCommit(project.root, 'HEAD'));
    if (!head) throw usage('the repository has no commit', 'Commit first.');
    if (
      !(await createTag(
        project.root,
        tag,
        head,
        formatMessage(tagSubject({ kind: 'deprecate', artifact: name }), undefined),
      ))
    )
      throw usage(`model '${name}' is already deprecated`, 'Nothing to do.');
    return tag;
  }
  const v = a.versions.find((x) => x.version === version);
  if (!v) throw usage(`${name} has no version ${version}`, 'See `lockstep model show NAME`.');
  if (stage) {
    if (a.stages[stage] !== version)
      throw usage(`${name}@${version} is not in stage '${stage}'`, 'Nothing to unassign.');
    const tag = unassignTagName(name, stage, a.nextCounter);
    const subject = tagSubject({ kind: 'unassign', artifact: name, stage }, version);
    if (!(await createTag(project.root, tag, v.commit, formatMessage(subject, undefined))))
      throw new LockstepError('locked', `${tag} was just created by someone else`, 'Run the command again.');
    return tag;
  }
  if (v.deregistered) throw usage(`${name}@${version} is already deprecated`, 'Nothing to do.');
  const tag = deregisterTagName(name, version);
  const subject = tagSubject({ kind: 'deregister', artifact: name, version });
  if (!(await createTag(project.root, tag, v.commit, formatMessage(subject, undefined))))
    throw usage(`${name}@${version} is already deprecated`, 'Nothing to do.');
  return tag;
}
