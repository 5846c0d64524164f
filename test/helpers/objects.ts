/** Audits of a cache or a folder remote: objects are named after the md5 of their bytes (DVC 3 layout). */
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';

/** The objects under `<root>/files/md5` (temp names, which start with a dot, apart) and those whose bytes do not
 * hash to their name (a `.dir` manifest is named after its bytes too). */
export async function auditObjects(root: string): Promise<{ objects: number; corrupt: string[] }> {
  let objects = 0;
  const corrupt: string[] = [];
  const base = path.join(root, 'files', 'md5');
  for (const pre of await fs.readdir(base).catch(() => [] as string[])) {
    for (const name of await fs.readdir(path.join(base, pre))) {
      if (name.startsWith('.')) continue;
      objects++;
      const h = createHash('md5')
        .update(await fs.readFile(path.join(base, pre, name)))
        .digest('hex');
      if (`${pre}${name}` !== h + (name.endsWith('.dir') ? '.dir' : '')) corrupt.push(`${pre}/${name}`);
    }
  }
  return { objects, corrupt };
}

/** Every object whose content does not hash to its name. */
export async function corruptObjects(root: string): Promise<string[]> {
  return (await auditObjects(root)).corrupt;
}
