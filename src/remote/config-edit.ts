import { promises as fs } from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import { LockstepError } from '../errors.js';
import { CONFIG_FILE, LOCAL_CONFIG_FILE, type Project } from '../project.js';
import { writeFileAtomic } from '../util/atomic.js';
import { COMMON_OPTION_KEYS, REMOTE_OPTION_KEYS, remoteKindOf } from './open.js';

/**
 * Edits of `remote.*` and `core.remote` in the project config (git-tracked) or the local override
 * (git-ignored: credentials, machine paths). The YAML document is edited in place so comments
 * and the order of other settings survive.
 */
export type ConfigLevel = 'project' | 'local';

const fileFor = (root: string, level: ConfigLevel) =>
  path.join(root, level === 'local' ? LOCAL_CONFIG_FILE : CONFIG_FILE);

async function loadDoc(file: string): Promise<YAML.Document> {
  let text = '';
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
  const doc = YAML.parseDocument(text);
  if (doc.errors.length)
    throw new LockstepError('yaml-syntax', `${file}: ${doc.errors[0]!.message.split('\n')[0]}`, 'Fix the YAML syntax.');
  if (!doc.contents) doc.contents = doc.createNode({}) as unknown as typeof doc.contents;
  return doc;
}

async function saveDoc(root: string, level: ConfigLevel, doc: YAML.Document): Promise<void> {
  const file = fileFor(root, level);
  // the local file holds credentials: readable by its owner only (the temp file is created 0600, then renamed)
  await writeFileAtomic(file, doc.toString(), level === 'local' ? 0o600 : undefined);
  if (level === 'local') await ensureGitignored(root);
}

/** Option keys whose values are credentials: never written to the tracked config.yaml. */
export const SECRET_KEYS = [
  'password',
  'secret_access_key',
  'access_key_id',
  'session_token',
  'key_passphrase',
  'token',
  'secret',
] as const;

/** Query parameters of a URL that carry credentials (s3://bucket?secret_access_key=..., ?token=...). */
const SECRET_QUERY =
  /[?&](password|passwd|secret[a-z_]*|[a-z_]*access_key[a-z_]*|[a-z_]*token|key_passphrase|sig|signature)=/i;

/** What secret a URL carries, or null: a password (`scheme://user:pass@host`) or a secret query parameter. */
export function secretInUrl(url: string): string | null {
  if (/^[a-z][a-z0-9+.-]*:\/\/[^/@]*:[^/@]*@/i.test(url)) return 'a password';
  const q = SECRET_QUERY.exec(url);
  return q ? `a secret (${q[1]})` : null;
}

/**
 * Secrets go to the git-ignored local file only. For the tracked level, refuse with a one-line message
 * rather than move the value silently: the user then knows where their credential lives.
 */
function refuseSecret(level: ConfigLevel, name: string, key: string, value: string | undefined, args: string): void {
  if (level !== 'project' || value === undefined) return;
  if ((SECRET_KEYS as readonly string[]).includes(key)) {
    throw new LockstepError(
      'usage',
      `'${key}' is a secret: it would go to ${CONFIG_FILE}, which git tracks`,
      `Set it with --local (${LOCAL_CONFIG_FILE}, git-ignored, mode 0600): lockstep remote ${args} --local.`,
    );
  }
  if (key === 'url') {
    const what = secretInUrl(value);
    if (what)
      throw new LockstepError(
        'usage',
        `the url of remote '${name}' holds ${what}: it would go to ${CONFIG_FILE}, which git tracks`,
        `Add it with --local (${LOCAL_CONFIG_FILE}, git-ignored, mode 0600), or put the credential in an option set ` +
          `with --local.`,
      );
  }
}

/** `.lockstep/.gitignore` keeps the local override (credentials) out of git. */
async function ensureGitignored(root: string): Promise<void> {
  const ignore = path.join(root, '.lockstep', '.gitignore');
  const name = path.basename(LOCAL_CONFIG_FILE);
  const text = await fs.readFile(ignore, 'utf8').catch(() => '');
  if (!text.split('\n').includes(`/${name}`) && !text.split('\n').includes(name)) {
    await writeFileAtomic(ignore, `${text}${text && !text.endsWith('\n') ? '\n' : ''}/${name}\n`);
  }
}

const known = (project: Project) => Object.keys(project.config.remote ?? {}).sort();

function checkName(name: string): void {
  if (!/^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(name)) {
    throw new LockstepError(
      'usage',
      `remote name '${name}' is not valid`,
      'Use letters, digits, dot, dash and underscore.',
    );
  }
}

export async function addRemote(
  project: Project,
  name: string,
  url: string,
  opts: { default?: boolean; force?: boolean; level?: ConfigLevel },
): Promise<void> {
  checkName(name);
  remoteKindOf(url);
  const level = opts.level ?? 'project';
  refuseSecret(level, name, 'url', url, `add ${name} URL`);
  if (project.config.remote?.[name] && !opts.force) {
    throw new LockstepError(
      'config',
      `remote '${name}' already exists (url ${project.config.remote[name]!.url})`,
      `Use lockstep remote modify ${name} url URL, or add with --force to replace it.`,
    );
  }
  const doc = await loadDoc(fileFor(project.root, level));
  doc.setIn(['remote', name], doc.createNode({ url }));
  if (opts.default) doc.setIn(['core', 'remote'], name);
  await saveDoc(project.root, level, doc);
}

export async function setDefaultRemote(project: Project, name: string, level: ConfigLevel = 'project'): Promise<void> {
  if (!project.config.remote?.[name]) throw unknownRemote(project, name);
  const doc = await loadDoc(fileFor(project.root, level));
  doc.setIn(['core', 'remote'], name);
  await saveDoc(project.root, level, doc);
}

function unknownRemote(project: Project, name: string): LockstepError {
  const names = known(project);
  return new LockstepError(
    'remote',
    `unknown remote '${name}' (known remotes: ${names.length ? names.join(', ') : 'none'})`,
    'Add it with lockstep remote add NAME URL.',
  );
}

/** Set one option; `--unset` removes it. Credentials belong in the local level (`--local`). */
export async function modifyRemote(
  project: Project,
  name: string,
  key: string,
  value: string | undefined,
  level: ConfigLevel = 'project',
): Promise<void> {
  const current = project.config.remote?.[name];
  if (!current) throw unknownRemote(project, name);
  const kind = remoteKindOf(key === 'url' && value ? value : current.url);
  const allowed = [...COMMON_OPTION_KEYS, ...REMOTE_OPTION_KEYS[kind]];
  if (!allowed.includes(key)) {
    throw new LockstepError(
      'config',
      `'${key}' is not an option of ${kind} remote '${name}'`,
      `Options: ${allowed.join(', ')}.`,
    );
  }
  if (key === 'url' && value === undefined)
    throw new LockstepError(
      'usage',
      `the url of remote '${name}' cannot be unset`,
      `Use lockstep remote remove ${name}.`,
    );
  refuseSecret(level, name, key, value, `modify ${name} ${key} VALUE`);
  const doc = await loadDoc(fileFor(project.root, level));
  if (value === undefined) doc.deleteIn(['remote', name, key]);
  else doc.setIn(['remote', name, key], value);
  await saveDoc(project.root, level, doc);
}

/** Remove a remote from both levels, and `core.remote` where it named it. */
export async function removeRemote(project: Project, name: string): Promise<void> {
  if (!project.config.remote?.[name]) throw unknownRemote(project, name);
  for (const level of ['project', 'local'] as const) {
    const file = fileFor(project.root, level);
    const exists = await fs.access(file).then(
      () => true,
      () => false,
    );
    if (!exists) continue;
    const doc = await loadDoc(file);
    let changed = false;
    if (doc.hasIn(['remote', name])) {
      doc.deleteIn(['remote', name]);
      changed = true;
    }
    if (doc.getIn(['core', 'remote']) === name) {
      doc.deleteIn(['core', 'remote']);
      changed = true;
    }
    if (changed) await saveDoc(project.root, level, doc);
  }
}

export interface RemoteListing {
  name: string;
  url: string;
  isDefault: boolean;
}

export function listRemotes(project: Project): RemoteListing[] {
  return known(project).map((name) => ({
    name,
    url: redactUrl(String(project.config.remote![name]!.url ?? '')),
    isDefault: project.config.core?.remote === name,
  }));
}

/** A URL safe to print: a password written into it is masked. */
export function redactUrl(url: string): string {
  return url.replace(/^([a-z][a-z0-9+.-]*:\/\/[^/:@]*):[^/@]*@/i, '$1:***@');
}
