/**
 * Issue 12 item 11: an experiment workspace never exposes a cache object to writes in place (root
 * ignores read-only modes, and CI runs as root), whatever cache.type the project chose.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { tempProject } from '../helpers/project.js';
import { tempDir } from '../helpers/tmp.js';

async function cacheObjectsIntact(dir: string): Promise<string[]> {
  const bad: string[] = [];
  const base = path.join(dir, '.cache/files/md5');
  for (const e of await fs.readdir(base, { recursive: true })) {
    const abs = path.join(base, e);
    if (!(await fs.stat(abs)).isFile() || e.endsWith('.dir')) continue;
    const md5 = createHash('md5')
      .update(await fs.readFile(abs))
      .digest('hex');
    if (md5 !== e.replace(path.sep, '')) bad.push(e);
  }
  return bad;
}

for (const type of [undefined, 'symlink,hardlink'] as const) {
  test(`a stage that writes into its restored input corrupts no cache object (cache.type \
${type ?? 'unset'})`, async () => {
    const p = await tempProject({
      'pipeline.yaml': `stages:
  make:
    cmd: echo good > data.txt
    outs: [data.txt]
  use:
    cmd: echo "tampered \${seed}" >> data.txt; cat data.txt > used.txt
    deps: [data.txt]
    params: [seed]
    outs: [used.txt]
`,
      'params.yaml': 'seed: 1\n',
      '.gitignore': '.cache/\n',
      ...(type ? { '.lockstep/config.yaml': `cache:\n  type: ${type}\n` } : {}),
    });
    assert.equal((await p.run(['repro', 'make'])).exitCode, 0);
    await p.git('add', '-A');
    await p.git('commit', '-qm', 'make ran');
    // the workspace restores data.txt from the cache, then 'use' appends to it
    const r = await p.run(['exp', 'run', '--seed', '2'], { env: { LOCKSTEP_EXP_TMPDIR: await tempDir() } });
    assert.ok(r.exitCode === 0 || r.exitCode === 1, r.all);
    assert.deepEqual(await cacheObjectsIntact(p.dir), [], 'every cache object still matches its name');
    await fs.rm(path.join(p.dir, 'data.txt'));
    const co = await p.run(['checkout', 'make']);
    assert.equal(co.exitCode, 0, co.all);
    assert.equal(await p.read('data.txt'), 'good\n');
  });
}
