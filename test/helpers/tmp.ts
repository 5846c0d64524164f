import { after } from 'node:test';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/** A temp folder removed when the test file finishes (kept with LOCKSTEP_KEEP_TMP=1). */
export async function tempDir(prefix = 'lockstep-unit-'): Promise<string> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), prefix));
  if (!process.env.LOCKSTEP_KEEP_TMP) after(() => fs.rm(dir, { recursive: true, force: true }));
  return dir;
}

/** Write files (relpath -> content), creating folders. */
export async function writeTree(root: string, files: Record<string, string | Uint8Array>): Promise<void> {
  for (const [rel, content] of Object.entries(files)) {
    const abs = path.join(root, rel);
    await fs.mkdir(path.dirname(abs), { recursive: true });
    await fs.writeFile(abs, content);
  }
}

/** Move a file's mtime into the past, so the stat cache does not treat it as racily modified. */
export async function age(abs: string, seconds = 10): Promise<void> {
  const t = new Date(Date.now() - seconds * 1000);
  await fs.utimes(abs, t, t);
}

/** Age every file below a directory. */
export async function ageTree(root: string, seconds = 10): Promise<void> {
  for (const d of await fs.readdir(root, { withFileTypes: true, recursive: true })) {
    if (d.isFile()) await age(path.join(d.parentPath ?? (d as unknown as { path: string }).path, d.name), seconds);
  }
}
