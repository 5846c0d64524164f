/**
 * `lockstep init`: make a folder a lockstep project. Creates `.lockstep/config.yaml` and
 * `.lockstep/.gitignore` (tmp/, config.local.yaml), and git-ignores the cache (`/.cache/`).
 * In a DVC repository (a `.dvc/` folder) it reuses DVC's cache (`cache.dir: .dvc/cache`, the same
 * `files/md5` layout) and copies the remotes and `core.remote` of `.dvc/config` (+ `.dvc/config.local`).
 */
import { existsSync, promises as fs } from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import { LockstepError } from './errors.js';
import { CONFIG_FILE, type ProjectConfig, type RemoteConfig } from './project.js';
import { writeFileAtomic } from './util/atomic.js';

export interface InitResult {
  root: string;
  created: string[];
  /** Set when a DVC repository was found: what was taken from it. */
  dvc?: { cacheDir: string; remotes: string[]; defaultRemote?: string };
}

/** DVC's INI config (`[core]`, `['remote "name"']`, `key = value`) -> lockstep's config shape. */
export function parseDvcConfig(text: string): ProjectConfig {
  const cfg: ProjectConfig = {};
  let section: { kind: 'core' | 'cache' | 'remote' | 'other'; name?: string } = { kind: 'other' };
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (!line || line.startsWith('#') || line.startsWith(';')) continue;
    const head = /^\[\s*'?(.*?)'?\s*\]$/.exec(line);
    if (head) {
      const h = head[1] ?? '';
      const remote = /^remote\s+"(.+)"$/.exec(h);
      if (remote) section = { kind: 'remote', name: remote[1]! };
      else if (h === 'core' || h === 'cache') section = { kind: h };
      else section = { kind: 'other' };
      continue;
    }
    const kv = /^([^=]+?)\s*=\s*(.*)$/.exec(line);
    if (!kv) continue;
    const [key, value] = [kv[1]!, kv[2]!];
    if (section.kind === 'core' && key === 'remote') cfg.core = { ...cfg.core, remote: value };
    else if (section.kind === 'cache' && key === 'type') cfg.cache = { ...cfg.cache, type: value };
    else if (section.kind === 'remote' && section.name) {
      cfg.remote ??= {};
      const remotes = cfg.remote;
      remotes[section.name] = { ...remotes[section.name], [key]: value } as RemoteConfig;
    }
  }
  return cfg;
}

async function appendLines(file: string, lines: string[]): Promise<boolean> {
  const text = await fs.readFile(file, 'utf8').catch(() => '');
  const present = new Set(text.split('\n').map((l) => l.trim()));
  const missing = lines.filter((l) => !present.has(l));
  if (!missing.length) return false;
  const sep = text === '' || text.endsWith('\n') ? '' : '\n';
  await writeFileAtomic(file, `${text}${sep}${missing.join('\n')}\n`);
  return true;
}

export async function initProject(dir: string, opts: { force?: boolean; noDvc?: boolean } = {}): Promise<InitResult> {
  const root = path.resolve(dir);
  const configFile = path.join(root, CONFIG_FILE);
  if (existsSync(configFile) && !opts.force) {
    throw new LockstepError(
      'usage',
      `'${root}' is already a lockstep project (${CONFIG_FILE} exists)`,
      'Use `lockstep init -f` to write a fresh config.',
    );
  }
  await fs.mkdir(path.join(root, '.lockstep'), { recursive: true });
  const created: string[] = [];
  const config: ProjectConfig = {};
  let dvc: InitResult['dvc'];
  const dvcDir = path.join(root, '.dvc');
  if (!opts.noDvc && existsSync(dvcDir)) {
    const read = (f: string) => fs.readFile(path.join(dvcDir, f), 'utf8').catch(() => '');
    const shared = parseDvcConfig(await read('config'));
    const local = parseDvcConfig(await read('config.local'));
    config.cache = { dir: '.dvc/cache', ...(shared.cache?.type ? { type: shared.cache.type } : {}) };
    if (shared.remote) config.remote = shared.remote;
    if (shared.core?.remote) config.core = { remote: shared.core.remote };
    dvc = {
      cacheDir: '.dvc/cache',
      remotes: Object.keys(shared.remote ?? {}),
      ...(shared.core?.remote ? { defaultRemote: shared.core.remote } : {}),
    };
    // DVC's config.local (credentials) goes to lockstep's git-ignored config.local.yaml
    if (local.remote || local.core) {
      // credentials: readable by the owner only
      await writeFileAtomic(path.join(root, '.lockstep', 'config.local.yaml'), YAML.stringify(local), 0o600);
      created.push('.lockstep/config.local.yaml');
    }
  }
  const header =
    '# lockstep project config (git-tracked); machine-specific settings go to config.local.yaml\n' +
    (dvc ? "# taken from .dvc/config by `lockstep init`: the cache and remotes are DVC's\n" : '');
  await writeFileAtomic(configFile, header + (Object.keys(config).length ? YAML.stringify(config) : ''));
  created.push(CONFIG_FILE);
  if (await appendLines(path.join(root, '.lockstep', '.gitignore'), ['/tmp/', '/config.local.yaml']))
    created.push('.lockstep/.gitignore');
  if (!dvc && (await appendLines(path.join(root, '.gitignore'), ['/.cache/']))) created.push('.gitignore');
  return { root, created, ...(dvc ? { dvc } : {}) };
}
