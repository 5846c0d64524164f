/**
 * collectDvcFiles walks the project as DVC does: .dvc files anywhere, in DVC's walk order, except
 * under .git, node_modules and .cache folders (any depth), .dvc and .lockstep (root), the folders the
 * caller skips (a pipeline's outputs), nested repositories (DVC's subrepos), and behind symlinks.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { collectDvcFiles } from '../../src/dvcfile/collect.js';
import { tempDir, writeTree } from '../helpers/tmp.js';

const dvc = (out: string) => `outs:\n- md5: ${'a'.repeat(32)}\n  size: 1\n  hash: md5\n  path: ${out}\n`;

test('every .dvc file outside the skipped folders, top-down, a folder’s files before its subfolders', async () => {
  const root = await tempDir();
  await writeTree(root, {
    'a.dvc': dvc('a'),
    'z/deep/b.dvc': dvc('b'),
    'z/c.dvc': dvc('c'),
    'data/in/d.dvc': dvc('d'), // a dependency folder is searched
    '.hidden/e.dvc': dvc('e'),
    'sub/.dvc/f.dvc': dvc('f'), // sub/ has a .dvc folder: a DVC subrepo, its own project
    'sub/g.dvc': dvc('g'),
    'clone/.git/HEAD': 'ref: refs/heads/main\n', // a nested git repository
    'clone/h.dvc': dvc('h'),
    'wt/.git': 'gitdir: /elsewhere\n', // a worktree's or submodule's .git file
    'wt/i.dvc': dvc('i'),
    '.git/x.dvc': dvc('x'),
    'sub/node_modules/x.dvc': dvc('x'),
    'sub/.cache/x.dvc': dvc('x'),
    '.dvc/x.dvc': dvc('x'),
    '.lockstep/x.dvc': dvc('x'),
    'out/dir/x.dvc': dvc('x'),
    'z/out2/x.dvc': dvc('x'),
    'notes.dvc.txt': 'not a .dvc file',
  });
  await fs.symlink(path.join(root, 'z'), path.join(root, 'linked'));
  await fs.symlink(path.join(root, 'a.dvc'), path.join(root, 'link.dvc'));
  const found = await collectDvcFiles(root, ['out/dir', './z/out2/']);
  assert.deepEqual(
    found.map((f) => f.file),
    ['a.dvc', '.hidden/e.dvc', 'data/in/d.dvc', 'z/c.dvc', 'z/deep/b.dvc'],
  );
  assert.deepEqual(
    found[4]?.outs.map((o) => o.path),
    ['z/deep/b'],
  );
});
