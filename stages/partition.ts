/**
 * Stage `partition`: cuts data/raw into disjoint random partitions v1, v2, v3 of `size` images each,
 * stratified by class (equal share per class as far as the counts allow), drawn from all of data/raw
 * (the original train and test splits together).
 *
 * params.yaml:
 *   partition:
 *     size: 20000   # images per partition; at most sum over classes of floor(class count / count)
 *     seed: 7       # seeds the mulberry32 shuffle; the same seed and data give the same partitions
 *     count: 3      # optional; number of partitions (v1..vN)
 *
 * Output data/partitions/: v1/<class>/<id>.png (byte-identical copies of the raw PNGs, so the
 * content-addressed cache stores each image once), v1.csv (id,class,path; sorted by id), ... and
 * meta.json (the raw description plus "partitions" and "size"). Written to a temp dir, then renamed.
 */
import { copyFileSync, constants, mkdirSync, promises as fs } from 'node:fs';
import path from 'node:path';
import { parseCsv, toCsv } from './lib/data/csv.js';
import { StageError, runStage } from './lib/common/stage.js';
import { writeDirAtomically } from './lib/common/atomic.js';
import { PARTITIONS_DIR, RAW_DIR, classDir, readMeta } from './lib/data/layout.js';
import { ParamsFile } from './lib/common/params.js';
import { partitionName, planPartitions } from './lib/data/partition-plan.js';
import { progress } from './lib/common/progress.js';

export const PARTITION_COLUMNS = ['id', 'class', 'path'] as const;

async function main(): Promise<void> {
  const started = Date.now();
  const params = await ParamsFile.load();
  const size = params.int('partition.size', { min: 1 });
  const seed = params.int('partition.seed', { min: 0, max: 2 ** 32 - 1 });
  const parts = params.int('partition.count', { min: 1, max: 100 }, 3);

  const meta = await readMeta(`${RAW_DIR}/meta.json`);
  const indexFile = `${RAW_DIR}/index.csv`;
  const text = await fs.readFile(indexFile, 'utf8').catch(() => {
    throw new StageError(`missing ${indexFile}`, 'Run the pull stage first (lockstep repro pull).');
  });
  const rows = parseCsv(text, indexFile, ['id', 'class', 'label', 'path']);
  const byId = new Map<string, { id: string; label: number; path: string }>();
  for (const r of rows) {
    const label = Number(r.label);
    if (!Number.isInteger(label) || meta.classes[label] !== r.class)
      throw new StageError(
        `${indexFile}: image ${r.id} has label ${r.label} / class ${r.class}, which meta.json does not agree with`,
        'Re-run the pull stage.',
      );
    byId.set(r.id!, { id: r.id!, label, path: r.path! });
  }

  let plan: string[][];
  try {
    plan = planPartitions([...byId.values()], meta.classes, size, parts, seed);
  } catch (e) {
    // Point the size error at the line in params.yaml.
    if (e instanceof StageError && e.message.startsWith('partition.size'))
      throw new StageError(`${params.where('partition.size')}: ${e.message}`, e.hint);
    throw e;
  }

  const total = plan.reduce((n, ids) => n + ids.length, 0);
  const bar = progress(`copying ${total} images into ${parts} partitions`, 'images', total);
  await writeDirAtomically(PARTITIONS_DIR, async (tmp) => {
    let done = 0;
    for (const [k, ids] of plan.entries()) {
      const name = partitionName(k);
      for (const c of meta.classes) mkdirSync(path.join(tmp, name, classDir(c)), { recursive: true });
      const manifest: string[][] = [];
      for (const id of ids) {
        const img = byId.get(id)!;
        const cls = meta.classes[img.label]!;
        const rel = `${name}/${classDir(cls)}/${id}.png`;
        // A copy, not a link: the cache may make its objects read-only, and equal bytes dedupe there anyway.
        copyFileSync(img.path, path.join(tmp, rel), constants.COPYFILE_FICLONE);
        manifest.push([id, cls, `${PARTITIONS_DIR}/${rel}`]);
        if (++done % 1000 === 0) bar.update(done);
      }
      await fs.writeFile(path.join(tmp, `${name}.csv`), toCsv(PARTITION_COLUMNS, manifest));
    }
    const partitions = plan.map((_, k) => partitionName(k));
    await fs.writeFile(path.join(tmp, 'meta.json'), `${JSON.stringify({ ...meta, partitions, size }, null, 2)}\n`);
  });
  bar.stop(`${total} images`);
  process.stdout.write(
    `partition: ${parts} partitions of ${size} images (seed ${seed}) -> ${PARTITIONS_DIR} in ` +
      `${((Date.now() - started) / 1000).toFixed(1)} s\n`,
  );
}

runStage('partition', main);
