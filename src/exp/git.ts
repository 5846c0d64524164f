/**
 * Small git plumbing runner for the exp module. Plumbing needs stdin (`cat-file --batch`,
 * `update-index --index-info`, `update-ref --stdin`), which simple-git cannot feed. Plain
 * child_process rather than execa: `exp show` loads this, and it should load little.
 */
import { spawn } from 'node:child_process';
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

export function gitRaw(cwd: string, args: string[], opts: GitOptions = {}): Promise<Buffer | null> {
  return new Promise((resolve, reject) => {
    const child = spawn('git', args, {
      cwd,
      env: { ...process.env, GIT_TERMINAL_PROMPT: '0', ...opts.env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    child.stdin.on('error', () => {}); // git may exit before reading all input; its exit code tells
    child.on('error', (e) =>
      reject(new LockstepError('exp', `cannot run git in ${cwd}: ${e.message}`, 'Install git and put it on the PATH.')),
    );
    child.on('close', (code) => {
      if (code === 0) return resolve(Buffer.concat(out));
      if (opts.allowFail) return resolve(null);
      const first = Buffer.concat(err).toString('utf8').trim().split('\n')[0] ?? '';
      reject(
        new LockstepError(
          'exp',
          `git ${args[0]} failed in ${cwd}: ${first || `exit code ${code}`}`,
          'Check that the folder is a git repository with at least one commit.',
        ),
      );
    });
    child.stdin.end(opts.input ?? '');
  });
}

/** One object read by `git cat-file --batch`: null when the object does not exist. */
export type BatchResult = { type: string; content: Buffer } | null;

/** Read many objects (`<rev>:<path>` or shas) with one `git cat-file --batch` process. */
export async function catFileBatch(cwd: string, specs: string[]): Promise<BatchResult[]> {
  if (specs.length === 0) return [];
  const buf = (await gitRaw(cwd, ['cat-file', '--batch'], { input: `${specs.join('\n')}\n` })) as Buffer;
  const results: BatchResult[] = [];
  let pos = 0;
  for (let i = 0; i < specs.length; i++) {
    const nl = buf.indexOf(10, pos);
    if (nl < 0)
      throw new LockstepError('exp', 'git cat-file --batch: output ended early', 'Run `git fsck` on the repository.');
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
