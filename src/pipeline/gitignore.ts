import { existsSync, promises as fs } from 'node:fs';
import path from 'node:path';
import { writeFileAtomic } from '../util/atomic.js';

/**
 * As DVC does, cached outputs are listed in the .gitignore beside them (`/name`), so git tracks the
 * pipeline and the lock file while the cache holds the data. Only inside a git repository.
 */
export function ignoreOutputs(root: string, outPaths: string[]): Promise<void> {
  // Stages finishing together under -j would read-modify-write one .gitignore at once and lose lines.
  const next = queue.then(() => addIgnores(root, outPaths));
  queue = next.catch(() => undefined);
  return next;
}

let queue: Promise<void> = Promise.resolve();

async function addIgnores(root: string, outPaths: string[]): Promise<void> {
  if (!existsSync(path.join(root, '.git')) || outPaths.length === 0) return;
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
