/**
 * The cache through the real CLI: a directory output committed per link type, restored by checkout,
 * and a corrupt object refused with its one-line message.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { tempProject } from '../helpers/project.js';
import { md5Hex, openHasher } from '../../src/hash/index.js';

const PIPELINE = `stages:
  gen:
    cmd: mkdir -p data/images && for i in $(seq 1 50); do echo "img $i" > data/images/$i.txt; done
    outs: [data/images]
`;

for (const type of ['copy', 'hardlink', 'symlink']) {
  test(`cache.type ${type}: repro commits the folder, checkout restores it, a corrupt object is refused`, async () => {
    const p = await tempProject({
      'pipeline.yaml': PIPELINE,
      '.lockstep/config.yaml': `cache:\n  type: ${type}\n`,
      '.gitignore': '.cache/\n',
    });
    const ran = await p.run(['repro']);
    assert.equal(ran.exitCode, 0, ran.all);
    const lock = await p.read('pipeline.lock');
    const hashed = await (await openHasher(path.join(p.dir, '.cache'))).hashPath(path.join(p.dir, 'data/images'));
    assert.ok(hashed?.info.md5.endsWith('.dir'));
    assert.ok(lock.includes(`md5: ${hashed?.info.md5}\n`), lock);

    const first = path.join(p.dir, 'data/images/1.txt');
    const lst = await fs.lstat(first);
    if (type === 'copy') assert.ok(lst.isFile() && lst.nlink === 1 && lst.mode & 0o200);
    if (type === 'hardlink') assert.ok(lst.isFile() && lst.nlink === 2 && (lst.mode & 0o222) === 0);
    if (type === 'symlink') assert.ok(lst.isSymbolicLink());

    await fs.rm(path.join(p.dir, 'data/images'), { recursive: true });
    const restored = await p.run(['checkout']);
    assert.equal(restored.exitCode, 0, restored.all);
    assert.equal(await p.read('data/images/37.txt'), 'img 37\n');
    assert.equal((await fs.readdir(path.join(p.dir, 'data/images'))).length, 50);

    const md5 = md5Hex('img 37\n');
    const obj = path.join(p.dir, '.cache/files/md5', md5.slice(0, 2), md5.slice(2));
    await fs.rm(path.join(p.dir, 'data/images'), { recursive: true });
    await fs.chmod(obj, 0o644);
    await fs.writeFile(obj, 'IMG 37\n');
    const refused = await p.run(['checkout']);
    assert.equal(refused.exitCode, 1, refused.all);
    assert.ok(
      (refused.all ?? '').includes(
        `cache object files/md5/${md5.slice(0, 2)}/${md5.slice(2)} for 'data/images/37.txt' does not match its hash`,
      ),
      refused.all,
    );
  });
}
