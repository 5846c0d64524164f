/**
 * Issue 12, items 4-6: lock files, `.dir` manifests, run-cache entries and remote listings are
 * untrusted input. A lock whose shape is wrong is an error naming the file and the entry (never an
 * empty lock that `gc` would empty the cache for); a path that leaves the project, goes through
 * `.git` or holds a NUL is refused; `checkout -f` and `pull` never write outside the project nor to
 * a path the pipeline does not declare.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { assertOneLine, changed, ownFiles, sandbox, snapshot, type Sandbox } from './sandbox.js';

const LOCK_HINT = (f: string) =>
  `Fix ${f} (git checkout ${f} restores the committed one), or delete it to rebuild every stage.`;
const PIPELINE =
  'stages:\n  a:\n    cmd: echo one > x\n    outs: [x]\n  b:\n    cmd: mkdir -p d && echo two > d/f\n    outs: [d]\n';

/** A project where both stages ran: the cache holds x, d's manifest and d/f. */
async function ranProject(): Promise<Sandbox> {
  const sb = await sandbox({ 'pipeline.yaml': PIPELINE, 'src.txt': 'my own file\n' });
  const r = await sb.run(['repro']);
  assert.equal(r.exitCode, 0, r.all);
  return sb;
}

const lockText = (sb: Sandbox) => fs.readFile(path.join(sb.proj, 'pipeline.lock'), 'utf8');
const cacheFiles = (sb: Sandbox) => snapshot(path.join(sb.proj, '.cache', 'files'));

async function expectRefused(sb: Sandbox, args: string[], exitCode: number, message: string): Promise<void> {
  const beforeIn = await snapshot(sb.proj, ownFiles);
  const beforeOut = await snapshot(sb.outside);
  const beforeCache = await cacheFiles(sb);
  const r = await sb.run(args);
  assert.equal(r.exitCode, exitCode, `${args.join(' ')}: ${r.all}`);
  assertOneLine(r, args.join(' '));
  assert.equal(r.stderr.trimEnd(), `lockstep: ${message}`);
  assert.deepEqual(changed(beforeOut, await snapshot(sb.outside)), [], 'nothing outside the project changed');
  assert.deepEqual(changed(beforeIn, await snapshot(sb.proj, ownFiles)), [], 'nothing in the project changed');
  assert.deepEqual(changed(beforeCache, await cacheFiles(sb)), [], 'no cache object was removed');
}

test('a lock whose stages are a list is an error naming the file; gc deletes nothing', async () => {
  const sb = await ranProject();
  await sb.write('pipeline.lock', "schema: '2.0'\nstages:\n- a\n- b\n");
  const msg =
    `pipeline.lock: 'stages' must be a mapping of stage names to entries, not a list. ` +
    `${LOCK_HINT('pipeline.lock')}`;
  await expectRefused(sb, ['gc', '-w'], 2, msg);
  await expectRefused(sb, ['gc', '-w', '--dry'], 2, msg);
  await expectRefused(sb, ['status'], 2, msg);
});

test('lock entries of the wrong shape name the file, the stage and the entry', async () => {
  const sb = await ranProject();
  const good = await lockText(sb);
  const cases: [string, string][] = [
    [good.replace(/^( {6}md5: [0-9a-f]{32}\n)/m, ''), "pipeline.lock: stage 'a' outs[0] ('x'): no md5"],
    [
      good.replace(/^( {6}size: )\d+$/m, '$1big'),
      "pipeline.lock: stage 'a' outs[0] ('x'): size must be a whole number, not a string 'big'",
    ],
    [
      good.replace(/^ {4}cmd: echo one > x$/m, '    cmd: 3'),
      "pipeline.lock: stage 'a': cmd must be a string or a list of strings, not a number",
    ],
    [
      good.replace(/^ {4}outs:\n {4}- path: x$/m, '    outs:\n      path: x'),
      "pipeline.lock: stage 'a': outs must be a list, not a mapping",
    ],
    [
      "schema: '2.0'\nstages:\n  a: [x]\n",
      "pipeline.lock: stage 'a': expected a mapping with cmd, deps, params and outs, found a list",
    ],
    ["schema: '3.0'\nstages: {}\n", "pipeline.lock: schema '3.0' is not '2.0' (the only lock format lockstep reads)"],
    ['a:\n  cmd: echo\n', "pipeline.lock: unknown top-level key 'a' (a schema 2.0 lock has 'schema' and 'stages')"],
  ];
  for (const [text, msg] of cases) {
    assert.notEqual(text, good, msg);
    await sb.write('pipeline.lock', text);
    await expectRefused(sb, ['gc', '-w'], 2, `${msg}. ${LOCK_HINT('pipeline.lock')}`);
  }
});

test(`lock paths that leave the project, go through .git or hold NUL are refused by checkout -f; nothing is \
written`, async () => {
  const sb = await ranProject();
  const good = await lockText(sb);
  const victim = path.join(sb.outside, 'victim.txt');
  const cases: [string, string][] = [
    ['../outside/victim.txt', "stage 'a' outs[0]: unsafe path '../outside/victim.txt' (a '..' segment)"],
    [victim, `stage 'a' outs[0]: unsafe path '${victim}' (an absolute path)`],
    ['.git/hooks/pre-commit', "stage 'a' outs[0]: unsafe path '.git/hooks/pre-commit' (a '.git' segment)"],
    ['sub/../../outside/victim.txt', "stage 'a' outs[0]: unsafe path 'sub/../../outside/victim.txt' (a '..' segment)"],
    ['"x\\0y"', "stage 'a' outs[0]: unsafe path 'x\\u0000y' (a NUL byte)"],
  ];
  for (const [p, msg] of cases) {
    await sb.write('pipeline.lock', good.replace(/^( {4}- path: )x$/m, `$1${p}`));
    await expectRefused(sb, ['checkout', '-f'], 2, `pipeline.lock: ${msg}. ${LOCK_HINT('pipeline.lock')}`);
  }
  // A params file path in the lock is checked too.
  await sb.write(
    'pipeline.lock',
    good.replace(/^( {4}cmd: echo one > x\n)/m, '$1    params:\n      ../outside/p.yaml:\n        lr: 1\n'),
  );
  await expectRefused(
    sb,
    ['status'],
    2,
    `pipeline.lock: stage 'a' params: unsafe path '../outside/p.yaml' (a '..' segment). ${LOCK_HINT('pipeline.lock')}`,
  );
});

test(`checkout -f restores only outputs the pipeline declares: a lock entry naming a project file leaves it \
alone`, async () => {
  const sb = await ranProject();
  const good = await lockText(sb);
  await sb.write('pipeline.lock', good.replace(/^( {4}- path: )x$/m, '$1src.txt'));
  const before = await snapshot(sb.proj, ownFiles);
  const r = await sb.run(['checkout', '-f']);
  assert.equal(r.exitCode, 0, r.all);
  assert.equal(await fs.readFile(path.join(sb.proj, 'src.txt'), 'utf8'), 'my own file\n');
  assert.deepEqual(changed(before, await snapshot(sb.proj, ownFiles)), []);
});

test(`pull never writes outside the project: a committed lock with a ../ path fails before anything is checked \
out`, async () => {
  const sb = await ranProject();
  const remote = path.join(sb.base, 'remote');
  assert.equal((await sb.run(['remote', 'add', '-d', 'store', remote])).exitCode, 0);
  assert.equal((await sb.run(['push'])).exitCode, 0);
  const good = await lockText(sb);
  await sb.write('pipeline.lock', good.replace(/^( {4}- path: )x$/m, '$1../outside/victim.txt'));
  await fs.rm(path.join(sb.proj, '.cache'), { recursive: true, force: true });
  const beforeOut = await snapshot(sb.outside);
  const r = await sb.run(['pull', '-f']);
  assert.equal(r.exitCode, 2, r.all);
  assertOneLine(r, 'pull');
  assert.match(r.stderr, /^lockstep: pipeline\.lock: stage 'a' outs\[0\]: unsafe path '\.\.\/outside\/victim\.txt'/);
  assert.deepEqual(changed(beforeOut, await snapshot(sb.outside)), []);
});

/** Write a manifest object (named by its md5, as a remote or teammate could) listing `entries`. */
async function plantManifest(sb: Sandbox, entries: { md5: string; relpath: string }[]): Promise<string> {
  const text = JSON.stringify(entries);
  const md5 = `${createHash('md5').update(text).digest('hex')}.dir`;
  const obj = path.join(sb.proj, '.cache', 'files', 'md5', md5.slice(0, 2), md5.slice(2));
  await fs.mkdir(path.dirname(obj), { recursive: true });
  await fs.writeFile(obj, text);
  return md5;
}

test('a .dir manifest listing ../, absolute, .git or colliding names is refused naming the object', async () => {
  const sb = await ranProject();
  const good = await lockText(sb);
  const dirMd5 = /md5: ([0-9a-f]{32}\.dir)/.exec(good)?.[1] as string;
  const fileMd5 = createHash('md5').update('two\n').digest('hex');
  const cases: [string, string][] = [
    ['../../outside/victim.txt', "(a '..' segment)"],
    ['/etc/passwd', '(an absolute path)'],
    ['.git/config', "(a '.git' segment)"],
    ['a//b', '(an empty path segment)'],
  ];
  for (const [relpath, why] of cases) {
    const md5 = await plantManifest(sb, [{ md5: fileMd5, relpath }]);
    await sb.write('pipeline.lock', good.replace(dirMd5, md5));
    const shown = `files/md5/${md5.slice(0, 2)}/${md5.slice(2)}`;
    await expectRefused(
      sb,
      ['checkout', '-f'],
      1,
      `cache object ${shown} lists an unsafe path '${relpath}' ${why}. Remove it and run lockstep pull or repro.`,
    );
  }
  const md5 = await plantManifest(sb, [
    { md5: fileMd5, relpath: 'f' },
    { md5: fileMd5, relpath: 'f/g' },
  ]);
  await sb.write('pipeline.lock', good.replace(dirMd5, md5));
  await expectRefused(
    sb,
    ['checkout', '-f'],
    1,
    `cache object files/md5/${md5.slice(0, 2)}/${md5.slice(2)} lists an unsafe path 'f/g' (inside the file 'f'). ` +
      `Remove it and run lockstep pull or repro.`,
  );
});

test('a run-cache entry with a malformed md5 is ignored (the stage runs), not an internal error', async () => {
  const sb = await ranProject();
  const runs = path.join(sb.proj, '.cache', 'runs');
  let n = 0;
  for (const d of await fs.readdir(runs, { recursive: true, withFileTypes: true })) {
    if (!d.isFile()) continue;
    const file = path.join(d.parentPath ?? (d as unknown as { path: string }).path, d.name);
    const text = await fs.readFile(file, 'utf8');
    await fs.chmod(file, 0o644);
    await fs.writeFile(file, text.replace(/md5: [0-9a-f]{32}(\.dir)?/g, 'md5: ../../../outside/victim.txt'));
    n++;
  }
  assert.ok(n >= 2, 'both stages left run-cache entries');
  await fs.rm(path.join(sb.proj, 'pipeline.lock'));
  const beforeOut = await snapshot(sb.outside);
  const r = await sb.run(['repro']);
  assert.equal(r.exitCode, 0, r.all);
  assert.match(r.stdout, /Running stage 'a'/);
  assert.deepEqual(changed(beforeOut, await snapshot(sb.outside)), []);
});

test('a remote listing a run-cache name that leaves runs/ is refused; stray names are skipped', async () => {
  const { fetchRunCache } = await import('../../src/remote/runcache.js');
  const sb = await sandbox({}, { git: false });
  const cacheDir = path.join(sb.proj, '.cache');
  const listing = (names: string[]) => ({
    name: 'evil',
    display: 'evil://remote',
    kind: 'folder' as const,
    exists: async () => true,
    async *list(prefix: string) {
      for (const n of names) if (n.startsWith(prefix)) yield n;
    },
    upload: async () => {},
    read: async () => {
      throw new Error('nothing is read from this remote');
    },
    remove: async () => {},
    close: async () => {},
  });
  await assert.rejects(fetchRunCache(cacheDir, listing(['runs/../../outside/victim.txt']), { jobs: 1 }), (e: Error) => {
    assert.equal(
      e.message,
      "remote evil://remote lists an unsafe run-cache entry 'runs/../../outside/victim.txt' (a '..' segment)",
    );
    return true;
  });
  const res = await fetchRunCache(cacheDir, listing(['runs/README', 'runs/ab/cd']), { jobs: 1 });
  assert.equal(res.transferred, 0);
  assert.deepEqual(changed(new Map(), await snapshot(sb.outside)).length, 3);
});

test('pipeline.lock a folder, .cache a file, params.yaml deleted: one-line errors naming the file', async () => {
  const sb = await sandbox({
    'pipeline.yaml': 'stages:\n  a:\n    cmd: echo ${train.lr} > x\n    params: [train.lr]\n    outs: [x]\n',
  });
  await expectRefusedNoCache(
    sb,
    ['status'],
    "pipeline.yaml:3:15: stage 'a': params file params.yaml (used by stage 'a') does not exist, so '${train.lr}' is " +
      'unknown. Add the key to the params file or remove the reference.',
  );
  await sb.write('params.yaml', 'train:\n  lr: 1\n');
  await fs.mkdir(path.join(sb.proj, 'pipeline.lock'));
  for (const cmd of [['status'], ['repro'], ['gc', '-w']])
    await expectRefusedNoCache(
      sb,
      cmd,
      'pipeline.lock is a folder, not a lock file. Move pipeline.lock away (lockstep repro writes a new one).',
    );
  await fs.rmdir(path.join(sb.proj, 'pipeline.lock'));
  await sb.write('.cache', 'not a folder\n');
  for (const cmd of [['status'], ['repro'], ['gc', '-w'], ['checkout', '-f']])
    await expectRefusedNoCache(
      sb,
      cmd,
      'the cache folder .cache is a file, not a folder. Move that file away (lockstep makes a new cache folder), or ' +
        'set cache.dir in .lockstep/config.yaml.',
    );
});

async function expectRefusedNoCache(sb: Sandbox, args: string[], message: string): Promise<void> {
  const before = await snapshot(sb.proj, (r) => r === '.lockstep' || r.startsWith('.lockstep/tmp'));
  const r = await sb.run(args);
  assert.equal(r.exitCode, 2, `${args.join(' ')}: ${r.all}`);
  assertOneLine(r, args.join(' '));
  assert.equal(r.stderr.trimEnd(), `lockstep: ${message}`);
  assert.deepEqual(
    changed(before, await snapshot(sb.proj, (x) => x === '.lockstep' || x.startsWith('.lockstep/tmp'))),
    [],
  );
}

test('a committed .dvc file whose path goes through .git, names the lock file or holds NUL is refused', async () => {
  const sb = await ranProject();
  const md5 = createHash('md5').update('one\n').digest('hex');
  const cases: [string, string][] = [
    ['.git/HEAD', "a '.git' segment"],
    ['pipeline.lock', "is the project's file 'pipeline.lock'"],
    ['"a\\0b"', 'a NUL byte'],
  ];
  for (const [p, why] of cases) {
    await sb.write('evil.dvc', `outs:\n- md5: ${md5}\n  size: 4\n  hash: md5\n  path: ${p}\n`);
    const shown = p.startsWith('"') ? "'a\\u0000b'" : `'${p}'`;
    await expectRefused(
      sb,
      ['checkout', '-f'],
      2,
      `evil.dvc: outs[0] path ${shown} is unsafe (${why}). Fix the .dvc file, or remove it and run lockstep add again.`,
    );
  }
});
