import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { tempProject } from '../helpers/project.js';
import {
  listExperiments,
  readRecordFiles,
  removeRefs,
  resolveExperiment,
  writeRecord,
  type RecordMeta,
} from '../../src/exp/records.js';
import { asMd5 } from '../../src/hash/types.js';

function meta(name: string, baseline: string, extra: Partial<RecordMeta> = {}): RecordMeta {
  return {
    version: 1,
    name,
    baseline,
    created: '2026-01-02T03:04:05.000Z',
    state: 'success',
    overrides: [{ file: 'params.yaml', key: 'seed', value: 7 }],
    params: { 'params.yaml': { seed: 7 } },
    metrics: { 'm.json': { acc: 0.9 } },
    lock: {
      schema: '2.0',
      stages: { train: { cmd: 'x', outs: [{ path: 'model', hash: 'md5', md5: asMd5('a'.repeat(32)), size: 1 }] } },
    },
    ...extra,
  };
}

test(`records are commits on refs/exps/<baseline>/<name>, written without touching branch, index or \
files`, async () => {
  const p = await tempProject({ 'params.yaml': 'seed: 1\n', 'pipeline.yaml': 'stages: {}\n' });
  const baseline = (await p.git('rev-parse', 'HEAD')).trim();
  await p.write('staged.txt', 'in the index\n');
  await p.git('add', 'staged.txt');
  const before = [
    await p.git('status', '--porcelain'),
    await p.git('rev-parse', 'HEAD'),
    await p.git('symbolic-ref', 'HEAD'),
  ];
  const src = path.join(p.dir, '..', `${path.basename(p.dir)}-ws`);
  await fs.mkdir(path.join(src, 'metrics'), { recursive: true });
  await fs.writeFile(path.join(src, 'params.yaml'), 'seed: 7\n');
  await fs.writeFile(path.join(src, 'metrics', 'm.json'), '{"acc": 0.9}\n');
  const sha = await writeRecord(p.dir, {
    meta: meta('brisk-otter', baseline),
    files: [
      { path: 'params.yaml', abs: path.join(src, 'params.yaml') },
      { path: 'metrics/m.json', abs: path.join(src, 'metrics', 'm.json') },
    ],
  });
  await fs.rm(src, { recursive: true, force: true });

  assert.deepEqual(
    [await p.git('status', '--porcelain'), await p.git('rev-parse', 'HEAD'), await p.git('symbolic-ref', 'HEAD')],
    before,
  );
  assert.equal((await p.git('rev-parse', `refs/exps/${baseline}/brisk-otter`)).trim(), sha);
  assert.equal((await p.git('rev-parse', `${sha}^`)).trim(), baseline);
  assert.equal(
    await p.git('log', '-1', '--format=%B', sha),
    'lockstep exp brisk-otter: seed=7\n\nLockstep-State: success\nLockstep-Created: 2026-01-02T03:04:05.000Z\n',
  );
  const files = await readRecordFiles(p.dir, sha, ['params.yaml', 'metrics/m.json', 'absent']);
  assert.deepEqual([...files.keys()], ['params.yaml', 'metrics/m.json']);
  assert.equal(files.get('params.yaml')!.toString(), 'seed: 7\n');

  const [rec] = await listExperiments(p.dir);
  assert.equal(rec!.name, 'brisk-otter');
  assert.equal(rec!.sha, sha);
  assert.equal(rec!.baseline, baseline);
  assert.deepEqual(rec!.metrics, { 'm.json': { acc: 0.9 } });
  assert.equal(rec!.lock!.stages.train!.outs![0]!.md5, 'a'.repeat(32));
});

test('a taken name fails and leaves the first record; concurrent writers cannot overwrite each other', async () => {
  const p = await tempProject({ 'pipeline.yaml': 'stages: {}\n' });
  const baseline = (await p.git('rev-parse', 'HEAD')).trim();
  const results = await Promise.allSettled([
    writeRecord(p.dir, { meta: meta('same', baseline, { params: { 'params.yaml': { seed: 1 } } }), files: [] }),
    writeRecord(p.dir, { meta: meta('same', baseline, { params: { 'params.yaml': { seed: 2 } } }), files: [] }),
  ]);
  const won = results.filter((r) => r.status === 'fulfilled') as PromiseFulfilledResult<string>[];
  const lost = results.filter((r) => r.status === 'rejected') as PromiseRejectedResult[];
  assert.equal(won.length, 1);
  assert.equal(lost.length, 1);
  assert.match(
    (lost[0]!.reason as Error).message,
    new RegExp(
      `^experiment name 'same' is already taken on baseline ${baseline.slice(0, 7)} \\(refs/exps/${baseline}/same\\)$`,
    ),
  );
  assert.equal((await p.git('rev-parse', `refs/exps/${baseline}/same`)).trim(), won[0]!.value);
});

test(`listing: HEAD by default, other baselines with revs or allCommits, foreign refs skipped, remove is \
checked`, async () => {
  const p = await tempProject({ 'pipeline.yaml': 'stages: {}\n' });
  const first = (await p.git('rev-parse', 'HEAD')).trim();
  await writeRecord(p.dir, { meta: meta('old', first), files: [] });
  await p.write('x.txt', 'x');
  await p.git('add', 'x.txt');
  await p.git('commit', '-qm', 'second');
  const second = (await p.git('rev-parse', 'HEAD')).trim();
  await writeRecord(p.dir, { meta: meta('new', second), files: [] });
  await p.git('update-ref', `refs/exps/${second}/foreign`, second); // not a lockstep record: no exp.json

  assert.deepEqual(
    (await listExperiments(p.dir)).map((r) => r.name),
    ['new'],
  );
  assert.deepEqual(
    (await listExperiments(p.dir, { revs: ['HEAD~1'] })).map((r) => r.name),
    ['old'],
  );
  assert.deepEqual((await listExperiments(p.dir, { allCommits: true })).map((r) => r.name).sort(), ['new', 'old']);
  assert.deepEqual(
    (await listExperiments(p.dir, { allCommits: true, names: ['old'] })).map((r) => r.baseline),
    [first],
  );
  await assert.rejects(listExperiments(p.dir, { revs: ['nope'] }), /'nope' is not a commit in /);

  const old = await resolveExperiment(p.dir, 'old');
  // wrong expected sha: nothing removed
  await assert.rejects(removeRefs(p.dir, [{ ref: old.ref, sha: second }]), /git update-ref failed/);
  assert.equal((await listExperiments(p.dir, { allCommits: true })).length, 2);
  await removeRefs(p.dir, [{ ref: old.ref, sha: old.sha }]);
  assert.deepEqual(
    (await listExperiments(p.dir, { allCommits: true })).map((r) => r.name),
    ['new'],
  );
});

test('workspaces of a killed exp run are swept up; live ones and foreign folders stay', async () => {
  const { createWorkspace, removeStaleWorkspaces } = await import('../../src/exp/workspace.js');
  const { execa } = await import('execa');
  const p = await tempProject({ 'pipeline.yaml': 'stages: {}\n', 'params.yaml': 'seed: 1\n' });
  const parent = path.join(p.dir, '..', `${path.basename(p.dir)}-tmp`);
  const live = await createWorkspace(p.dir, ['pipeline.yaml', 'params.yaml'], { parent });
  assert.equal(await fs.readFile(path.join(live.dir, 'params.yaml'), 'utf8'), 'seed: 1\n');
  const dead = await createWorkspace(p.dir, ['pipeline.yaml'], { parent });
  const child = execa('true');
  const pid = child.pid!;
  await child;
  await fs.writeFile(path.join(path.dirname(dead.dir), '.lockstep-exp-owner'), String(pid));
  await fs.mkdir(path.join(parent, 'lockstep-exp-foreign'));
  assert.equal(await removeStaleWorkspaces(parent), 1);
  assert.deepEqual(
    (await fs.readdir(parent)).sort(),
    [path.basename(path.dirname(live.dir)), 'lockstep-exp-foreign'].sort(),
  );
  await live.remove();
  await fs.rm(parent, { recursive: true, force: true });
});
