import assert from 'node:assert/strict';
import { existsSync, promises as fs } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { execa } from 'execa';
import { REPO_ROOT } from '../helpers/project.js';
import { modelProject } from './model-fixture.js';
import { tempDir } from '../helpers/tmp.js';

/** GTO from PyPI (installed by .ci/run into tools/venv-gto): the oracle that reads our tags. */
const GTO = [process.env.LOCKSTEP_GTO, path.join(REPO_ROOT, 'tools/venv-gto/bin/gto')].find(
  (g): g is string => !!g && existsSync(g),
);

interface ShownVersion {
  version: string;
  stages: string[];
  deregistered: boolean;
  meta: {
    path: string;
    md5: string;
    data?: { md5: string };
    testSet?: { hash: string };
    metrics: Record<string, Record<string, unknown>>;
  } | null;
}

test('register, assign, show, get (from the cache, then from the remote) and deprecate, as GTO tags', async (t) => {
  const { p, grow } = await modelProject();
  await grow(8);
  assert.equal((await p.run(['repro'])).exitCode, 0);
  await p.git('add', '-A');
  await p.git('commit', '-qm', 'trained');

  const reg = await p.run(['model', 'register', 'cnn']);
  assert.equal(reg.exitCode, 0, reg.all);
  assert.match(reg.stdout, /Registered cnn@v0\.1\.0 \(tag cnn@v0\.1\.0, models\/model /);
  assert.equal((await p.git('tag', '-l', 'cnn@*')).trim(), 'cnn@v0.1.0');
  const again = await p.run(['model', 'register', 'cnn']);
  assert.match(again.stdout, /already registers commit/, 'the same commit is not registered twice');

  const assign = await p.run(['model', 'assign', 'cnn@v0.1.0', 'prod']);
  assert.equal(assign.exitCode, 0, assign.all);
  assert.equal((await p.git('tag', '-l', 'cnn#*')).trim(), 'cnn#prod#1');
  const listed = await p.run(['model', 'list']);
  assert.equal(listed.exitCode, 0, listed.all);
  assert.match(listed.stdout, /│ name │ latest │ #prod\s*│/);
  assert.match(listed.stdout, /│ cnn\s+│ v0\.1\.0 │ v0\.1\.0 │/);

  const shown = JSON.parse((await p.run(['model', 'show', 'cnn', '--json'])).stdout) as { versions: ShownVersion[] };
  const v = shown.versions[0]!;
  const lock = await p.read('pipeline.lock');
  assert.deepEqual(v.stages, ['prod']);
  assert.ok(lock.includes(`md5: ${v.meta!.md5}`), 'the artifact is the locked models/model output');
  assert.ok(lock.includes(`md5: ${v.meta!.data!.md5}`), 'the data hash is the locked data/raw');
  assert.equal(typeof v.meta!.metrics['metrics/eval.json']!.accuracy, 'number');
  assert.ok(v.meta!.testSet?.hash, 'the test set is named by its manifest entry');

  if (GTO) {
    const gto = await execa(GTO, ['show', '--json'], { cwd: p.dir });
    assert.deepEqual(JSON.parse(gto.stdout).cnn, {
      version: 'v0.1.0',
      stage: { prod: 'v0.1.0' },
      registered: true,
      active: true,
    });
  } else t.diagnostic('gto is not installed (tools/venv-gto): the GTO cross-check did not run');

  const got = await p.run(['model', 'get', 'cnn#prod', '-o', 'served']);
  assert.equal(got.exitCode, 0, got.all);
  assert.equal(await p.read('served/weights.json'), await p.read('models/model/weights.json'));
  const clash = await p.run(['model', 'get', 'cnn#prod', '-o', 'served']);
  assert.equal(clash.exitCode, 2);
  assert.match(clash.stderr, /^lockstep: .*served already exists\. Give another folder with -o, or --force/m);

  // The cache loses the model: get fetches it from the remote.
  const remote = await tempDir('lockstep-model-remote-');
  assert.equal((await p.run(['remote', 'add', '-d', 'store', remote])).exitCode, 0);
  assert.equal((await p.run(['push'])).exitCode, 0);
  await fs.rm(path.join(p.dir, '.cache'), { recursive: true, force: true });
  const fetched = await p.run(['model', 'get', 'cnn@v0.1.0', '-o', 'fetched']);
  assert.equal(fetched.exitCode, 0, fetched.all);
  assert.match(fetched.stdout, /fetched from the remote/);
  assert.equal(await p.read('fetched/weights.json'), await p.read('models/model/weights.json'));
  await fs.rm(remote, { recursive: true, force: true });

  const dep = await p.run(['model', 'deprecate', 'cnn@v0.1.0']);
  assert.equal(dep.exitCode, 0, dep.all);
  assert.match(await p.git('tag', '-l'), /cnn@v0\.1\.0!/);
  const after = JSON.parse((await p.run(['model', 'show', 'cnn', '--json'])).stdout) as { stages: object };
  assert.deepEqual(after.stages, {}, 'a deprecated version holds no stage');

  for (const [args, re] of [
    [['model', 'register', 'Bad'], /^lockstep: 'Bad' is not a valid model name\. Use lower-case/],
    [['model', 'show', 'nosuch'], /^lockstep: no model named 'nosuch' in the registry\. Known models: cnn\.$/],
    [['model', 'assign', 'cnn', 'prod'], /^lockstep: 'cnn' names no version\./],
    [['model', 'register', 'cnn', '--exp', 'nope'], /^lockstep: no experiment named 'nope'/],
  ] as const) {
    const r = await p.run([...args]);
    assert.equal(r.exitCode, (args as readonly string[]).includes('nope') ? 1 : 2, r.all);
    assert.match(r.stderr.trim(), re);
    assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
  }
});

async function prodHistory(dir: string): Promise<string[]> {
  const out = await execa('git', ['for-each-ref', '--sort=creatordate', '--format=%(refname:strip=2)', 'refs/tags'], {
    cwd: dir,
  });
  return out.stdout.split('\n').filter((t) => t.startsWith('cnn#prod#'));
}

test('two challenges at once: the better challenger ends as champion, and prod never gets worse', async () => {
  const { p, grow } = await modelProject();
  await grow(12);
  for (const [name, q] of [
    ['base', 0.8],
    ['good', 0.95],
    ['fair', 0.9],
  ] as const) {
    const r = await p.run(['exp', 'run', '-n', name, '-S', `train.quality=${q}`]);
    assert.equal(r.exitCode, 0, r.all);
  }
  const first = await p.run(['model', 'challenge', 'base']);
  assert.equal(first.exitCode, 0, first.all);
  assert.match(first.stdout, /base \(cnn@v0\.1\.0\): promoted to prod: no model is in prod yet/);

  const dry = await p.run(['model', 'challenge', 'fair', '--dry']);
  assert.match(dry.stdout, /fair against cnn@v0\.1\.0: would be promoted: better: metrics\/eval\.json:accuracy/);
  assert.equal((await prodHistory(p.dir)).length, 1, '--dry changes nothing');

  const [a, b] = await Promise.all([p.run(['model', 'challenge', 'good']), p.run(['model', 'challenge', 'fair'])]);
  assert.equal(a.exitCode, 0, a.all);
  assert.equal(b.exitCode, 0, b.all);
  const state = JSON.parse((await p.run(['model', 'show', 'cnn', '--json'])).stdout) as { versions: ShownVersion[] };
  const prod = state.versions.find((v) => v.stages.includes('prod'))!;
  const acc = (v: ShownVersion) => v.meta!.metrics['metrics/eval.json']!.accuracy as number;
  const best = Math.max(...state.versions.map(acc));
  assert.equal(acc(prod), best, 'the best model holds prod');
  // Every promotion was an improvement, whichever challenge got there first.
  const byTag = new Map(state.versions.map((v) => [v.version, acc(v)]));
  const shown = JSON.parse((await p.run(['model', 'show', 'cnn', '--json'])).stdout) as {
    history: Array<{ kind: string; stage?: string; tag: string; commit: string }>;
  };
  const versionAt = new Map(state.versions.map((v) => [(v as unknown as { commit: string }).commit, v.version]));
  const promotions = shown.history.filter((e) => e.kind === 'assign').map((e) => byTag.get(versionAt.get(e.commit)!)!);
  for (let i = 1; i < promotions.length; i++) assert.ok(promotions[i]! > promotions[i - 1]!, `${promotions}`);
  assert.equal(state.versions.length, 3, 'every challenger is registered with its decision');

  // exp run --challenge: a worse experiment challenges at once and is registered, not promoted.
  const champion = prod.version;
  const worse = await p.run(['exp', 'run', '-n', 'worse', '-S', 'train.quality=0.5', '--challenge']);
  assert.equal(worse.exitCode, 0, worse.all);
  assert.match(
    worse.stdout,
    new RegExp(
      /worse \(cnn@v0\.4\.0\) against cnn@v0\.\d\.0: /.source + /not promoted: not better: metrics\/eval\.json/.source,
    ),
  );
  const after = JSON.parse((await p.run(['model', 'show', 'cnn#prod', '--json'])).stdout) as {
    versions: ShownVersion[];
  };
  assert.equal(after.versions[0]!.version, champion);
});

test(`retraining when the data changes: 50% -> 75% -> 100% of the images, unchanged data does nothing, a worse model \
is not promoted`, async () => {
  const { p, grow } = await modelProject(0.9);
  const retrain = async () => {
    const r = await p.run(['retrain', '--if-data-changed', '--json']);
    assert.equal(r.exitCode, 0, r.all);
    return JSON.parse(r.stdout) as {
      ran: boolean;
      knownAs: string | null;
      decision?: { promoted: boolean; champion: { rescored: boolean } | null; challenger: { version: string } };
    };
  };
  const champion = async () =>
    (JSON.parse((await p.run(['model', 'show', 'cnn#prod', '--json'])).stdout) as { versions: ShownVersion[] })
      .versions[0]!.version;

  await grow(8); // 50%
  const r1 = await retrain();
  assert.equal(r1.ran, true);
  assert.equal(r1.decision?.promoted, true);
  assert.equal(await champion(), 'v0.1.0');

  const same = await retrain();
  assert.deepEqual([same.ran, same.knownAs], [false, 'v0.1.0'], 'the same data: nothing to do');
  assert.equal((await p.git('tag', '-l')).trim().split('\n').length, 2, 'no new tag');

  await grow(12); // 75%: a new test set, so the champion is scored again on it
  const r2 = await retrain();
  assert.equal(r2.decision?.promoted, true);
  assert.equal(r2.decision?.champion?.rescored, true);
  assert.equal(await champion(), 'v0.2.0');

  await grow(16); // 100%
  const r3 = await retrain();
  assert.equal(r3.decision?.promoted, true);
  assert.equal(await champion(), 'v0.3.0');

  // Worse training on better images of the same count: retrained (the hash changed), not promoted.
  await p.write('params.yaml', (await p.read('params.yaml')).replace('quality: 0.9', 'quality: 0.5'));
  await p.git('commit', '-qam', 'worse model');
  await grow(16, (i) => 2 + (i % 2));
  const r4 = await retrain();
  assert.equal(r4.ran, true);
  assert.equal(r4.decision?.promoted, false);
  assert.equal(await champion(), 'v0.3.0', 'the champion is never replaced by a worse model');
  const text = await p.run(['model', 'show', 'cnn']);
  assert.match(text.stdout, /v0\.4\.0.*kept champion/);
});

test('retrain finds the data hash when the stage that pulls it is in a sub-pipeline (its own lock file)', async () => {
  const { p, source, grow } = await modelProject(0.9);
  // pull moves to ingest/pipeline.yaml, so its output's hash is recorded in ingest/pipeline.lock, not the root lock
  await p.write('ingest/pipeline.yaml', await p.read('pipeline.yaml').then((t) => t.slice(0, t.indexOf('  prepare:'))));
  await p.write('ingest/pull.mjs', await p.read('pull.mjs'));
  await p.write('ingest/params.yaml', `pull:\n  source: ${source}\n`);
  const root = await p.read('pipeline.yaml');
  await p.write(
    'pipeline.yaml',
    `stages:\n${root.slice(root.indexOf('  prepare:'))}`.replace(
      'deps: [prepare.mjs, data/raw]',
      'deps: [prepare.mjs, ingest/data/raw]',
    ),
  );
  await p.write('prepare.mjs', (await p.read('prepare.mjs')).replaceAll("'data/raw", "'ingest/data/raw"));
  await p.write(
    '.lockstep/config.yaml',
    (await p.read('.lockstep/config.yaml')).replace('data: data/raw', 'data: ingest/data/raw'),
  );
  await p.write('.gitignore', `${await p.read('.gitignore')}/ingest/data/\n`);
  await p.git('add', '-A');
  await p.git('commit', '-qm', 'pull in a sub-pipeline');
  await grow(8);
  const r = await p.run(['retrain', '--if-data-changed', '--json']);
  // before: "ingest/data/raw has no recorded hash after its stage ran" (only the root lock was read)
  assert.equal(r.exitCode, 0, r.all);
  const result = JSON.parse(r.stdout) as { ran: boolean; data: { path: string; md5: string } };
  assert.equal(result.ran, true);
  assert.equal(result.data.path, 'ingest/data/raw');
  assert.match(await p.read('ingest/pipeline.lock'), new RegExp(result.data.md5));
  const again = JSON.parse((await p.run(['retrain', '--if-data-changed', '--json'])).stdout) as { ran: boolean };
  assert.equal(again.ran, false, 'the same data: nothing to do');
});
