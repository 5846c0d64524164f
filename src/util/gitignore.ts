import { existsSync, promises as fs } from 'node:fs';
import path from 'node:path';
import { writeFileAtomic } from './atomic.js';

/**
 * As DVC does, cached outputs are listed in the .gitignore beside them (`/name`), so git tracks the
 * pipeline and the lock file while the cache holds the data. Only inside a git work tree, which may
 * start above the project (a project in a subfolder of a repository).
 */
export function ignoreOutputs(root: string, outPaths: string[]): Promise<void> {
  // Stages finishing together under -j would read-modify-write one .gitignore at once and lose lines.
  const next = queue.then(() => addIgnores(root, outPaths));
  queue = next.catch(() => undefined);
  return next;
}

let queue: Promise<void> = Promise.resolve();

async function addIgnores(root: string, outPaths: string[]): Promise<void> {
  if (outPaths.length === 0 || !inGitWorkTree(root)) return;
  const byDir = new Map<string, string[]>();
  for (const p of outPaths) {
    const dir = path.posix.dirname(p);
    byDir.set(dir, [...(byDir.get(dir) ?? []), `/${path.posix.basename(p)}`]);
  }
  for (const [dir, entries] of byDir) {
    const file = path.join(root, dir, '.gitignore');
    const text = await fs.readFile(file, 'utf8').catch(() => '');
    const present = new Set(text.split('\n').map((l) => l.trim()));
    const missing = entries.filter((e) => !present.has(e));
    if (missing.length === 0) continue;
    const sep = text === '' || text.endsWith('\n') ? '' : '\n';
    await writeFileAtomic(file, `${text}${sep}${missing.join('\n')}\n`);
  }
}

/** Whether `dir` is inside a git work tree: a `.git` (folder, or file for worktrees and submodules) in it or above. */
export function inGitWorkTree(dir: string): boolean {
  for (let d = path.resolve(dir); ; d = path.dirname(d)) {
    if (existsSync(path.join(d, '.git'))) return true;
    if (path.dirname(d) === d) return false;
  }
}

/** Append the `lines` a .gitignore lacks (comparing without a leading or trailing slash); true if it changed. */
async function appendIgnores(file: string, lines: string[]): Promise<boolean> {
  const text = await fs.readFile(file, 'utf8').catch(() => '');
  const bare = (l: string) => l.trim().replace(/^\//, '').replace(/\/$/, '');
  const present = new Set(text.split('\n').map(bare));
  const missing = lines.filter((l) => !present.has(bare(l)));
  if (missing.length === 0) return false;
  const sep = text === '' || text.endsWith('\n') ? '' : '\n';
  await writeFileAtomic(file, `${text}${sep}${missing.join('\n')}\n`);
  return true;
}

/**
 * What a project writes for itself stays out of git, from the first command that writes it (as `init`
 * sets up): `.lockstep/tmp/` and the local config (credentials) in `.lockstep/.gitignore`, and the
 * cache folder when it lies inside the project. Only inside a git work tree; lines already there in any
 * spelling are left alone.
 */
export async function ignoreProjectFiles(root: string, cacheDir: string): Promise<void> {
  if (!inGitWorkTree(root)) return;
  await fs.mkdir(path.join(root, '.lockstep'), { recursive: true });
  await appendIgnores(path.join(root, '.lockstep', '.gitignore'), ['/tmp/', '/config.local.yaml']);
  const rel = path.relative(root, path.resolve(cacheDir));
  if (rel && !rel.startsWith('..') && !path.isAbsolute(rel) && !rel.startsWith('.lockstep'))
    await appendIgnores(path.join(root, '.gitignore'), [`/${rel.split(path.sep).join('/')}/`]);
}
