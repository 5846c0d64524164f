/**
 * The seed x partition study on the real stages (pull, partition, prepare, train, evaluate) with tiny
 * synthetic CIFAR-10 data: 2 seeds x 2 data values with -j 2. Skipped until the stage programs and the
 * data fixtures are in the tree.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, promises as fs } from 'node:fs';
import path from 'node:path';
import { REPO_ROOT, copyTree, tempProject } from '../helpers/project.js';

const STAGES = ['pull', 'partition', 'prepare', 'train', 'evaluate'].map((s) => `stages/${s}.ts`);
const FIXTURES = path.join(REPO_ROOT, 'dist/test/helpers/data-fixtures.js');
const missing = [
  ...STAGES.filter((s) => !existsSync(path.join(REPO_ROOT, s))),
  ...(existsSync(FIXTURES) ? [] : ['test/helpers/data-fixtures.ts']),
];

interface Done {
  type: 'done';
  result: { name: string; state: string; stages: { ran: string[]; restored: string[] }; error?: string };
}

test('real stages: 2 seeds x 2 data values with -j 2 record 4 experiments; pull and partition run once', {
  skip: missing.length ? `missing ${missing.join(', ')}` : false,
  timeout: 600_000,
}, async () => {
  const { cifarMembers, md5, paramsYaml, tarGz } = (await import(FIXTURES)) as {
    cifarMembers(n: number): unknown[];
    md5(b: Uint8Array): string;
    paramsYaml(p: { pull?: string; partition?: string }): string;
    tarGz(m: unknown[]): Promise<Buffer>;
  };
  const R = 60; // 360 images: three partitions of 120
  const archive = await tarGz(cifarMembers(R));
  const files: Record<string, Uint8Array> = {};
  await copyTree(REPO_ROOT, 'stages', files);
  const params =
    paramsYaml({
      pull:
        `pull:\n  dataset: cifar10\n  url: file://src/cifar.tar.gz\n  md5: ${md5(archive)}\n  records_per_batch: ` +
        `${R}`,
      partition: 'partition:\n  size: 120\n  seed: 7',
    }) +
    'train:\n  model: tiny\n  backend: cpu\n  epochs: 1\n  batch_size: 16\nevaluate:\n  samples: 4\n  backend: cpu\n';
  const p = await tempProject({
    ...files,
    'pipeline.yaml': await fs.readFile(path.join(REPO_ROOT, 'pipeline.yaml'), 'utf8'),
    'params.yaml': params,
    'src/cifar.tar.gz': archive,
    '.gitignore': '/node_modules\n/.cache/\n',
    'package.json': JSON.stringify({ type: 'module', private: true }),
  });
  // the stage programs import tsx, yaml, pngjs, tfjs… from the project, as in a real checkout
  await fs.symlink(path.join(REPO_ROOT, 'node_modules'), path.join(p.dir, 'node_modules'));
  const statusBefore = await p.git('status', '--porcelain');

  const r = await p.run(['exp', 'run', '--json', '--seed', '1,2', '--data', 'v1,v1+v2', '-j', '2'], {
    timeout: 590_000,
  });
  const events = r.stdout
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as { type: string });
  const done = events.filter((e): e is Done => e.type === 'done').map((e) => e.result);
  assert.equal(r.exitCode, 0, `${r.stderr}\n${done.map((d) => d.error ?? '').join('\n')}`);
  assert.equal(done.length, 4);
  const ranCount = (stage: string) => done.filter((d) => d.stages.ran.includes(stage)).length;
  assert.equal(ranCount('pull'), 1);
  assert.equal(ranCount('partition'), 1);
  assert.equal(ranCount('prepare'), 2); // once per data choice: the split has its own fixed seed
  assert.equal(ranCount('train'), 4);

  assert.equal(await p.git('status', '--porcelain'), statusBefore);
  assert.equal(await p.read('params.yaml'), params);
  assert.equal(await p.exists('data'), false);

  const shown = (
    JSON.parse((await p.run(['exp', 'show', '--json'])).stdout) as Array<{
      type: string;
      state: string;
      params: Record<string, Record<string, unknown>>;
      metrics: Record<string, Record<string, unknown>>;
    }>
  ).filter((e) => e.type === 'experiment');
  assert.deepEqual(
    shown.map((e) => `${String(e.params['params.yaml']!.seed)}/${String(e.params['params.yaml']!.data)}`).sort(),
    ['1/v1', '1/v1+v2', '2/v1', '2/v1+v2'],
  );
  for (const e of shown) {
    assert.equal(e.state, 'success');
    const evalMetrics = e.metrics['metrics/eval.json'] ?? {};
    assert.ok(
      Object.values(evalMetrics).some((v) => typeof v === 'number'),
      JSON.stringify(e.metrics),
    );
  }
});
