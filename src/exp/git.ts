/**
 * Small git plumbing runner for the exp module. Plumbing needs stdin (`cat-file --batch`,
 * `update-index --index-info`, `update-ref --stdin`), which simple-git cannot feed, so this uses execa.
 */
import { execa } from 'execa';
import { LockstepError } from '../errors.js';

export interface GitOptions {
  input?: string | Buffer;
  env?: Record<string, string>;
  /** Return null instead of throwing on a non-zero exit. */
  allowFail?: boolean;
}

export async function git(cwd: string, args: string[], opts: GitOptions = {}): Promise<string> {
  const r = await gitRaw(cwd, args, opts);
  return r === null ? '' : r.toString('utf8');
}

export async function gitMaybe(cwd: string, args: string[], opts: GitOptions = {}): Promise<string | null> {
  const r = await gitRaw(cwd, args, { ...opts, allowFail: true });
  return r === null ? null : r.toString('utf8');
}

export async function gitRaw(cwd: string, args: string[], opts: GitOptions = {}): Promise<Buffer | null> {
  const r = await execa('git', args, {
    cwd,
    input: opts.input,
    env: { GIT_TERMINAL_PROMPT: '0', ...opts.env },
    reject: false,
    encoding: 'buffer',
    stripFinalNewline: false,
  });
  if (r.exitCode !== 0 || r.failed) {
    if (opts.allowFail) return null;
    const stderr = Buffer.from(r.stderr ?? '').toString('utf8').trim().split('\n')[0] ?? '';
    throw new LockstepError('exp', `git ${args[0]} failed in ${cwd}: ${stderr || r.shortMessage}`, 'Check that the folder is a git repository with at least one commit.');
  }
  return Buffer.from(r.stdout);
}

/** One object read by `git cat-file --batch`: null when the object does not exist. */
export type BatchResult = { type: string; content: Buffer } | null;

/** Read many objects (`<rev>:<path>` or shas) with one `git cat-file --batch` process. */
export async function catFileBatch(cwd: string, specs: string[]): Promise<BatchResult[]> {
  if (specs.length === 0) return [];
  const out = await gitRaw(cwd, ['cat-file', '--batch'], { input: specs.join('\n') + '\n' });
  const buf = out as Buffer;
  const results: BatchResult[] = [];
  let pos = 0;
  for (let i = 0; i < specs.length; i++) {
    const nl = buf.indexOf(10, pos);
    if (nl < 0) throw new LockstepError('exp', 'git cat-file --batch: output ended early', 'Run `git fsck` on the repository.');
    const header = buf.subarray(pos, nl).toString('utf8');
    pos = nl + 1;
    if (header.endsWith(' missing') || header.endsWith(' ambiguous')) {
      results.push(null);
      continue;
    }
    const parts = header.split(' ');
    const size = Number(parts[2]);
    results.push({ type: parts[1] ?? 'blob', content: buf.subarray(pos, pos + size) });
    pos += size + 1; // content is followed by a newline
  }
  return results;
}
