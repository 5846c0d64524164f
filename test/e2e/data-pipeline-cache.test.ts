import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import { REPO_ROOT, tempProject } from '../helpers/project.js';
import { cifarMembers, md5, paramsYaml, tarGz } from '../helpers/data-fixtures.js';

const R = 60; // 360 images; partitions of 120 use every one of them

const PIPELINE = `stages:
  pull:
    cmd: node --import tsx stages/pull.ts
    deps: [stages/pull.ts, stages/lib/common, stages/lib/data, src/cifar.tar.gz]
    params: [pull]
    outs: [data/raw]
  partition:
    cmd: node --import tsx stages/partition.ts
    deps: [stages/partition.ts, stages/lib/common, stages/lib/data, data/raw]
    params: [partition]
    outs: [data/partitions]
  prepare:
    cmd: node --import tsx stages/prepare.ts
    deps: [stages/prepare.ts, stages/lib/common, stages/lib/data, data/partitions]
    params: [seed, data, prepare]
    outs: [data/prepared]
`;

const duKiB = async (dir: string): Promise<number> => Number((await execa('du', ['-sk', dir])).stdout.split('\t')[0]);

async function cacheFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await fs.readdir(dir, { withFileTypes: true, recursive: true })) if (e.isFile()) out.push(e.name);
  return out;
}

test('the real pipeline under lockstep repro: partitions cost (almost) no cache space', async () => {
  const archive = await tarGz(cifarMembers(R));
  const stageFiles: Record<string, Uint8Array> = {};
  for (const rel of ['stages/pull.ts', 'stages/partition.ts', 'stages/prepare.ts'])
    stageFiles[rel] = await fs.readFile(path.join(REPO_ROOT, rel));
  for (const lib of ['stages/lib/common', 'stages/lib/data']) {
    for (const f of await fs.readdir(path.join(REPO_ROOT, lib)))
      if (f.endsWith('.ts')) stageFiles[`${lib}/${f}`] = await fs.readFile(path.join(REPO_ROOT, lib, f));
  }
  const p = await tempProject({
    ...stageFiles,
    'pipeline.yaml': PIPELINE,
    'params.yaml': paramsYaml({
      pull:
        `pull:\n  dataset: cifar10\n  url: file://src/cifar.tar.gz\n  md5: ${md5(archive)}\n  records_per_batch: ` +
        `${R}`,
      partition: 'partition:\n  size: 120\n  seed: 7',
    }),
    'src/cifar.tar.gz': archive,
    '.gitignore': '/node_modules\n/.cache/\n',
    // As in lockstep itself: the stage sources are ES modules.
    'package.json': JSON.stringify({ type: 'module', private: true }),
  });
  // The stage programs resolve tsx, yaml, pngjs... from the project, as in a real checkout.
  await fs.symlink(path.join(REPO_ROOT, 'node_modules'), path.join(p.dir, 'node_modules'));
  const cache = path.join(p.dir, '.cache');

  const pull = await p.run(['repro', 'pull']);
  assert.equal(pull.exitCode, 0, pull.all);
  const afterPull = await duKiB(cache);
  const objectsAfterPull = (await cacheFiles(cache)).length;

  const part = await p.run(['repro', 'partition']);
  assert.equal(part.exitCode, 0, part.all);
  const partitionsKiB = await duKiB(path.join(p.dir, 'data/partitions'));
  const growth = (await duKiB(cache)) - afterPull;
  // 360 partition PNGs are byte-identical to raw ones, so the cache gains only the three manifests,
  // meta.json and the directory listing: far less than the partitions take in the workspace (copies would cost
  // at least 90% of it). du counts the new prefix folders' blocks too: 164 KiB in one CI run against 1,604.
  assert.ok(partitionsKiB > 360 * 4 * 0.9, `partitions take ${partitionsKiB} KiB`);
  assert.ok(growth < partitionsKiB / 5, `cache grew ${growth} KiB for ${partitionsKiB} KiB of partitions`);
  const newObjects = (await cacheFiles(cache)).length - objectsAfterPull;
  assert.ok(newObjects <= 8, `${newObjects} new cache files`);

  const rest = await p.run(['repro']);
  assert.equal(rest.exitCode, 0, rest.all);
  assert.deepEqual(JSON.parse(await p.read('data/prepared/meta.json')).splits, { train: 100, val: 10, test: 10 });
  const again = await p.run(['repro']);
  assert.equal(again.exitCode, 0, again.all);
  assert.match(again.stdout, /Stage 'prepare' didn't change, skipping/);

  // Shared stage code is a declared dependency: editing it makes every stage that runs it stale.
  await fs.appendFile(path.join(p.dir, 'stages/lib/common/stage.ts'), '// edited\n');
  const status = await p.run(['status', '--json']);
  assert.equal(status.exitCode, 0, status.all);
  assert.deepEqual(Object.keys(JSON.parse(status.stdout)).sort(), ['partition', 'prepare', 'pull']);
});
