import { promises as fs } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { simpleGit } from 'simple-git';
import { tempDir, writeTree } from './tmp.js';

/** Repository root of lockstep itself (dist/test/helpers -> ../../..). */
export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
export const CLI = path.join(REPO_ROOT, 'bin', 'lockstep.js');

export interface CliResult {
  exitCode: number;
  stdout: string;
  stderr: string;
  /** stdout and stderr interleaved, for assertion messages. */
  all: string;
}

/** Spawn the real CLI; never throws on a non-zero exit. */
export async function runCli(
  cwd: string,
  args: string[],
  o: { env?: Record<string, string>; timeout?: number; input?: string } = {},
): Promise<CliResult> {
  const r = await execa(process.execPath, [CLI, ...args], {
    cwd,
    reject: false,
    env: { ...o.env, FORCE_COLOR: '0', NO_COLOR: '1' },
    timeout: o.timeout ?? 120_000,
    input: o.input,
    all: true,
  });
  return {
    exitCode: r.exitCode ?? -1,
    stdout: String(r.stdout ?? ''),
    stderr: String(r.stderr ?? ''),
    all: String(r.all ?? ''),
  };
}

export interface TempProject {
  dir: string;
  /** Run the real CLI in the project; never throws on a non-zero exit. */
  run(args: string[], opts?: { env?: Record<string, string>; timeout?: number; input?: string }): Promise<CliResult>;
  write(rel: string, content: string | Uint8Array): Promise<void>;
  read(rel: string): Promise<string>;
  exists(rel: string): Promise<boolean>;
  git(...args: string[]): Promise<string>;
}

/**
 * A temporary git repository built from a map of file names to contents, removed after the
 * test file finishes. Set LOCKSTEP_KEEP_TMP=1 to keep it for debugging.
 */
export async function tempProject(
  files: Record<string, string | Uint8Array> = {},
  opts: { git?: boolean } = {},
): Promise<TempProject> {
  const dir = await tempDir('lockstep-test-');
  await writeTree(dir, files);
  if (opts.git !== false) {
    const git = simpleGit(dir);
    await git.init(['-q', '-b', 'main']);
    await setGitUser(dir);
    await git.add('.');
    await git.commit('initial', undefined, { '--allow-empty': null });
  }
  return projectAt(dir);
}

/**
 * A fresh `git clone` of a project (or of a repository path or URL) in its own temp folder, as a user
 * would make one: no cache, no local config, nothing git ignores. Removed like a temp project.
 */
export async function freshClone(from: TempProject | string): Promise<TempProject> {
  const dir = await tempDir('lockstep-clone-');
  await execa('git', ['clone', '-q', typeof from === 'string' ? from : from.dir, dir]);
  await setGitUser(dir);
  return projectAt(dir);
}

async function setGitUser(dir: string): Promise<void> {
  const git = simpleGit(dir);
  await git.addConfig('user.email', 'test@example.com');
  await git.addConfig('user.name', 'lockstep test');
  await git.addConfig('commit.gpgsign', 'false');
}

/** The TempProject operations on an existing folder. */
export function projectAt(dir: string): TempProject {
  return {
    dir,
    run: (args, o = {}) => runCli(dir, args, o),
    write: (rel, content) => writeTree(dir, { [rel]: content }),
    read: (rel) => fs.readFile(path.join(dir, rel), 'utf8'),
    exists: (rel) =>
      fs.access(path.join(dir, rel)).then(
        () => true,
        () => false,
      ),
    git: async (...args) => (await execa('git', args, { cwd: dir })).stdout,
  };
}

/**
 * A shell command that appends one line to `runs/<name>` each time it runs, so a test can
 * count how often a stage really ran.
 */
export const countRun = (name: string): string => `mkdir -p runs && echo x >> runs/${name}`;

export async function runCount(p: TempProject, name: string): Promise<number> {
  if (!(await p.exists(`runs/${name}`))) return 0;
  return (await p.read(`runs/${name}`)).split('\n').filter(Boolean).length;
}

/** Read the files under `from/rel` into `into`, keyed by their path from `from` (a tempProject file map). */
export async function copyTree(from: string, rel: string, into: Record<string, Uint8Array>): Promise<void> {
  for (const e of await fs.readdir(path.join(from, rel), { withFileTypes: true })) {
    const child = `${rel}/${e.name}`;
    if (e.isDirectory()) await copyTree(from, child, into);
    else if (e.isFile()) into[child] = await fs.readFile(path.join(from, child));
  }
}
