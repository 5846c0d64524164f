import { existsSync, promises as fs, statSync } from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import { LockstepError } from './errors.js';
import type { LinkType } from './cache/types.js';

/**
 * A lockstep project: its root (the folder holding pipeline.yaml or dvc.yaml), its config
 * (`.lockstep/config.yaml`, git-tracked, merged with the git-ignored `.lockstep/config.local.yaml`)
 * and where its cache lives.
 */
export interface Project {
  root: string;
  /** Absolute cache directory: LOCKSTEP_CACHE_DIR, else config `cache.dir`, else `<root>/.cache`. */
  cacheDir: string;
  linkTypes: LinkType[];
  config: ProjectConfig;
}

export interface RemoteConfig {
  url: string;
  [key: string]: unknown;
}

export interface ProjectConfig {
  cache?: { dir?: string; type?: string };
  core?: { remote?: string };
  remote?: Record<string, RemoteConfig>;
}

export const CONFIG_FILE = '.lockstep/config.yaml';
export const LOCAL_CONFIG_FILE = '.lockstep/config.local.yaml';
export const PIPELINE_FILES = ['pipeline.yaml', 'dvc.yaml'] as const;
export const LOCK_FILES: Record<string, string> = { 'pipeline.yaml': 'pipeline.lock', 'dvc.yaml': 'dvc.lock' };

/**
 * Walk up from `cwd` to the project root. The nearest folder with a pipeline file, `.lockstep/` or `.dvc/` is a
 * candidate. In a git repository (run from inside `sub/` of a monorepo) the root is rather the nearest folder
 * marked with `.lockstep/` or `.dvc/` (as DVC finds `.dvc/`), else the topmost folder with a pipeline file; the
 * walk never goes above the repository's top (the folder holding `.git`). Outside git: the nearest candidate.
 */
export function findProjectRoot(cwd: string): string {
  let nearest: string | undefined;
  let marked: string | undefined;
  let topPipeline: string | undefined;
  let gitTop = false;
  for (let dir = path.resolve(cwd); ; ) {
    const isMarked = existsSync(path.join(dir, '.lockstep')) || existsSync(path.join(dir, '.dvc'));
    const hasPipeline = PIPELINE_FILES.some((f) => existsSync(path.join(dir, f)));
    if ((isMarked || hasPipeline) && !nearest) nearest = dir;
    if (isMarked && !marked) marked = dir;
    if (hasPipeline) topPipeline = dir;
    if (existsSync(path.join(dir, '.git'))) {
      gitTop = true;
      break;
    }
    const parent = path.dirname(dir);
    if (parent === dir) break;
    dir = parent;
  }
  // outside git, only the nearest folder counts: a stray `.lockstep` above /tmp must not capture a project
  const root = gitTop ? (marked ?? topPipeline) : nearest;
  if (root) return root;
  throw new LockstepError(
    'not-a-repo',
    `no pipeline.yaml or dvc.yaml in ${cwd} or any parent folder`,
    'Run lockstep from a project folder.',
  );
}

async function readYamlConfig(file: string): Promise<ProjectConfig> {
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch {
    return {};
  }
  try {
    return (YAML.parse(text) ?? {}) as ProjectConfig;
  } catch (e) {
    throw new LockstepError('yaml-syntax', `${file}: ${(e as Error).message.split('\n')[0]}`, 'Fix the YAML syntax.');
  }
}

export function mergeConfig(base: ProjectConfig, local: ProjectConfig): ProjectConfig {
  const remote: Record<string, RemoteConfig> = { ...base.remote };
  for (const [name, r] of Object.entries(local.remote ?? {})) remote[name] = { ...remote[name], ...r } as RemoteConfig;
  return { cache: { ...base.cache, ...local.cache }, core: { ...base.core, ...local.core }, remote };
}

export function parseLinkTypes(spec: string | undefined): LinkType[] {
  const allowed: LinkType[] = ['reflink', 'hardlink', 'symlink', 'copy'];
  if (!spec) return ['reflink', 'copy'];
  const types = spec
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  for (const t of types) {
    if (!allowed.includes(t as LinkType)) {
      throw new LockstepError(
        'config',
        `${CONFIG_FILE}: cache.type '${t}' is not one of ${allowed.join(', ')}`,
        'Fix cache.type.',
      );
    }
  }
  return types as LinkType[];
}

/** What a caller running several workspaces in one process gives explicitly instead of through the environment. */
export interface OpenProjectOptions {
  /** The cache folder to use (an experiment's workspace shares its project's); else LOCKSTEP_CACHE_DIR, config. */
  cacheDir?: string;
}

export async function openProject(cwd: string = process.cwd(), opts: OpenProjectOptions = {}): Promise<Project> {
  const root = findProjectRoot(cwd);
  const config = mergeConfig(
    await readYamlConfig(path.join(root, CONFIG_FILE)),
    await readYamlConfig(path.join(root, LOCAL_CONFIG_FILE)),
  );
  const envCache = opts.cacheDir ?? process.env.LOCKSTEP_CACHE_DIR;
  const cacheDir = envCache ? path.resolve(envCache) : path.resolve(root, config.cache?.dir ?? '.cache');
  const st = statSync(cacheDir, { throwIfNoEntry: false });
  if (st && !st.isDirectory()) {
    const shown = path.relative(root, cacheDir) || cacheDir;
    throw new LockstepError(
      'config',
      `the cache folder ${shown.startsWith('..') ? cacheDir : shown} is a file, not a folder`,
      'Move that file away (lockstep makes a new cache folder), or set cache.dir in .lockstep/config.yaml.',
    );
  }
  return { root, cacheDir, linkTypes: parseLinkTypes(config.cache?.type), config };
}
