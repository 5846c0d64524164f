/**
 * Child process for the concurrent stat-cache test:
 *   node stat-cache-writer.js <cacheDir> <dataDir> <child index> <rounds>
 * Each round rewrites this child's own files (with a unique old mtime, so they are not racy),
 * hashes every file in dataDir with a fresh stat cache, and saves: many small segments from two
 * processes at once, which also makes both try to compact.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { CachingHasher } from '../../src/hash/hasher.js';
import { StatCache } from '../../src/hash/stat-cache.js';

const [cacheDir, dataDir, indexArg, roundsArg] = process.argv.slice(2) as [string, string, string, string];
const index = Number(indexArg);
const rounds = Number(roundsArg);
const mine = (await fs.readdir(dataDir)).filter((n) => n.startsWith(`c${index}-`));

for (let r = 0; r < rounds; r++) {
  for (const name of mine) {
    const abs = path.join(dataDir, name);
    await fs.writeFile(abs, `${name} round ${r} ${'x'.repeat(r)}`);
    const t = new Date(Date.UTC(2020, 0, 1) + (index * 1000 + r) * 1000);
    await fs.utimes(abs, t, t);
  }
  const hasher = new CachingHasher(new StatCache(path.join(cacheDir, 'tmp', 'stat-cache')));
  await hasher.hashPath(dataDir);
  await hasher.save();
}
