import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import YAML from 'yaml';
import { countRun, runCount, tempProject, type TempProject } from '../helpers/project.js';

const md5 = (data: string | Buffer) => createHash('md5').update(data).digest('hex');

/** Every object under the cache, and whether it still hashes to its name (a .dir hashes its bytes). */
async function cacheObjects(cacheDir: string): Promise<{ name: string; intact: boolean }[]> {
  const base = path.join(cacheDir, 'files', 'md5');
  const out: { name: string; intact: boolean }[] = [];
  for (const prefix of await fs.readdir(base).catch(() => [] as string[])) {
    for (const rest of await fs.readdir(path.join(base, prefix))) {
      if (rest.includes('.tmp') || rest.startsWith('.')) continue;
      const name = prefix + rest;
      const actual = md5(await fs.readFile(path.join(base, prefix, rest)));
      out.push({ name, intact: name === actual || name === `${actual}.dir` });
    }
  }
  return out.sort((a, b) => (a.name < b.name ? -1 : 1));
}

const DIR_STAGE = `stages:
  a:
    cmd: >-
      ${countRun('a')} && mkdir -p d/sub/deeper && echo one > a.txt && echo two > d/sub/x.txt &&
      echo three > d/y.txt && printf '' > d/sub/deeper/empty
    outs:
      - a.txt
      - d
`;

async function linkProject(type: string): Promise<TempProject> {
  return tempProject({
    '.lockstep/config.yaml': `cache:\n  type: ${type}\n`,
    'pipeline.yaml': DIR_STAGE,
    '.gitignore': 'runs/\n',
  });
}

const isRoot = process.getuid?.() === 0;

/** Try to append to a file as an unprivileged user (root ignores the read-only mode). */
async function appendAsNobody(p: TempProject, rel: string): Promise<number> {
  await fs.chmod(p.dir, 0o755);
  const r = await execa(
    'setpriv',
    ['--reuid=65534', '--regid=65534', '--clear-groups', 'sh', '-c', `echo edit >> ${rel}`],
    { cwd: p.dir, reject: false },
  );
  return r.exitCode ?? -1;
}

for (const type of ['hardlink', 'symlink', 'copy'] as const) {
  test(`cache.type ${type}: outputs are placed that way, and editing them never silently corrupts the \
cache`, async () => {
    const p = await linkProject(type);
    const r = await p.run(['repro']);
    assert.equal(r.exitCode, 0, r.all);
    const lst = await fs.lstat(path.join(p.dir, 'd/sub/x.txt'));
    const objectOf = (content: string) =>
      path.join(p.dir, '.cache/files/md5', md5(content).slice(0, 2), md5(content).slice(2));
    if (type === 'symlink') {
      assert.ok(lst.isSymbolicLink());
      assert.equal(await fs.readlink(path.join(p.dir, 'd/sub/x.txt')), objectOf('two\n'));
    } else if (type === 'hardlink') {
      assert.equal(lst.nlink, 2);
      assert.equal(lst.ino, (await fs.stat(objectOf('two\n'))).ino);
      assert.equal(lst.mode & 0o222, 0, 'a hardlinked output is read-only');
    } else {
      assert.equal(lst.nlink, 1);
      assert.ok(lst.mode & 0o200, 'a copied output is writable');
    }
    assert.ok((await cacheObjects(path.join(p.dir, '.cache'))).every((o) => o.intact));

    if (isRoot && type !== 'copy') {
      // An ordinary user cannot write through the link: the object is read-only.
      assert.notEqual(await appendAsNobody(p, 'a.txt'), 0);
      assert.equal(await p.read('a.txt'), 'one\n');
    }
    // Edit the outputs in place as this user (root writes through a link despite the 0444 mode, as in DVC).
    await fs.appendFile(path.join(p.dir, 'a.txt'), 'edit\n').catch(() => undefined);
    await fs.appendFile(path.join(p.dir, 'd/y.txt'), 'edit\n').catch(() => undefined);
    const edited = (await p.read('a.txt')) !== 'one\n';
    if (type === 'copy')
      assert.ok(
        (await cacheObjects(path.join(p.dir, '.cache'))).every((o) => o.intact),
        'a copy is independent of the cache',
      );

    if (edited) {
      assert.equal((await p.run(['status'])).stdout, 'a:\n\touts changed: a.txt\n\touts changed: d');
      // checkout refuses to drop changes that are not in the cache
      const refused = await p.run(['checkout']);
      assert.equal(refused.exitCode, 2, refused.all);
      assert.match(refused.stderr, /^lockstep: output 'a.txt' of stage 'a' has changes that are not in the cache /);
      assert.equal(await p.read('a.txt'), 'one\nedit\n');
      const forced = await p.run(['checkout', '--force']);
      if (type === 'copy') {
        assert.equal(forced.exitCode, 0, forced.all);
        assert.equal(await p.read('a.txt'), 'one\n');
        assert.equal(await p.read('d/y.txt'), 'three\n');
      } else {
        // the object itself was changed through the link: detected, never used
        assert.equal(forced.exitCode, 1, forced.all);
        assert.match(forced.stderr, /^lockstep: cache object files\/md5\/\S+ for 'a.txt' does not match its hash/);
      }
      // repro never restores from a changed object: it runs the stage, and the cache is whole again
      const again = await p.run(['repro']);
      assert.equal(again.exitCode, 0, again.all);
      assert.equal(await p.read('a.txt'), 'one\n');
      assert.equal(await p.read('d/y.txt'), 'three\n');
      assert.equal((await p.run(['status'])).stdout, 'Data and pipelines are up to date.');
    }
    assert.deepEqual(
      (await cacheObjects(path.join(p.dir, '.cache'))).filter((o) => !o.intact),
      [],
    );
  });
}

for (const type of ['hardlink', 'symlink'] as const) {
  test(`cache.type ${type}: a persisted output updated by its command is unprotected first, never written through \
into the cache`, async () => {
    const p = await tempProject({
      '.lockstep/config.yaml': `cache:\n  type: ${type}\n`,
      'pipeline.yaml':
        'stages:\n  a:\n    cmd: mkdir -p d && echo run >> p.txt && echo run >> d/f.txt\n    outs:\n' +
        '      - p.txt:\n  ' +
        '        persist: true\n      - d:\n          persist: true\n',
    });
    for (let i = 0; i < 2; i++) {
      const r = await p.run(['repro', '--force']);
      assert.equal(r.exitCode, 0, r.all);
    }
    assert.equal(await p.read('p.txt'), 'run\nrun\n');
    assert.equal(await p.read('d/f.txt'), 'run\nrun\n');
    assert.deepEqual(
      (await cacheObjects(path.join(p.dir, '.cache'))).filter((o) => !o.intact),
      [],
    );
    assert.ok(
      (await cacheObjects(path.join(p.dir, '.cache'))).some((o) => o.name === md5('run\n')),
      'the first run is still in the cache',
    );
  });
}

test(`a directory output: DVC .dir manifest bytes, nfiles/size as DVC records them, restored by the run-cache after \
deletion`, async () => {
  const p = await linkProject('copy');
  assert.equal((await p.run(['repro'])).exitCode, 0);
  const lock = YAML.parse(await p.read('pipeline.lock'));
  const manifest =
    `[{"md5": "${md5('')}", "relpath": "sub/deeper/empty"}, {"md5": "${md5('two\n')}", "relpath": ` +
    `"sub/x.txt"}, {"md5": "${md5('three\n')}", "relpath": "y.txt"}]`;
  assert.deepEqual(lock.stages.a.outs[1], {
    path: 'd',
    hash: 'md5',
    md5: `${md5(manifest)}.dir`,
    size: 4 + 6,
    nfiles: 3,
  });
  const dirObject = path.join(p.dir, '.cache/files/md5', md5(manifest).slice(0, 2), `${md5(manifest).slice(2)}.dir`);
  assert.equal(await fs.readFile(dirObject, 'utf8'), manifest);

  await fs.rm(path.join(p.dir, 'd'), { recursive: true });
  await fs.rm(path.join(p.dir, 'a.txt'));
  const r = await p.run(['repro']);
  assert.equal(r.exitCode, 0, r.all);
  assert.match(r.stdout, /Stage 'a' restored from the cache, not run/);
  assert.equal(await runCount(p, 'a'), 1);
  assert.equal(await p.read('d/sub/x.txt'), 'two\n');
  assert.equal(await p.read('d/sub/deeper/empty'), '');

  // a file deleted from the directory: nothing would be lost, checkout restores it without --force
  await fs.rm(path.join(p.dir, 'd/y.txt'));
  assert.equal((await p.run(['status'])).stdout, 'a:\n\touts changed: d');
  const restore = await p.run(['checkout']);
  assert.equal(restore.exitCode, 0, restore.all);
  assert.equal(await p.read('d/y.txt'), 'three\n');
  // an extra file whose content is not in the cache would be lost: only --force removes it
  await p.write('d/sub/extra.txt', 'x');
  assert.equal((await p.run(['status'])).stdout, 'a:\n\touts changed: d');
  const refused = await p.run(['checkout']);
  assert.equal(refused.exitCode, 2, refused.all);
  assert.match(refused.stderr, /^lockstep: output 'd' of stage 'a' has changes that are not in the cache/);
  const c = await p.run(['checkout', '--force']);
  assert.equal(c.exitCode, 0, c.all);
  assert.equal(await p.exists('d/sub/extra.txt'), false);
  assert.equal(await p.exists('d/y.txt'), true);
});

test(`a deleted cache object: repro reruns the stage instead of restoring it; checkout says what is \
missing`, async () => {
  const p = await linkProject('copy');
  assert.equal((await p.run(['repro'])).exitCode, 0);
  await fs.rm(path.join(p.dir, '.cache/files/md5', md5('one\n').slice(0, 2)), { recursive: true, force: true });
  await fs.rm(path.join(p.dir, 'd'), { recursive: true });
  await fs.rm(path.join(p.dir, 'a.txt'));
  const c = await p.run(['checkout']);
  assert.equal(c.exitCode, 1, c.all);
  assert.match(c.stderr, /^lockstep: cache object files\/md5\/\S+ for 'a\.txt' is missing\. /);
  // the other output was still restored
  assert.equal(await p.read('d/y.txt'), 'three\n');
  assert.match(c.stdout, /1 outputs restored, 0 unchanged, 1 not restored\.$/);
  await fs.rm(path.join(p.dir, '.cache/files/md5', md5('three\n').slice(0, 2)), { recursive: true, force: true });
  await fs.rm(path.join(p.dir, 'd'), { recursive: true });
  const r = await p.run(['repro']);
  assert.equal(r.exitCode, 0, r.all);
  assert.equal(await runCount(p, 'a'), 2);
  assert.equal(await p.read('d/y.txt'), 'three\n');
  assert.ok((await cacheObjects(path.join(p.dir, '.cache'))).some((o) => o.name === md5('three\n')));

  // a deleted .dir manifest too
  const dir = (await cacheObjects(path.join(p.dir, '.cache'))).find((o) => o.name.endsWith('.dir'))!.name;
  await fs.rm(path.join(p.dir, '.cache/files/md5', dir.slice(0, 2), dir.slice(2)));
  await fs.rm(path.join(p.dir, 'd'), { recursive: true });
  assert.equal((await p.run(['repro'])).exitCode, 0);
  assert.equal(await runCount(p, 'a'), 3);
});

/** Every path below `dir` with its size and mtime, to prove a command wrote nothing. */
async function snapshot(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const rel of (await fs.readdir(dir, { recursive: true })).sort()) {
    if (rel === '.git' || rel.startsWith(`.git${path.sep}`)) continue;
    const st = await fs.lstat(path.join(dir, rel));
    out.push(`${rel} ${st.size} ${st.mtimeMs}`);
  }
  return out;
}

test('repro --dry changes nothing on disk: lock, cache, workspace', async () => {
  const p = await tempProject({
    'pipeline.yaml':
      `stages:\n  a:\n    cmd: cat in.txt > a.txt\n    deps: [in.txt]\n    outs: [a.txt]\n  b:\n    ` +
      `cmd: cat a.txt > b.txt\n    deps: [a.txt]\n    outs: [b.txt]\n`,
    'in.txt': '1\n',
  });
  assert.equal((await p.run(['repro'])).exitCode, 0);
  await p.write('in.txt', '2\n');
  await fs.rm(path.join(p.dir, 'b.txt'));
  const before = await snapshot(p.dir);
  const dry = await p.run(['repro', '--dry']);
  assert.equal(dry.exitCode, 0, dry.all);
  assert.equal(
    dry.stdout,
    "would run 'a': deps changed: in.txt\nwould run 'b': outs missing: b.txt; upstream stage 'a' will run",
  );
  const json = await p.run(['repro', '--dry', '--json']);
  const plan = JSON.parse(json.stdout);
  assert.equal(plan.type, 'plan');
  assert.deepEqual(
    plan.items.map((i: { stage: string; action: string }) => `${i.stage}:${i.action}`),
    ['a:run', 'b:run'],
  );
  assert.deepEqual(await snapshot(p.dir), before);
});

test(`two repro in two workspaces sharing one cache dir (LOCKSTEP_CACHE_DIR) both succeed with correct \
results`, async () => {
  const shared = await tempProject({}, { git: false });
  const pipeline = `stages:
  gen:
    cmd: mkdir -p out && for i in $(seq 1 60); do echo "$i $(cat seed.txt)" > out/f$i.txt; done
    deps: [seed.txt]
    outs: [out]
  sum:
    cmd: cat out/* | wc -l > count.txt
    deps: [out]
    outs: [count.txt]
`;
  const env = { LOCKSTEP_CACHE_DIR: path.join(shared.dir, 'cache') };
  const a = await tempProject({ 'pipeline.yaml': pipeline, 'seed.txt': 'A\n' });
  const b = await tempProject({ 'pipeline.yaml': pipeline, 'seed.txt': 'B\n' });
  for (const round of [1, 2]) {
    if (round === 2) await Promise.all([a.write('seed.txt', 'B\n'), b.write('seed.txt', 'A\n')]);
    const [ra, rb] = await Promise.all([a.run(['repro'], { env }), b.run(['repro'], { env })]);
    assert.equal(ra.exitCode, 0, ra.all);
    assert.equal(rb.exitCode, 0, rb.all);
    for (const p of [a, b]) {
      const seed = (await p.read('seed.txt')).trim();
      assert.equal(await p.read('out/f7.txt'), `7 ${seed}\n`);
      assert.equal((await p.read('count.txt')).trim(), '60');
      const st = await p.run(['status'], { env });
      assert.equal(st.stdout, 'Data and pipelines are up to date.', st.all);
    }
  }
  // round 2 swapped the seeds: each workspace restored what the other had built
  assert.match((await a.run(['repro', '--force', '--dry'], { env })).stdout, /would run 'gen'/);
  assert.equal(await a.exists('.cache'), false, 'the shared cache is used, not a local one');
  const objects = await cacheObjects(env.LOCKSTEP_CACHE_DIR);
  assert.ok(objects.length >= 2 * 60 + 2);
  assert.deepEqual(
    objects.filter((o) => !o.intact),
    [],
  );
});
