/**
 * Stage `prepare`: turns the partitions named by `data` into train/val/test tensors for training.
 *
 * params.yaml:
 *   data: v1        # top level (lockstep exp run --data): '+'-joined distinct partitions, e.g. v1+v2
 *   prepare:
 *     split: {train: 0.8, val: 0.1, test: 0.1}   # positive fractions summing to 1 (within 1e-9)
 *     split_seed: 42  # seeds the stratified split; fixed (42 when absent), NOT the training `seed`, so
 *                     # every experiment on the same data choice is scored on the same test images
 *
 * Output data/prepared/ (read by stages/lib/tf):
 *   meta.json            {"height":32,"width":32,"channels":3,"classes":[...],"splits":{"train":N,"val":N,"test":N}}
 *   <split>.images.u8    N*H*W*C uint8, HWC row-major
 *   <split>.labels.u8    N uint8 (index into classes)
 *   <split>.ids.tsv      N lines `<image id>\t<repo-relative path of the partition PNG>`
 * Same inputs and params give byte-identical files. Written to a temp dir, then renamed into place.
 */
import { readFileSync, promises as fs } from 'node:fs';
import path from 'node:path';
import { parseCsv } from './lib/data/csv.js';
import { StageError, runStage } from './lib/common/stage.js';
import { writeDirAtomically } from './lib/common/atomic.js';
import { PARTITIONS_DIR, PREPARED_DIR, readMeta, type DatasetMeta } from './lib/data/layout.js';
import { ParamsFile } from './lib/common/params.js';
import { decodePng, rgbaInto } from './lib/data/png.js';
import {
  SPLITS,
  parseDataSpec,
  planSplits,
  splitProblem,
  type PreparedItem,
  type SplitFractions,
} from './lib/data/prepare-plan.js';
import { progress } from './lib/common/progress.js';

function readFractions(params: ParamsFile): SplitFractions {
  const split = params.value('prepare.split');
  if (split === undefined)
    params.fail('prepare.split', 'is missing', 'Add prepare.split: {train: 0.8, val: 0.1, test: 0.1} to params.yaml.');
  if (typeof split !== 'object' || split === null || Array.isArray(split))
    params.fail('prepare.split', 'must be a mapping {train, val, test}');
  const problem = splitProblem(split as Record<string, unknown>);
  if (problem)
    params.fail(
      'prepare.split',
      problem,
      'Use positive fractions that sum to 1, e.g. {train: 0.8, val: 0.1, test: 0.1}.',
    );
  return split as SplitFractions;
}

async function readPartitions(names: readonly string[], meta: DatasetMeta): Promise<PreparedItem[]> {
  const items: PreparedItem[] = [];
  const seen = new Set<string>();
  for (const name of names) {
    const file = `${PARTITIONS_DIR}/${name}.csv`;
    const text = await fs.readFile(file, 'utf8').catch(() => {
      throw new StageError(`missing ${file}`, 'Run the partition stage first (lockstep repro partition).');
    });
    for (const r of parseCsv(text, file, ['id', 'class', 'path'])) {
      const label = meta.classes.indexOf(r.class!);
      if (label < 0)
        throw new StageError(
          `${file}: image ${r.id} has class '${r.class}', not one of ${meta.classes.join(', ')}`,
          'Re-run the partition stage.',
        );
      if (seen.has(r.id!))
        throw new StageError(
          `${file}: image ${r.id} is in more than one of ${names.join(', ')}`,
          'Re-run the partition stage.',
        );
      seen.add(r.id!);
      items.push({ id: r.id!, label, path: r.path! });
    }
  }
  return items;
}

/** The split seed when params.yaml names none: the seed the project's splits always had. */
const DEFAULT_SPLIT_SEED = 42;

async function main(): Promise<void> {
  const started = Date.now();
  const params = await ParamsFile.load();
  const seed =
    params.value('prepare.split_seed') === undefined
      ? DEFAULT_SPLIT_SEED
      : params.int('prepare.split_seed', { min: 0, max: 2 ** 32 - 1 });
  const dataSpec = String(params.value('data') ?? params.string('data'));
  const fractions = readFractions(params);

  const meta = await readMeta(`${PARTITIONS_DIR}/meta.json`);
  const valid =
    (JSON.parse(await fs.readFile(`${PARTITIONS_DIR}/meta.json`, 'utf8')) as { partitions?: string[] }).partitions ??
    [];
  let names: string[];
  try {
    names = parseDataSpec(dataSpec, valid);
  } catch (e) {
    if (e instanceof StageError) throw new StageError(`${params.where('data')}: ${e.message}`, e.hint);
    throw e;
  }

  const splits = planSplits(await readPartitions(names, meta), meta.classes, fractions, seed);
  const { height: H, width: W, channels: C } = meta;
  const total = SPLITS.reduce((n, k) => n + splits[k].length, 0);
  const bar = progress(`decoding ${total} images of ${names.join('+')}`, 'images', total);
  let done = 0;
  await writeDirAtomically(PREPARED_DIR, async (tmp) => {
    for (const k of SPLITS) {
      const items = splits[k];
      const images = Buffer.alloc(items.length * H * W * C);
      const labels = Buffer.alloc(items.length);
      items.forEach((it, i) => {
        const png = decodePng(readFileSync(it.path), it.path);
        if (png.width !== W || png.height !== H)
          throw new StageError(
            `${it.path} is ${png.width}x${png.height}, expected ${W}x${H}`,
            'Re-run the pull stage.',
          );
        rgbaInto(png.rgba, C, images, i * H * W * C);
        labels[i] = it.label;
        if (++done % 1000 === 0) bar.update(done);
      });
      await fs.writeFile(path.join(tmp, `${k}.images.u8`), images);
      await fs.writeFile(path.join(tmp, `${k}.labels.u8`), labels);
      await fs.writeFile(path.join(tmp, `${k}.ids.tsv`), items.map((it) => `${it.id}\t${it.path}\n`).join(''));
    }
    const counts = Object.fromEntries(SPLITS.map((k) => [k, splits[k].length]));
    await fs.writeFile(
      path.join(tmp, 'meta.json'),
      `${JSON.stringify({ height: H, width: W, channels: C, classes: meta.classes, splits: counts })}\n`,
    );
  });
  bar.stop(`${total} images`);
  const counts = SPLITS.map((k) => `${k} ${splits[k].length}`).join(', ');
  process.stdout.write(
    `prepare: data ${names.join('+')} (split seed ${seed}): ${counts} -> ${PREPARED_DIR} in ` +
      `${((Date.now() - started) / 1000).toFixed(1)} s\n`,
  );
}

runStage('prepare', main);
