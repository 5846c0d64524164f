import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { StatCache } from '../../src/hash/stat-cache.js';
import { asMd5 } from '../../src/hash/types.js';
import { tempDir } from '../helpers/tmp.js';

test(`forgetUnder drops this process's entries under a removed folder (an experiment's workspace) and keeps \
the rest, a sibling with the same prefix included`, async () => {
  const dir = await tempDir('lockstep-statforget-');
  const cache = new StatCache(path.join(dir, 'stat-cache'));
  await cache.load();
  const st = { ino: 7, mtimeMs: Date.now() - 60_000, size: 3 };
  const md5 = asMd5('0123456789abcdef0123456789abcdef');
  const files = ['/w/ws1/a', '/w/ws1/sub/b', '/w/ws10/a', '/w/other/c'];
  for (const f of files) cache.setFile(f, st, md5, Date.now());
  const dirRecord = {
    fingerprint: 'f',
    md5: asMd5('0123456789abcdef0123456789abcdef.dir'),
    size: 1,
    nfiles: 1,
    racyUntil: 0,
  };
  cache.setDir('/w/ws1/sub', dirRecord);
  cache.setDir('/w/ws10', dirRecord);
  for (const f of files) assert.equal(cache.getFile(f, st), md5, f);

  cache.forgetUnder('/w/ws1');
  assert.equal(cache.getFile('/w/ws1/a', st), undefined);
  assert.equal(cache.getFile('/w/ws1/sub/b', st), undefined);
  assert.equal(cache.getDir('/w/ws1/sub', 'f'), undefined);
  assert.equal(cache.getFile('/w/ws10/a', st), md5);
  assert.equal(cache.getFile('/w/other/c', st), md5);
  assert.deepEqual(cache.getDir('/w/ws10', 'f'), dirRecord);
});
