import os from 'node:os';
import path from 'node:path';
import { LockstepError } from '../errors.js';
import type { Project, RemoteConfig } from '../project.js';
import { CONFIG_FILE } from '../project.js';
import { FolderRemote } from './folder.js';
import type { Remote, RemoteKind } from './types.js';

/** Option keys a remote may carry besides `url` (DVC's names where DVC has one). */
export const REMOTE_OPTION_KEYS: Record<RemoteKind, readonly string[]> = {
  folder: [],
  ssh: ['user', 'port', 'keyfile', 'password', 'timeout'],
  s3: [
    'endpointurl',
    'region',
    'profile',
    'access_key_id',
    'secret_access_key',
    'session_token',
    'path_style',
    'multipart_threshold',
    'part_size',
  ],
};
export const COMMON_OPTION_KEYS = ['url', 'jobs'] as const;

/** The remote kind a URL names; throws a config error for schemes lockstep does not speak. */
export function remoteKindOf(url: string): RemoteKind {
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(url)?.[1]?.toLowerCase();
  if (!scheme || scheme === 'file') return 'folder';
  if (scheme === 'ssh' || scheme === 'sftp') return 'ssh';
  if (scheme === 's3') return 's3';
  throw new LockstepError(
    'config',
    `remote URL ${url}: scheme '${scheme}' is not supported`,
    'Use a folder path, ssh://user@host:port/path or s3://bucket/prefix.',
  );
}

export interface ResolvedRemote {
  name: string;
  config: RemoteConfig;
}

/** The remote named `name`, else `core.remote`; errors list the known names. */
export function resolveRemote(project: Project, name?: string): ResolvedRemote {
  const remotes = project.config.remote ?? {};
  const known = Object.keys(remotes).sort();
  const chosen = name ?? project.config.core?.remote;
  if (!chosen) {
    throw new LockstepError(
      'remote',
      known.length ? `no default remote is set (known remotes: ${known.join(', ')})` : 'no remote is configured',
      known.length
        ? 'Pass -r NAME or set one with lockstep remote add -d NAME URL.'
        : 'Add one with lockstep remote add -d NAME URL.',
    );
  }
  const config = remotes[chosen];
  if (!config) {
    throw new LockstepError(
      'remote',
      `unknown remote '${chosen}' (known remotes: ${known.length ? known.join(', ') : 'none'})`,
      'Add it with lockstep remote add NAME URL, or pick one of the known names.',
    );
  }
  if (typeof config.url !== 'string' || !config.url) {
    throw new LockstepError(
      'config',
      `${CONFIG_FILE}: remote '${chosen}' has no url`,
      `Set it with lockstep remote modify ${chosen} url URL.`,
    );
  }
  return { name: chosen, config };
}

const num = (v: unknown, what: string, remote: string): number | undefined => {
  if (v === undefined || v === null || v === '') return undefined;
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0)
    throw new LockstepError(
      'config',
      `${CONFIG_FILE}: remote '${remote}' option ${what} must be a positive number, not '${String(v)}'`,
      `Fix it with lockstep remote modify ${remote} ${what} VALUE.`,
    );
  return n;
};
const str = (v: unknown): string | undefined => (v === undefined || v === null || v === '' ? undefined : String(v));
const expandHome = (p: string): string => (p.startsWith('~/') ? path.join(os.homedir(), p.slice(2)) : p);

/** Open the remote a config entry describes. SSH and S3 modules load only when used. */
export async function openRemote(project: Project, resolved: ResolvedRemote, jobs: number): Promise<Remote> {
  const { name, config } = resolved;
  const url = config.url;
  switch (remoteKindOf(url)) {
    case 'folder': {
      const p = url.replace(/^file:\/\//i, '');
      return new FolderRemote(name, path.resolve(project.root, expandHome(p)));
    }
    case 'ssh': {
      const u = new URL(url);
      const { SshRemote } = await import('./ssh.js');
      return new SshRemote(name, {
        host: u.hostname,
        port: num(config.port, 'port', name) ?? (u.port ? Number(u.port) : 22),
        user: str(config.user) ?? decodeURIComponent(u.username || os.userInfo().username),
        root: decodeURIComponent(u.pathname || '/') || '/',
        keyfile: str(config.keyfile) ? path.resolve(project.root, expandHome(String(config.keyfile))) : undefined,
        password: str(config.password),
        channels: Math.min(8, Math.max(1, jobs)),
        timeoutMs: (num(config.timeout, 'timeout', name) ?? 15) * 1000,
      });
    }
    case 's3': {
      const u = new URL(url);
      if (!u.hostname)
        throw new LockstepError('config', `remote '${name}': ${url} names no bucket`, 'Use s3://bucket/prefix.');
      const { S3Remote, DEFAULT_MULTIPART_THRESHOLD, DEFAULT_PART_SIZE } = await import('./s3.js');
      const endpoint = str(config.endpointurl);
      const pathStyle = config.path_style === undefined ? Boolean(endpoint) : String(config.path_style) === 'true';
      return new S3Remote(name, {
        bucket: u.hostname,
        prefix: decodeURIComponent(u.pathname).replace(/^\/+|\/+$/g, ''),
        endpoint,
        region: str(config.region) ?? process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION ?? 'us-east-1',
        profile: str(config.profile),
        accessKeyId: str(config.access_key_id),
        secretAccessKey: str(config.secret_access_key),
        sessionToken: str(config.session_token),
        forcePathStyle: pathStyle,
        multipartThreshold: num(config.multipart_threshold, 'multipart_threshold', name) ?? DEFAULT_MULTIPART_THRESHOLD,
        partSize: num(config.part_size, 'part_size', name) ?? DEFAULT_PART_SIZE,
        maxSockets: Math.max(4, jobs),
      });
    }
  }
}

/** Default parallelism: DVC uses 4 × cores for network remotes; a folder is disk-bound. */
export function defaultJobs(kind: RemoteKind, configured: unknown): number {
  const n = Number(configured);
  if (Number.isFinite(n) && n > 0) return Math.floor(n);
  return kind === 'folder' ? 8 : Math.min(32, 4 * os.availableParallelism());
}
