import { after } from 'node:test';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { simpleGit } from 'simple-git';

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
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'lockstep-test-'));
  if (!process.env.LOCKSTEP_KEEP_TMP) after(() => fs.rm(dir, { recursive: true, force: true }));
  const write = async (rel: string, content: string | Uint8Array) => {
    const abs = path.join(dir, rel);
    await fs.mkdir(path.dirname(abs), { recursive: true });
    await fs.writeFile(abs, content);
  };
  for (const [rel, content] of Object.entries(files)) await write(rel, content);
  if (opts.git !== false) {
    const git = simpleGit(dir);
    await git.init(['-q', '-b', 'main']);
    await git.addConfig('user.email', 'test@example.com');
    await git.addConfig('user.name', 'lockstep test');
    await git.addConfig('commit.gpgsign', 'false');
    await git.add('.');
    await git.commit('initial', undefined, { '--allow-empty': null });
  }
  return {
    dir,
    run: (args, o = {}) => runCli(dir, args, o),
    write,
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
