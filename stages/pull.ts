/**
 * Stage `pull`: fetches the raw data set and writes data/raw/ (one PNG per image) for the later stages.
 *
 * params.yaml:
 *   pull:
 *     dataset: cifar10          # cifar10 | fashion-mnist | folder
 *     # cifar10: the binary archive (or a folder of extracted batches). Each source has its own md5;
 *     # url is tried first, then mirrors in order, moving on only when a source cannot be reached
 *     # (a checksum mismatch stops the pull). http(s) downloads resume from data/.pull/<name>.part.
 *     # file:// URLs and plain paths are relative to the project root (file://../shared/...).
 *     url: https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz
 *     md5: c32a1d4ab5d03f1284b67883e8d87530   # or `changes`: a source whose content changes over time
 *     mirrors:
 *       - url: file://../shared/datasets/cifar-10-binary.tar.gz
 *         md5: d29201a22872bdb1ba1b3a96d86cf19f
 *     records_per_batch: 10000  # optional; CIFAR-10 has 10000 (tests build smaller archives)
 *     timeout_s: 30             # optional; per-request connect/idle timeout for http(s)
 *     # fashion-mnist: folder of {train,t10k}-{images-idx3,labels-idx1}-ubyte.gz; folder: <path>/<class>/*.png|jpg
 *     # or <path>/{train,test}/<class>/* (ImageFolder layout; the original split is kept)
 *     path: /usr/share/datasets/fashion-mnist
 *
 * Output data/raw/: <class>/<id>.png, index.csv (id,class,label,split,path; split = the original
 * train|test split; rows sorted by id) and meta.json ({dataset,height,width,channels,classes}).
 * Ids are train-NNNNN / test-NNNNN by position in the original split (folder datasets: <class>-<file stem>,
 * or <split folder>-<class>-<file stem> in the train/test layout).
 * data/raw is written to a temp dir and renamed into place, so a failed pull leaves nothing behind.
 */
import path from 'node:path';
import {
  readCifarArchive,
  readCifarFolder,
  resolveCifarFolder,
  cifarMeta,
  CIFAR_RECORDS_PER_BATCH,
} from './lib/data/cifar.js';
import { StageError, runStage } from './lib/common/stage.js';
import { readImageFolder } from './lib/data/folder.js';
import { fashionMeta, readFashionMnist } from './lib/data/idx.js';
import { PULL_DIR, RAW_DIR } from './lib/data/layout.js';
import { ParamsFile } from './lib/common/params.js';
import { progress } from './lib/common/progress.js';
import { RawWriter } from './lib/data/raw-writer.js';
import { locate, type SourceSpec } from './lib/data/sources.js';

const DATASETS = ['cifar10', 'fashion-mnist', 'folder'] as const;

function sourcesFrom(params: ParamsFile): SourceSpec[] {
  const md5 = (p: string): string | undefined => {
    if (!params.has(p)) return undefined;
    const v = params.string(p).toLowerCase();
    if (v === 'changes') return v;
    if (!/^[0-9a-f]{32}$/.test(v)) params.fail(p, `must be 32 hex digits, got ${JSON.stringify(v)}`);
    return v;
  };
  const spec = (url: string, sum: string | undefined, param: string): SourceSpec =>
    sum === 'changes' ? { url, param, changing: true } : { url, md5: sum, param };
  const list: SourceSpec[] = [spec(params.string('pull.url'), md5('pull.md5'), 'pull.url')];
  const mirrors = params.value('pull.mirrors');
  if (mirrors !== undefined && !Array.isArray(mirrors)) params.fail('pull.mirrors', 'must be a list of {url, md5}');
  for (let i = 0; i < (mirrors?.length ?? 0); i++) {
    list.push(spec(params.string(`pull.mirrors.${i}.url`), md5(`pull.mirrors.${i}.md5`), `pull.mirrors[${i}]`));
  }
  return list;
}

async function pullCifar(params: ParamsFile, writer: RawWriter): Promise<string> {
  const recordsPerBatch = params.int(
    'pull.records_per_batch',
    { min: 1, max: CIFAR_RECORDS_PER_BATCH },
    CIFAR_RECORDS_PER_BATCH,
  );
  const timeoutS = params.int('pull.timeout_s', { min: 1 }, 30);
  const sources = sourcesFrom(params);
  let bar: ReturnType<typeof progress> | undefined;
  const found = await locate(sources, {
    root: process.cwd(),
    pullDir: PULL_DIR,
    timeoutMs: timeoutS * 1000,
    onSkip: (url, why) => process.stderr.write(`pull: skipping ${url} (${why})\n`),
    onProgress: (p) => {
      bar ??= progress(
        `downloading ${p.url}${p.resumedFrom ? ` (resuming at ${p.resumedFrom} bytes)` : ''}`,
        'bytes',
        p.total,
      );
      bar.update(p.received, p.total);
    },
  });
  bar?.stop('done');
  writer.setMeta(cifarMeta());
  const total = 6 * recordsPerBatch;
  const images = progress(`writing ${total} PNGs to ${RAW_DIR}`, 'images', total);
  const onBatch = (batch: { id: string; label: number; split: 'train' | 'test'; pixels: Uint8Array }[]) => {
    for (const img of batch) writer.addPixels(img.id, img.label, img.split, img.pixels);
    images.update(writer.count);
  };
  if (found.kind === 'archive') {
    await readCifarArchive(found.file, recordsPerBatch, onBatch);
  } else {
    const dir = await resolveCifarFolder(found.dir);
    if (!dir)
      throw new StageError(
        `${found.url}: no cifar-10-batches-bin/data_batch_1.bin in ${found.dir}`,
        'Point the source at the extracted CIFAR-10 binary folder or the .tar.gz.',
      );
    await readCifarFolder(dir, recordsPerBatch, onBatch);
  }
  images.stop(`${writer.count} images`);
  return found.url;
}

async function main(): Promise<void> {
  const started = Date.now();
  const params = await ParamsFile.load();
  const dataset = params.oneOf('pull.dataset', DATASETS);
  const writer = await RawWriter.open(undefined);
  try {
    let source: string;
    if (dataset === 'cifar10') {
      source = await pullCifar(params, writer);
    } else if (dataset === 'fashion-mnist') {
      source = path.resolve(params.string('pull.path'));
      writer.setMeta(fashionMeta());
      await readFashionMnist(source, (imgs) => {
        for (const img of imgs) writer.addPixels(img.id, img.label, img.split, img.pixels);
      });
    } else {
      source = path.resolve(params.string('pull.path'));
      await readImageFolder(source, (img, meta) => {
        writer.setMeta(meta);
        writer.addPng(img.id, img.label, img.split, img.png);
      });
    }
    const rows = await writer.finish();
    const perClass = writer.meta.classes.map((c) => rows.filter((r) => r.class === c).length);
    process.stdout.write(
      `pull: ${rows.length} ${dataset} images (${perClass.join('/')} per class) from ${source} -> ${RAW_DIR} in ` +
        `${((Date.now() - started) / 1000).toFixed(1)} s\n`,
    );
  } catch (e) {
    await writer.abort();
    throw e;
  }
}

runStage('pull', main);
