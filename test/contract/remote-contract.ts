import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { classifyFault, withRetry } from '../../src/remote/faults.js';
import { RemoteNotFound, type Remote } from '../../src/remote/types.js';
import { objectKey } from '../../src/remote/keys.js';
import { forEachConcurrent, pushObjectsTo } from '../../src/remote/transfer.js';
import { LocalObjectStore } from '../../src/cache/object-store.js';
import { LockstepError } from '../../src/errors.js';
import { asMd5 } from '../../src/hash/types.js';

/** What a backend's test file hands the suite. */
export interface RemoteFixture {
  /** A remote rooted at a fresh, empty namespace (a sub-folder or key prefix) per call. */
  open(namespace: string): Promise<Remote>;
  /** A remote whose server is not there (connection refused). */
  openUnreachable?(): Promise<Remote>;
  /** A remote with credentials the server refuses. */
  openWithWrongCredentials?(namespace: string): Promise<Remote>;
  /** Drop every open connection to the server (as a network failure would); new ones work. */
  dropConnections?(): void;
  /** Call fn once after about `bytes` more bytes went from client to server. */
  afterUpstreamBytes?(bytes: number, fn: () => void): void;
  stop(): Promise<void>;
}

const md5 = (b: Uint8Array) => createHash('md5').update(b).digest('hex');
const keyOf = (b: Uint8Array) => objectKey(asMd5(md5(b)));

async function readAll(remote: Remote, key: string): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of await remote.read(key)) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

async function listAll(remote: Remote, prefix: string): Promise<string[]> {
  const out: string[] = [];
  for await (const k of remote.list(prefix)) out.push(k);
  return out.sort();
}

/**
 * The behaviour every Remote must have (folder, SSH, S3). Each backend's test file calls this with
 * a factory; `start` returns a skip reason when the backend's server is not available here.
 */
export function remoteContract(label: string, start: () => Promise<RemoteFixture | string>): void {
  let fixture: RemoteFixture | null = null;
  let skip: string | false = false;
  const opened: Remote[] = [];
  let tmp = '';
  let n = 0;
  const open = async (): Promise<Remote> => {
    const r = await fixture!.open(`ns${++n}`);
    opened.push(r);
    return r;
  };
  const local = async (content: Uint8Array): Promise<string> => {
    const file = path.join(tmp, `f${++n}`);
    await fs.writeFile(file, content);
    return file;
  };

  describe(`remote contract: ${label}`, () => {
    before(async () => {
      tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'lockstep-contract-'));
      const f = await start();
      if (typeof f === 'string') skip = f;
      else fixture = f;
    });
    after(async () => {
      for (const r of opened) await r.close();
      await fixture?.stop();
      await fs.rm(tmp, { recursive: true, force: true });
    });
    /** `needs` names a fixture hook; backends without it skip the test (folders have no network to drop). */
    const t = (name: string, fn: () => Promise<void>, needs?: keyof RemoteFixture) =>
      test(name, async (ctx) => {
        if (skip) return ctx.skip(skip);
        if (needs && !fixture![needs]) return ctx.skip(`${label} has no ${needs}`);
        await fn();
      });

    t('an uploaded object exists and reads back byte for byte', async () => {
      const r = await open();
      const data = randomBytes(3 * 1024);
      const key = keyOf(data);
      assert.equal(await r.exists(key), false);
      let reported = 0;
      await r.upload(await local(data), key, (b) => (reported += b));
      assert.equal(await r.exists(key), true);
      assert.deepEqual(await readAll(r, key), data);
      assert.equal(reported, data.length);
    });

    t('reading an absent key rejects with RemoteNotFound', async () => {
      const r = await open();
      await assert.rejects(r.read(objectKey(asMd5('0'.repeat(32)))), RemoteNotFound);
    });

    t('an empty file and a .dir manifest key round-trip', async () => {
      const r = await open();
      const empty = new Uint8Array();
      await r.upload(await local(empty), keyOf(empty));
      assert.equal((await readAll(r, keyOf(empty))).length, 0);
      const manifest = Buffer.from('[{"md5": "d41d8cd98f00b204e9800998ecf8427e", "relpath": "a"}]');
      const dirKey = `${keyOf(manifest)}.dir`;
      await r.upload(await local(manifest), dirKey);
      assert.deepEqual(await readAll(r, dirKey), manifest);
    });

    t('list returns exactly the keys under a prefix, with no temp names', async () => {
      const r = await open();
      const blobs = Array.from({ length: 40 }, () => randomBytes(64));
      await Promise.all(blobs.map(async (b) => r.upload(await local(b), keyOf(b))));
      await r.upload(await local(Buffer.from('run')), 'runs/ab/abcd/0123');
      assert.deepEqual(await listAll(r, 'files/md5/'), blobs.map(keyOf).sort());
      const first = keyOf(blobs[0]!);
      const partial = first.slice(0, 'files/md5/ab/c'.length);
      assert.deepEqual(
        await listAll(r, partial),
        blobs
          .map(keyOf)
          .filter((k) => k.startsWith(partial))
          .sort(),
      );
      assert.deepEqual(await listAll(r, 'runs/'), ['runs/ab/abcd/0123']);
      assert.deepEqual(await listAll(r, 'nothing/'), []);
      assert.equal((await listAll(r, '')).length, 41);
    });

    t('uploading an existing key again is harmless', async () => {
      const r = await open();
      const data = randomBytes(100);
      const file = await local(data);
      await r.upload(file, keyOf(data));
      await r.upload(file, keyOf(data));
      assert.deepEqual(await readAll(r, keyOf(data)), data);
      assert.deepEqual(await listAll(r, ''), [keyOf(data)]);
    });

    t('a push never uploads a cache object whose content does not match its name', async () => {
      const r = await open();
      const store = new LocalObjectStore(path.join(tmp, `cache${++n}`));
      const good = randomBytes(2000);
      const bad = randomBytes(3000);
      const goodMd5 = asMd5(md5(good));
      const badMd5 = asMd5(md5(bad));
      store.addBytesSync(goodMd5, good);
      store.addBytesSync(badMd5, bad);
      // a byte flipped on disk after the object was written
      const obj = store.objectPath(badMd5);
      await fs.chmod(obj, 0o644);
      bad[7] = (bad[7] ?? 0) ^ 0xff;
      await fs.writeFile(obj, bad);
      await fs.utimes(obj, new Date(Date.now() - 60_000), new Date(Date.now() - 60_000));
      const fresh = new LocalObjectStore(store.root);
      await assert.rejects(
        pushObjectsTo(fresh, r, [goodMd5, badMd5], { jobs: 2 }),
        (e: unknown) =>
          e instanceof LockstepError && e.reason === 'corrupt-object' && e.message.includes(badMd5.slice(2)),
      );
      assert.equal(await r.exists(objectKey(badMd5)), false, 'the corrupt object is not on the remote');
      assert.deepEqual(await readAll(r, objectKey(goodMd5)), good, 'the sound one went up');
    });

    t('remove deletes a key; removing an absent key is not an error', async () => {
      const r = await open();
      const data = randomBytes(10);
      await r.upload(await local(data), keyOf(data));
      await r.remove(keyOf(data));
      assert.equal(await r.exists(keyOf(data)), false);
      await r.remove(keyOf(data));
    });

    t('a 12 MiB file streams up and down intact', async () => {
      const r = await open();
      const data = randomBytes(12 * 1024 * 1024);
      await r.upload(await local(data), keyOf(data));
      const h = createHash('md5');
      for await (const c of await r.read(keyOf(data))) h.update(c as Buffer);
      assert.equal(h.digest('hex'), md5(data));
    });

    t('200 uploads, 32 at a time (the most -j asks for), all land', async () => {
      const r = await open();
      const blobs = Array.from({ length: 200 }, () => randomBytes(3 * 1024));
      const files = await Promise.all(blobs.map(local));
      // with push's retry of transient faults: a loaded test server may close a kept-alive socket (seen at load 34)
      await forEachConcurrent(
        blobs.map((b, i) => [b, files[i]!] as const),
        32,
        ([b, f]) => withRetry(() => r.upload(f, keyOf(b))),
      );
      const exists = await Promise.all(blobs.map((b) => r.exists(keyOf(b))));
      assert.ok(exists.every(Boolean));
      assert.equal((await listAll(r, 'files/')).length, 200);
    });

    t(
      'a connection dropped mid-upload leaves no partial object, and the next upload works',
      async () => {
        const r = await open();
        const data = randomBytes(8 * 1024 * 1024);
        const key = keyOf(data);
        fixture!.afterUpstreamBytes!(2 * 1024 * 1024, () => fixture!.dropConnections!());
        const failed = await r.upload(await local(data), key).then(
          () => false,
          (e: unknown) => {
            assert.equal(classifyFault(e), 'transient', `a dropped connection is transient: ${String(e)}`);
            return true;
          },
        );
        assert.ok(failed, 'the upload saw the dropped connection');
        assert.equal(await r.exists(key), false);
        assert.deepEqual(await listAll(r, ''), []);
        const again = await local(data);
        await withRetry(() => r.upload(again, key));
        assert.equal(md5(await readAll(r, key)), md5(data));
      },
      'dropConnections',
    );

    t(
      'a connection dropped mid-download fails the read as transient instead of hanging',
      async () => {
        const r = await open();
        const data = randomBytes(16 * 1024 * 1024);
        await r.upload(await local(data), keyOf(data));
        let got = 0;
        let dropped = false;
        const outcome = await (async () => {
          for await (const c of await r.read(keyOf(data))) {
            got += (c as Buffer).length;
            if (!dropped && got >= 256 * 1024) {
              dropped = true;
              fixture!.dropConnections!();
            }
          }
        })().then(
          () => 'complete',
          (e: unknown) => classifyFault(e),
        );
        // what was already buffered may finish; otherwise the reader must hear of the drop
        assert.ok(
          outcome === 'transient' || (outcome === 'complete' && got === data.length),
          `${outcome} after ${got} bytes`,
        );
        // a pooled connection may still fail once (a transient fault, which transfers retry)
        assert.equal(await withRetry(() => r.exists(keyOf(data))), true, 'the remote works again after the drop');
      },
      'dropConnections',
    );

    t(
      'an unreachable server is reported as unreachable',
      async () => {
        const r = await fixture!.openUnreachable!();
        opened.push(r);
        const e = await r.exists('files/md5/00/0').then(
          () => null,
          (x: unknown) => x,
        );
        assert.equal(classifyFault(e), 'unreachable', String(e));
      },
      'openUnreachable',
    );

    t(
      'refused credentials are reported as an auth failure, not retried as transient',
      async () => {
        const r = await fixture!.openWithWrongCredentials!(`ns${++n}`);
        opened.push(r);
        const e = await r.upload(await local(Buffer.from('x')), 'files/md5/9d/d4e461268c8034f5c8564e155c67a6').then(
          () => null,
          (x: unknown) => x,
        );
        assert.equal(classifyFault(e), 'auth', String(e));
      },
      'openWithWrongCredentials',
    );
  });
}
