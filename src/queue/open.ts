/**
 * Where the queue is: `.lockstep/config.yaml`
 *
 *   queue:
 *     url: redis://queue-host:6379/0   # BullMQ on Redis; leave it out for the embedded local queue
 *     name: cifar10                    # key prefix in Redis (default: lockstep)
 *     git_remote: origin               # where workers fetch baselines and push experiment refs
 *
 * and `queue.password` in the git-ignored `.lockstep/config.local.yaml`. Without a url, the queue is
 * a folder in the repository's git directory (`$LOCKSTEP_QUEUE_DIR` overrides it), for workers on
 * this machine: the same commands scale out by setting one URL.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import { LockstepError } from '../errors.js';
import { gitMaybe } from '../exp/git.js';
import { CONFIG_FILE, LOCAL_CONFIG_FILE } from '../project.js';
import type { QueueBackend } from './types.js';

export interface QueueConfig {
  url?: string;
  name: string;
  gitRemote: string;
  password?: string;
}

export async function loadQueueConfig(root: string): Promise<QueueConfig> {
  const cfg: QueueConfig = { name: 'lockstep', gitRemote: 'origin' };
  for (const file of [CONFIG_FILE, LOCAL_CONFIG_FILE]) {
    const text = await fs.readFile(path.join(root, file), 'utf8').catch(() => null);
    if (text === null) continue;
    let doc: { queue?: Record<string, unknown> } | null;
    try {
      doc = YAML.parse(text);
    } catch {
      continue; // openProject reports syntax errors with their position
    }
    const q = doc?.queue;
    if (q === undefined || q === null) continue;
    if (typeof q !== 'object')
      throw new LockstepError('config', `${file}: queue must be a mapping {url, name, git_remote}`, 'Fix it.');
    if (q.url !== undefined) {
      if (typeof q.url !== 'string' || !/^rediss?:\/\//.test(q.url))
        throw new LockstepError(
          'config',
          `${file}: queue.url must be a redis:// URL, not ${JSON.stringify(q.url)}`,
          'E.g. queue: {url: redis://127.0.0.1:6379}.',
        );
      if (file === CONFIG_FILE && new URL(q.url).password)
        throw new LockstepError(
          'config',
          `${file}: queue.url holds a password, and this file is tracked by git`,
          'Put queue.password in .lockstep/config.local.yaml instead.',
        );
      cfg.url = q.url;
    }
    if (typeof q.name === 'string' && q.name) cfg.name = q.name;
    if (typeof q.git_remote === 'string' && q.git_remote) cfg.gitRemote = q.git_remote;
    if (typeof q.password === 'string') cfg.password = q.password;
  }
  if (process.env.LOCKSTEP_QUEUE_URL) cfg.url = process.env.LOCKSTEP_QUEUE_URL;
  return cfg;
}

/** The git directory shared by a clone's worktrees. */
export async function gitCommonDir(root: string): Promise<string> {
  const out = await gitMaybe(root, ['rev-parse', '--path-format=absolute', '--git-common-dir']);
  if (out === null)
    throw new LockstepError(
      'exp',
      `${root} is not in a git repository`,
      'Queued experiments run from commits: git init and commit.',
    );
  return out.trim();
}

export async function openQueue(root: string, cfg?: QueueConfig): Promise<QueueBackend> {
  const c = cfg ?? (await loadQueueConfig(root));
  if (c.url) {
    const { RedisQueue } = await import('./redis.js');
    const lockMs = Number(process.env.LOCKSTEP_QUEUE_LOCK_MS) || undefined;
    return new RedisQueue({
      url: c.url,
      prefix: c.name,
      ...(c.password ? { password: c.password } : {}),
      ...(lockMs ? { lockMs } : {}),
    });
  }
  const { LocalQueue } = await import('./local.js');
  return new LocalQueue(process.env.LOCKSTEP_QUEUE_DIR ?? path.join(await gitCommonDir(root), 'lockstep-queue'));
}
