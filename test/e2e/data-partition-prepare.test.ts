import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { PNG } from 'pngjs';
import { runStageProgram } from '../helpers/stage.js';
import { tempProject, type TempProject } from '../helpers/project.js';
import { CLASSES, cifarMembers, md5, paramsYaml, tarGz } from '../helpers/data-fixtures.js';

const R = 60; // records per batch: 360 images, 36 per class
const SIZE = 120; // 12 per class per partition; the maximum is 10 x floor(36 / 3) = 120

function params(
  o: { seed?: number; data?: string; size?: number; partitionSeed?: number; split?: string; splitSeed?: number },
  sum: string,
): string {
  return paramsYaml({
    seed: o.seed ?? 42,
    data: o.data ?? 'v1',
    pull: `pull:\n  dataset: cifar10\n  url: file://src/cifar.tar.gz\n  md5: ${sum}\n  records_per_batch: ${R}`,
    partition: `partition:\n  size: ${o.size ?? SIZE}\n  seed: ${o.partitionSeed ?? 7}`,
    prepare:
      `prepare:\n  split: ${o.split ?? '{train: 0.8, val: 0.1, test: 0.1}'}` +
      (o.splitSeed === undefined ? '' : `\n  split_seed: ${o.splitSeed}`),
  });
}

const lastLine = (s: string) => s.trim().split('\n').at(-1)!;
const rows = async (p: TempProject, rel: string) =>
  (await p.read(rel))
    .trim()
    .split('\n')
    .slice(1)
    .map((l) => l.split(','));

async function filesMd5(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const f of (await fs.readdir(dir)).sort()) out[f] = md5(await fs.readFile(path.join(dir, f)));
  return out;
}

// Created at module level: the cleanup hook tempProject registers must belong to the file, not to a hook.
const archive = await tarGz(cifarMembers(R));
const sum = md5(archive);
const base = await tempProject({ 'src/cifar.tar.gz': archive, 'params.yaml': params({}, sum) }, { git: false });

describe('partition and prepare stages', { concurrency: 4 }, () => {
  /** A copy of the base project (raw + partitions done) with other params. */
  async function variant(o: Parameters<typeof params>[0]): Promise<TempProject> {
    const p = await tempProject({}, { git: false });
    await fs.cp(base.dir, p.dir, { recursive: true });
    await p.write('params.yaml', params(o, sum));
    return p;
  }

  before(async () => {
    for (const stage of ['pull', 'partition'] as const) {
      const r = await runStageProgram(stage, base.dir);
      assert.equal(r.exitCode, 0, r.stderr);
    }
  });

  it('partition writes three disjoint, stratified partitions of byte-identical copies', async () => {
    const meta = JSON.parse(await base.read('data/partitions/meta.json'));
    assert.deepEqual(meta.partitions, ['v1', 'v2', 'v3']);
    assert.equal(meta.size, SIZE);
    assert.deepEqual(meta.classes, CLASSES);
    const raw = new Map((await rows(base, 'data/raw/index.csv')).map(([id, , , , p]) => [id!, p!]));
    const seen = new Set<string>();
    for (const v of ['v1', 'v2', 'v3']) {
      const manifest = await rows(base, `data/partitions/${v}.csv`);
      assert.equal(manifest.length, SIZE);
      for (const c of CLASSES) assert.equal(manifest.filter((r) => r[1] === c).length, SIZE / 10, `${v} ${c}`);
      for (const [id, cls, p] of manifest) {
        assert.ok(!seen.has(id!), `${id} in two partitions`);
        seen.add(id!);
        assert.equal(p, `data/partitions/${v}/${cls}/${id}.png`);
        assert.deepEqual(
          await fs.readFile(path.join(base.dir, p!)),
          await fs.readFile(path.join(base.dir, raw.get(id!)!)),
        );
      }
      const onDisk = (
        await Promise.all(CLASSES.map((c) => fs.readdir(path.join(base.dir, 'data/partitions', v, c))))
      ).flat();
      assert.equal(onDisk.length, SIZE);
    }
    assert.deepEqual((await fs.readdir(path.join(base.dir, 'data'))).sort(), ['partitions', 'raw']);
  });

  it('partition is deterministic for a seed and changes with it', async () => {
    const same = await variant({});
    const r = await runStageProgram('partition', same.dir);
    assert.equal(r.exitCode, 0, r.stderr);
    for (const v of ['v1', 'v2', 'v3'])
      assert.equal(await same.read(`data/partitions/${v}.csv`), await base.read(`data/partitions/${v}.csv`));
    const other = await variant({ partitionSeed: 8 });
    assert.equal((await runStageProgram('partition', other.dir)).exitCode, 0);
    assert.notEqual(await other.read('data/partitions/v1.csv'), await base.read('data/partitions/v1.csv'));
  });

  it('partition rejects a size over a third of the data, naming partition.size and the maximum', async () => {
    const p = await variant({ size: SIZE + 1 });
    const r = await runStageProgram('partition', p.dir);
    assert.equal(r.exitCode, 1);
    assert.equal(
      lastLine(r.stderr),
      'partition: params.yaml:9:9: partition.size 121 is too large: 3 disjoint stratified partitions of 360 images ' +
        'allow at most 120 Set partition.size to 120 or less in params.yaml.',
    );
    // The previous partitions are still there, untouched.
    assert.equal(await p.read('data/partitions/v1.csv'), await base.read('data/partitions/v1.csv'));
  });

  it('prepare writes the tensors, labels and ids of a stratified split, byte-identical on a re-run', async () => {
    const p = await variant({});
    const r = await runStageProgram('prepare', p.dir);
    assert.equal(r.exitCode, 0, r.stderr);
    assert.match(r.stdout, /^prepare: data v1 \(split seed 42\): train 100, val 10, test 10 -> data\/prepared in /);
    assert.equal(
      await p.read('data/prepared/meta.json'),
      `${JSON.stringify({
        height: 32,
        width: 32,
        channels: 3,
        classes: CLASSES,
        splits: { train: 100, val: 10, test: 10 },
      })}\n`,
    );
    const v1 = new Set((await rows(p, 'data/partitions/v1.csv')).map((r) => r[0]));
    const seen = new Set<string>();
    for (const [split, n] of [
      ['train', 100],
      ['val', 10],
      ['test', 10],
    ] as const) {
      const images = await fs.readFile(path.join(p.dir, `data/prepared/${split}.images.u8`));
      const labels = await fs.readFile(path.join(p.dir, `data/prepared/${split}.labels.u8`));
      const ids = (await p.read(`data/prepared/${split}.ids.tsv`))
        .trim()
        .split('\n')
        .map((l) => l.split('\t'));
      assert.equal(images.length, n * 32 * 32 * 3);
      assert.equal(labels.length, n);
      assert.equal(ids.length, n);
      for (let c = 0; c < 10; c++)
        assert.equal([...labels].filter((l) => l === c).length, n / 10, `${split} class ${c}`);
      for (const [i, [id, file]] of ids.entries()) {
        assert.ok(v1.has(id) && !seen.has(id!), `${id}`);
        seen.add(id!);
        assert.equal(file, `data/partitions/v1/${CLASSES[labels[i]!]}/${id}.png`);
        if (i < 5) {
          const png = PNG.sync.read(await fs.readFile(path.join(p.dir, file!)));
          for (const px of [0, 333, 1023]) {
            for (let ch = 0; ch < 3; ch++) assert.equal(images[i * 3072 + px * 3 + ch], png.data[px * 4 + ch]);
          }
        }
      }
    }
    const first = await filesMd5(path.join(p.dir, 'data/prepared'));
    const again = await runStageProgram('prepare', p.dir);
    assert.equal(again.exitCode, 0, again.stderr);
    assert.deepEqual(await filesMd5(path.join(p.dir, 'data/prepared')), first);
    assert.deepEqual((await fs.readdir(path.join(p.dir, 'data'))).sort(), ['partitions', 'prepared', 'raw']);
  });

  it('prepare follows split_seed and data, not the training seed: v1+v2 takes both partitions', async () => {
    const p = await variant({ data: 'v2+v1', splitSeed: 43 });
    const r = await runStageProgram('prepare', p.dir);
    assert.equal(r.exitCode, 0, r.stderr);
    // 24 per class: 19.2, 2.4, 2.4 -> 19, 3, 2
    assert.deepEqual(JSON.parse(await p.read('data/prepared/meta.json')).splits, { train: 190, val: 30, test: 20 });
    const all = (await Promise.all(['train', 'val', 'test'].map((s) => p.read(`data/prepared/${s}.ids.tsv`)))).join('');
    const parts = new Set(
      all
        .trim()
        .split('\n')
        .map((l) => l.split('\t')[1]!.split('/')[2]),
    );
    assert.deepEqual([...parts].sort(), ['v1', 'v2']);

    const q = await variant({ splitSeed: 43 });
    const s = await variant({ splitSeed: 44 });
    const t = await variant({ splitSeed: 43, seed: 7 });
    await Promise.all([q, s, t].map(async (x) => assert.equal((await runStageProgram('prepare', x.dir)).exitCode, 0)));
    assert.notEqual(await q.read('data/prepared/train.ids.tsv'), await s.read('data/prepared/train.ids.tsv'));
    // Another training seed, the same test images: experiments are scored on the same set.
    assert.equal(await q.read('data/prepared/test.ids.tsv'), await t.read('data/prepared/test.ids.tsv'));
  });

  // Every other bad value's exact text is checked in test/unit/data-plan.test.ts; these check the real stage.
  const badData: [string, string][] = [
    [
      'v4',
      "params.yaml:2:7: data 'v4' names unknown partition 'v4': it must be a '+'-joined set of distinct partitions " +
        'from v1, v2, v3',
    ],
    [
      'v1++v2',
      "params.yaml:2:7: data 'v1++v2' has an empty name: it must be a '+'-joined set of distinct partitions from v1, " +
        'v2, v3',
    ],
  ];
  for (const [data, message] of badData) {
    it(`prepare rejects data ${data} naming the param and the valid partitions`, async () => {
      const p = await variant({ data });
      const r = await runStageProgram('prepare', p.dir);
      assert.equal(r.exitCode, 1);
      assert.equal(
        lastLine(r.stderr),
        `prepare: ${message} Set data to e.g. v1 or v1+v2 in params.yaml (or lockstep exp run --data).`,
      );
      assert.equal(await p.exists('data/prepared'), false);
    });
  }

  const badSplits: [string, string][] = [
    ['{train: 0.8, val: 0.1, test: 0.2}', 'prepare.split fractions sum to 1.1, not 1'],
    ['[0.8, 0.1, 0.1]', 'prepare.split must be a mapping {train, val, test}'],
  ];
  for (const [split, message] of badSplits) {
    it(`prepare rejects split ${split}`, async () => {
      const p = await variant({ split });
      const r = await runStageProgram('prepare', p.dir);
      assert.equal(r.exitCode, 1);
      assert.match(
        lastLine(r.stderr),
        new RegExp(`^prepare: params\\.yaml:12:10: ${message.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`),
      );
    });
  }
});
