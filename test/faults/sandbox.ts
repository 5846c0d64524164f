import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import { type CliResult, runCli } from '../helpers/project.js';
import { tempDir } from '../helpers/tmp.js';

export interface Sandbox {
  /** The parent folder holding `proj` and `outside`. */
  base: string;
  proj: string;
  outside: string;
  run(args: string[], opts?: { env?: Record<string, string> }): Promise<CliResult>;
  write(rel: string, content: string | Uint8Array): Promise<void>;
  git(...args: string[]): Promise<string>;
}

export const SENTINEL: Record<string, string> = {
  'victim.txt': 'precious outside data\n',
  'dir/nested.txt': 'more precious data\n',
};

/** `git`: 'init' (default) makes `proj` a repository; 'commit' also commits the files; false leaves git out. */
export async function sandbox(
  files: Record<string, string | Uint8Array>,
  opts: { git?: 'init' | 'commit' | false } = {},
): Promise<Sandbox> {
  const base = await tempDir('lockstep-fault-');
  const proj = path.join(base, 'proj');
  const outside = path.join(base, 'outside');
  const writeIn = async (root: string, rel: string, content: string | Uint8Array) => {
    const abs = path.join(root, rel);
    await fs.mkdir(path.dirname(abs), { recursive: true });
    await fs.writeFile(abs, content);
  };
  await fs.mkdir(proj);
  for (const [rel, c] of Object.entries(SENTINEL)) await writeIn(outside, rel, c);
  for (const [rel, c] of Object.entries(files)) await writeIn(proj, rel, c);
  const git = async (...args: string[]) => (await execa('git', args, { cwd: proj })).stdout;
  if (opts.git !== false) await git('init', '-q', '-b', 'main');
  if (opts.git === 'commit') {
    await git('config', 'user.email', 'test@example.com');
    await git('config', 'user.name', 'lockstep test');
    await git('config', 'commit.gpgsign', 'false');
    await git('add', '-A');
    await git('commit', '-q', '--allow-empty', '-m', 'initial');
  }
  return {
    base,
    proj,
    outside,
    run: (args, o = {}) => runCli(proj, args, o),
    write: (rel, c) => writeIn(proj, rel, c),
    git,
  };
}

/** relpath -> `d`, `l:<target>` or `f:<md5>:<ino>:<mtime>:<mode>` for every path below `root`. */
export async function snapshot(
  root: string,
  skip: (rel: string) => boolean = () => false,
): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  const visit = async (rel: string): Promise<void> => {
    const abs = rel ? path.join(root, rel) : root;
    let entries: import('node:fs').Dirent[];
    try {
      entries = await fs.readdir(abs, { withFileTypes: true });
    } catch {
      return;
    }
    for (const d of entries) {
      const r = rel ? `${rel}/${d.name}` : d.name;
      if (skip(r)) continue;
      const a = path.join(root, r);
      const st = await fs.lstat(a);
      if (st.isDirectory()) {
        out.set(r, 'd');
        await visit(r);
      } else if (st.isSymbolicLink()) out.set(r, `l:${await fs.readlink(a)}`);
      else {
        const md5 = createHash('md5')
          .update(await fs.readFile(a))
          .digest('hex');
        out.set(r, `f:${md5}:${st.ino}:${st.mtimeMs}:${st.mode}`);
      }
    }
  };
  await visit('');
  return out;
}

/** The paths that differ between two snapshots (added, removed or changed), sorted. */
export function changed(before: Map<string, string>, after: Map<string, string>): string[] {
  const keys = new Set([...before.keys(), ...after.keys()]);
  return [...keys].filter((k) => before.get(k) !== after.get(k)).sort();
}

/** Control-path-free project state: lockstep's own working files (cache, tmp) are not the user's. */
export const ownFiles = (rel: string): boolean =>
  rel === '.lockstep' ||
  rel === '.cache' ||
  rel.startsWith('.cache/') ||
  rel === '.lockstep/tmp' ||
  rel.startsWith('.lockstep/tmp/');

/** One line on stderr, no stack trace, no internal error. */
export function assertOneLine(r: CliResult, label: string): void {
  const lines = r.stderr.trimEnd().split('\n');
  if (lines.length !== 1 || /^\s+at /m.test(r.stderr) || /internal error/.test(r.stderr))
    throw new Error(`${label}: expected a one-line error, got:\n${r.stderr}`);
}
