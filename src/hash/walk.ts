/**
 * List the files below a directory the way DVC 3 collects a directory output (os.walk without
 * followlinks): regular files and symlinks to files are included (their targets' content is hashed),
 * symlinks to directories are not descended, empty directories contribute nothing.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { LockstepError } from '../errors.js';
import { mapLimit } from '../util/pool.js';

export interface WalkedFile {
  /** POSIX path relative to the walked directory. */
  relpath: string;
  absPath: string;
}

const READDIR_CONCURRENCY = 8;

export async function walkFiles(root: string): Promise<WalkedFile[]> {
  const out: WalkedFile[] = [];
  let level: string[] = [''];
  while (level.length > 0) {
    const next: string[] = [];
    await mapLimit(level, READDIR_CONCURRENCY, async (rel) => {
      const dirAbs = rel === '' ? root : path.join(root, rel);
      const dirents = await fs.readdir(dirAbs, { withFileTypes: true });
      for (const d of dirents) {
        const childRel = rel === '' ? d.name : `${rel}/${d.name}`;
        if (d.isDirectory()) next.push(childRel);
        else if (d.isFile()) out.push({ relpath: childRel, absPath: path.join(dirAbs, d.name) });
        else if (d.isSymbolicLink()) {
          const abs = path.join(dirAbs, d.name);
          const st = await fs.stat(abs).catch(() => undefined);
          if (st === undefined) {
            throw new LockstepError('data', `broken symlink '${abs}' inside a directory output`, 'Remove the link or point it at a file.');
          }
          if (st.isFile()) out.push({ relpath: childRel, absPath: abs });
        }
        // sockets, fifos, devices: not data
      }
    });
    level = next;
  }
  return out;
}
