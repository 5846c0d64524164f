import { describe, it as test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { PNG } from 'pngjs';
import jpeg from 'jpeg-js';
import { runStageProgram } from '../helpers/stage.js';
import { tempProject } from '../helpers/project.js';
import {
  CLASSES,
  batchBytes,
  cifarMembers,
  idxImages,
  idxLabels,
  md5,
  paramsYaml,
  tarGz,
  type ArchiveMember,
} from '../helpers/data-fixtures.js';
import { gzipSync } from 'node:zlib';
import { readCifarArchive } from '../../stages/lib/data/cifar.js';
import { StageError } from '../../stages/lib/common/stage.js';
import { tempDir } from '../helpers/tmp.js';

const R = 20; // records per batch: 120 images, 12 per class

const cifarParams = (url: string, sum: string, extra = '') =>
  paramsYaml({ pull: `pull:\n  dataset: cifar10\n  url: ${url}\n  md5: ${sum}\n  records_per_batch: ${R}\n${extra}` });

/** The error line a failing stage prints last (progress lines may come before it; a stack trace may not). */
function oneLine(stderr: string): string {
  const lines = stderr.trim().split('\n');
  assert.ok(!lines.some((l) => /^\s+at /.test(l)), `stack trace on stderr:\n${stderr}`);
  return lines.at(-1)!;
}

async function leftovers(dir: string): Promise<string[]> {
  const names = await fs.readdir(path.join(dir, 'data')).catch(() => [] as string[]);
  return names.filter((n) => n !== '.pull');
}

// Each test builds its own project, so they run side by side: most of the time is process start-up.
describe('pull stage', { concurrency: 4 }, () => {
  test('pull reads a CIFAR-10 .tar.gz into one PNG per image with index.csv and meta.json', async () => {
    const archive = await tarGz(cifarMembers(R));
    const p = await tempProject(
      { 'src/cifar.tar.gz': archive, 'params.yaml': cifarParams('file://src/cifar.tar.gz', md5(archive)) },
      { git: false },
    );
    const r = await runStageProgram('pull', p.dir);
    assert.equal(r.exitCode, 0, r.stderr);
    assert.match(
      r.stdout,
      new RegExp(
        /^pull: 120 cifar10 images \(12\/12\/12\/12\/12\/12\/12\/12\/12\/12 per class\) from /.source +
          /file:\/\/src\/cifar\.tar\.gz -> data\/raw in /.source,
      ),
    );
    const meta = JSON.parse(await p.read('data/raw/meta.json'));
    assert.deepEqual(meta, { dataset: 'cifar10', height: 32, width: 32, channels: 3, classes: CLASSES });
    const lines = (await p.read('data/raw/index.csv')).trim().split('\n');
    assert.equal(lines[0], 'id,class,label,split,path');
    assert.equal(lines.length, 121);
    // test_batch is batch 5: record 0 has label (0 + 5) % 10 = 5 (dog); ids sort test- before train-.
    assert.equal(lines[1], 'test-00000,dog,5,test,data/raw/dog/test-00000.png');
    // data_batch_2 record 1: ids continue after batch 1 (20 records), label (1 + 1) % 10 = 2 (bird).
    const row = lines.find((l) => l.startsWith('train-00021,'))!;
    assert.equal(row, 'train-00021,bird,2,train,data/raw/bird/train-00021.png');
    const file = row.split(',')[4]!;
    const png = PNG.sync.read(await fs.readFile(path.join(p.dir, file)));
    const rec = batchBytes(1, R).subarray(1 * 3073, 2 * 3073);
    for (const i of [0, 77, 1023]) {
      assert.deepEqual(
        [png.data[i * 4], png.data[i * 4 + 1], png.data[i * 4 + 2]],
        [rec[1 + i], rec[1025 + i], rec[2049 + i]],
      );
    }
    assert.deepEqual(await leftovers(p.dir), ['raw']);
  });

  test('pull reads a folder of extracted batches (cifar-10-batches-bin/)', async () => {
    const files: Record<string, Uint8Array> = {};
    for (const m of cifarMembers(R)) if (m.data) files[`extracted/${m.name}`] = m.data;
    const p = await tempProject(
      {
        ...files,
        'params.yaml': paramsYaml({
          pull: `pull:\n  dataset: cifar10\n  url: file://extracted\n  records_per_batch: ${R}`,
        }),
      },
      { git: false },
    );
    const r = await runStageProgram('pull', p.dir);
    assert.equal(r.exitCode, 0, r.stderr);
    assert.equal((await p.read('data/raw/index.csv')).trim().split('\n').length, 121);
  });

  test(`pull moves on to the mirrors when a source cannot be reached, and names every source when none \
can`, async () => {
    const archive = await tarGz(cifarMembers(R));
    const sum = md5(archive);
    const mirrors =
      `  mirrors:\n    - url: file://missing/cifar.tar.gz\n      md5: ${sum}\n    - url: ` +
      `file://src/cifar.tar.gz\n      md5: ${sum}\n`;
    const p = await tempProject(
      { 'src/cifar.tar.gz': archive, 'params.yaml': cifarParams('http://127.0.0.1:1/cifar.tar.gz', sum, mirrors) },
      { git: false },
    );
    const r = await runStageProgram('pull', p.dir);
    assert.equal(r.exitCode, 0, r.stderr);
    assert.match(
      r.stderr,
      new RegExp(
        /pull: skipping http:\/\/127\.0\.0\.1:1\/cifar\.tar\.gz \(http:\/\/127\.0\.0\.1:1\/cifar\.tar\.gz: /.source +
          /ECONNREFUSED\)/.source,
      ),
    );
    assert.match(
      r.stderr,
      /pull: skipping file:\/\/missing\/cifar\.tar\.gz \(file:\/\/missing\/cifar\.tar\.gz: ENOENT\)/,
    );
    assert.match(r.stdout, /from file:\/\/src\/cifar\.tar\.gz/);

    const none = `  mirrors:\n    - url: file://missing/cifar.tar.gz\n      md5: ${sum}\n`;
    await p.write('params.yaml', cifarParams('http://127.0.0.1:1/cifar.tar.gz', sum, none));
    await fs.rm(path.join(p.dir, 'data'), { recursive: true });
    const bad = await runStageProgram('pull', p.dir);
    assert.equal(bad.exitCode, 1);
    const last = bad.stderr.trim().split('\n').at(-1)!;
    assert.equal(
      last,
      'pull: no pull source could be reached; tried http://127.0.0.1:1/cifar.tar.gz: ECONNREFUSED; ' +
        'file://missing/cifar.tar.gz: ENOENT ' +
        'Check pull.url and pull.mirrors in params.yaml (this machine may be offline: add a file:// mirror).',
    );
    assert.deepEqual(await leftovers(p.dir), []);
  });

  test('pull rejects a checksum mismatch naming the file and both hashes', async () => {
    const archive = await tarGz(cifarMembers(R));
    const wrong = '0123456789abcdef0123456789abcdef';
    const p = await tempProject(
      { 'src/cifar.tar.gz': archive, 'params.yaml': cifarParams('file://src/cifar.tar.gz', wrong) },
      { git: false },
    );
    const r = await runStageProgram('pull', p.dir);
    assert.equal(r.exitCode, 1);
    assert.equal(
      oneLine(r.stderr),
      `pull: checksum mismatch for ${path.join(p.dir, 'src/cifar.tar.gz')} (from file://src/cifar.tar.gz): expected ` +
        `md5 ${wrong}, got ${md5(archive)} ` +
        'Fix the md5 in params.yaml if the source changed on purpose, else the download is corrupt.',
    );
    assert.equal(await p.exists('data/raw'), false);
  });

  /** Each bad archive must fail with one line matching `expect` and leave no data/raw or temp dir behind. */
  const badArchives: { name: string; build: () => Promise<Buffer>; expect: RegExp }[] = [
    {
      name: 'truncated archive',
      build: async () => {
        const full = await tarGz(cifarMembers(R));
        return full.subarray(0, Math.floor(full.length / 2));
      },
      expect: /^pull: \S+cifar\.tar\.gz is truncated \(unexpected end of file\) /,
    },
    {
      name: 'wrong record size',
      build: () =>
        tarGz(
          cifarMembers(R).map((m) =>
            m.name.endsWith('data_batch_3.bin') ? { ...m, data: Buffer.concat([m.data!, Buffer.alloc(20)]) } : m,
          ),
        ),
      expect: /^pull: \S+cifar\.tar\.gz: data_batch_3\.bin is 61480 bytes, expected 20 x 3073 = 61460 /,
    },
    {
      name: 'missing batch',
      build: () => tarGz(cifarMembers(R).filter((m) => !m.name.endsWith('test_batch.bin'))),
      expect: /^pull: \S+cifar\.tar\.gz: missing member cifar-10-batches-bin\/test_batch\.bin /,
    },
    {
      name: 'path-escaping member',
      build: () => tarGz([...cifarMembers(R).slice(0, 2), { name: '../../evil.sh', data: Buffer.from('echo pwned') }]),
      expect: /^pull: \S+cifar\.tar\.gz: member '\.\.\/\.\.\/evil\.sh' escapes the archive root \('\.\.'\) /,
    },
    {
      name: 'absolute member',
      build: () => tarGz([{ name: '/etc/cron.d/evil', data: Buffer.from('x') }, ...cifarMembers(R)]),
      expect: /^pull: \S+cifar\.tar\.gz: member '\/etc\/cron\.d\/evil' has an absolute path /,
    },
    {
      name: 'symlink member',
      build: () =>
        tarGz([
          ...cifarMembers(R).slice(0, 3),
          { name: 'cifar-10-batches-bin/data_batch_9.bin', type: 'symlink', linkname: '/etc/passwd' } as ArchiveMember,
        ]),
      expect: new RegExp(
        /^pull: \S+cifar\.tar\.gz: member 'cifar-10-batches-bin\/data_batch_9\.bin' is a symlink \(to /.source +
          /'\/etc\/passwd'\); links are not allowed /.source,
      ),
    },
    {
      name: 'hard link member',
      build: () =>
        tarGz([
          { name: 'cifar-10-batches-bin/test_batch.bin', type: 'link', linkname: 'x' } as ArchiveMember,
          ...cifarMembers(R),
        ]),
      expect: /is a hard link \(to 'x'\); links are not allowed /,
    },
    {
      name: 'not gzip',
      build: async () => Buffer.from('this is not an archive at all'),
      expect: /^pull: \S+cifar\.tar\.gz is not a gzip file /,
    },
    {
      name: 'member over the size limit',
      build: () => tarGz([{ name: 'cifar-10-batches-bin/huge.bin', data: Buffer.alloc(65 * 1024 * 1024) }]),
      expect: /member 'cifar-10-batches-bin\/huge\.bin' is 68157440 bytes, over the limit of 67108864 /,
    },
  ];

  // The archive checks run in-process (fast); two of them also through the real stage program, which
  // must print one line and leave no data/raw or temp dir behind.
  for (const bad of badArchives) {
    test(`the CIFAR reader rejects a bad archive: ${bad.name}`, async () => {
      const dir = await tempDir('lockstep-data-');
      const file = path.join(dir, 'cifar.tar.gz');
      await fs.writeFile(file, await bad.build());
      await assert.rejects(
        readCifarArchive(file, R, () => {}),
        (e: unknown) => {
          assert.ok(e instanceof StageError, String(e));
          assert.match(`pull: ${e.message} `, bad.expect);
          return true;
        },
      );
    });
  }

  for (const bad of badArchives.filter((b) => b.name === 'truncated archive' || b.name === 'path-escaping member')) {
    test(`pull (the stage program) rejects a bad archive: ${bad.name}`, async () => {
      const archive = await bad.build();
      const p = await tempProject(
        { 'src/cifar.tar.gz': archive, 'params.yaml': cifarParams('file://src/cifar.tar.gz', md5(archive)) },
        { git: false },
      );
      const r = await runStageProgram('pull', p.dir);
      assert.equal(r.exitCode, 1, r.stdout);
      assert.match(oneLine(r.stderr), bad.expect);
      assert.deepEqual(await leftovers(p.dir), []);
    });
  }

  test('pull resumes an http download that drops half-way with a Range request', async () => {
    const archive = await tarGz(cifarMembers(R));
    const ranges: (string | undefined)[] = [];
    const server = http.createServer((req, res) => {
      ranges.push(req.headers.range);
      const m = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
      if (!m) {
        // A plain request: announce the whole file, send half, then close the connection (a FIN, not a
        // reset, so the half already sent is delivered rather than discarded).
        res.writeHead(200, { 'content-length': archive.length });
        res.write(archive.subarray(0, Math.floor(archive.length / 2)), () => res.socket?.end());
        return;
      }
      const from = Number(m[1]);
      res.writeHead(206, {
        'content-length': archive.length - from,
        'content-range': `bytes ${from}-${archive.length - 1}/${archive.length}`,
      });
      res.end(archive.subarray(from));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/dl/cifar-10-binary.tar.gz`;
      const p = await tempProject({ 'params.yaml': cifarParams(url, md5(archive)) }, { git: false });
      const r = await runStageProgram('pull', p.dir);
      assert.equal(r.exitCode, 0, r.stderr);
      assert.equal(ranges[0], undefined);
      assert.equal(ranges.length, 2, `requests: ${JSON.stringify(ranges)}`);
      const offset = Number(/^bytes=(\d+)-$/.exec(ranges[1] ?? '')?.[1]);
      assert.equal(offset, Math.floor(archive.length / 2), `resumed at ${ranges[1]}`);
      // Verified and renamed into place; no part file left.
      assert.equal(md5(await fs.readFile(path.join(p.dir, 'data/.pull/cifar-10-binary.tar.gz'))), md5(archive));
      assert.deepEqual((await fs.readdir(path.join(p.dir, 'data/.pull'))).sort(), ['cifar-10-binary.tar.gz']);
      assert.equal((await p.read('data/raw/index.csv')).trim().split('\n').length, 121);

      // A second pull reuses the verified download instead of fetching again.
      const again = await runStageProgram('pull', p.dir);
      assert.equal(again.exitCode, 0, again.stderr);
      assert.equal(ranges.length, 2, 'no new request');
    } finally {
      server.close();
    }
  });

  test('pull deletes a download whose checksum does not match and says so', async () => {
    const archive = await tarGz(cifarMembers(R));
    const server = http.createServer((_req, res) => res.end(archive));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/cifar.tar.gz`;
      const wrong = 'ffffffffffffffffffffffffffffffff';
      const p = await tempProject({ 'params.yaml': cifarParams(url, wrong) }, { git: false });
      const r = await runStageProgram('pull', p.dir);
      assert.equal(r.exitCode, 1);
      assert.equal(
        oneLine(r.stderr),
        `pull: checksum mismatch for data/.pull/cifar.tar.gz.part (from ${url}): expected md5 ${wrong}, got ` +
          `${md5(archive)} ` +
          'Fix the md5 in params.yaml if the source changed on purpose, else the download is corrupt.',
      );
      assert.deepEqual(await fs.readdir(path.join(p.dir, 'data/.pull')), []);
    } finally {
      server.close();
    }
  });

  test('md5: changes: a URL whose content changes is downloaded afresh each time, with no pinned hash', async () => {
    const first = await tarGz(cifarMembers(R));
    const swapped = cifarMembers(R); // the same layout, two batches' records swapped: other images per id
    [swapped[2]!.data, swapped[3]!.data] = [swapped[3]!.data, swapped[2]!.data];
    const second = await tarGz(swapped);
    let serving = first;
    const server = http.createServer((_req, res) => res.end(serving));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/nightly.tar.gz`;
      const p = await tempProject({ 'params.yaml': cifarParams(url, 'changes') }, { git: false });
      const r1 = await runStageProgram('pull', p.dir);
      assert.equal(r1.exitCode, 0, r1.stderr);
      const index1 = await p.read('data/raw/index.csv');
      serving = second;
      const r2 = await runStageProgram('pull', p.dir);
      assert.equal(r2.exitCode, 0, r2.stderr);
      assert.notEqual(await p.read('data/raw/index.csv'), index1, 'the new content was read, not the old download');
      assert.deepEqual(await fs.readFile(path.join(p.dir, 'data/.pull/nightly.tar.gz')), second);
    } finally {
      server.close();
    }
  });

  test('pull reads Fashion-MNIST IDX files into 28x28 gray PNGs and checks magic numbers', async () => {
    const labels = Array.from({ length: 30 }, (_, i) => i % 10);
    const files = {
      'fm/train-images-idx3-ubyte.gz': gzipSync(idxImages(30)),
      'fm/train-labels-idx1-ubyte.gz': gzipSync(idxLabels(labels)),
      'fm/t10k-images-idx3-ubyte.gz': gzipSync(idxImages(10)),
      'fm/t10k-labels-idx1-ubyte.gz': gzipSync(idxLabels(labels.slice(0, 10))),
      'params.yaml': paramsYaml({ pull: 'pull:\n  dataset: fashion-mnist\n  path: fm' }),
    };
    const p = await tempProject(files, { git: false });
    const r = await runStageProgram('pull', p.dir);
    assert.equal(r.exitCode, 0, r.stderr);
    const meta = JSON.parse(await p.read('data/raw/meta.json'));
    assert.equal(meta.channels, 1);
    assert.equal(meta.classes[0], 'T-shirt/top');
    const index = (await p.read('data/raw/index.csv')).trim().split('\n');
    assert.equal(index.length, 41);
    assert.ok(index.includes('train-00010,T-shirt/top,0,train,data/raw/T-shirt_top/train-00010.png'));
    const png = PNG.sync.read(await fs.readFile(path.join(p.dir, 'data/raw/T-shirt_top/train-00010.png')));
    assert.equal(png.width, 28);
    const src = idxImages(30).subarray(16 + 10 * 784);
    for (const i of [0, 100, 783]) assert.equal(png.data[i * 4], src[i]);

    await p.write('fm/t10k-labels-idx1-ubyte.gz', gzipSync(idxLabels(labels.slice(0, 10), 0x803)));
    const bad = await runStageProgram('pull', p.dir);
    assert.equal(bad.exitCode, 1);
    assert.match(
      oneLine(bad.stderr),
      /^pull: \S+fm\/t10k-labels-idx1-ubyte\.gz: magic number 0x803, expected 0x801 \(unsigned bytes, 1 dimension\) /,
    );
  });

  test('pull reads an image folder, keeping PNGs and re-encoding JPEGs', async () => {
    const rgb = (w: number, h: number, v: number) => {
      const png = new PNG({ width: w, height: h });
      png.data.fill(v);
      return PNG.sync.write(png);
    };
    const jpg = jpeg.encode({ width: 8, height: 8, data: Buffer.alloc(8 * 8 * 4, 200) }, 90).data;
    const p = await tempProject(
      {
        'imgs/cats/a.png': rgb(8, 8, 10),
        'imgs/cats/b.jpg': jpg,
        'imgs/dogs/c.png': rgb(8, 8, 30),
        'imgs/dogs/notes.txt': 'ignored',
        'params.yaml': paramsYaml({ pull: 'pull:\n  dataset: folder\n  path: imgs' }),
      },
      { git: false },
    );
    const r = await runStageProgram('pull', p.dir);
    assert.equal(r.exitCode, 0, r.stderr);
    assert.deepEqual(JSON.parse(await p.read('data/raw/meta.json')), {
      dataset: 'folder',
      height: 8,
      width: 8,
      channels: 3,
      classes: ['cats', 'dogs'],
    });
    assert.deepEqual((await p.read('data/raw/index.csv')).trim().split('\n'), [
      'id,class,label,split,path',
      'cats-a,cats,0,train,data/raw/cats/cats-a.png',
      'cats-b,cats,0,train,data/raw/cats/cats-b.png',
      'dogs-c,dogs,1,train,data/raw/dogs/dogs-c.png',
    ]);
    assert.deepEqual(await fs.readFile(path.join(p.dir, 'data/raw/cats/cats-a.png')), rgb(8, 8, 10));
    const fromJpeg = PNG.sync.read(await fs.readFile(path.join(p.dir, 'data/raw/cats/cats-b.png')));
    assert.ok(Math.abs(fromJpeg.data[0]! - 200) <= 3);

    await p.write('imgs/dogs/d.png', rgb(9, 8, 0));
    const bad = await runStageProgram('pull', p.dir);
    assert.equal(bad.exitCode, 1);
    assert.match(oneLine(bad.stderr), /^pull: \S+imgs\/dogs\/d\.png is 9x8, but the first image is 8x8 /);
  });

  test(`pull reads train/test image folders (ImageFolder layout) keeping the split; other layouts show the expected \
ones`, async () => {
    const rgb = (v: number) => {
      const png = new PNG({ width: 4, height: 4 });
      png.data.fill(v);
      return PNG.sync.write(png);
    };
    const p = await tempProject(
      {
        'imgs/train/cat/1.png': rgb(10),
        'imgs/train/dog/1.png': rgb(20),
        'imgs/test/cat/1.png': rgb(30),
        'imgs/test/dog/2.png': rgb(40),
        'params.yaml': paramsYaml({ pull: 'pull:\n  dataset: folder\n  path: imgs' }),
      },
      { git: false },
    );
    const r = await runStageProgram('pull', p.dir);
    assert.equal(r.exitCode, 0, r.stderr);
    assert.deepEqual(JSON.parse(await p.read('data/raw/meta.json')).classes, ['cat', 'dog']);
    assert.deepEqual((await p.read('data/raw/index.csv')).trim().split('\n'), [
      'id,class,label,split,path',
      'test-cat-1,cat,0,test,data/raw/cat/test-cat-1.png',
      'test-dog-2,dog,1,test,data/raw/dog/test-dog-2.png',
      'train-cat-1,cat,0,train,data/raw/cat/train-cat-1.png',
      'train-dog-1,dog,1,train,data/raw/dog/train-dog-1.png',
    ]);
    assert.deepEqual(await fs.readFile(path.join(p.dir, 'data/raw/cat/test-cat-1.png')), rgb(30));

    // A class missing from one split, and a split folder beside class folders, are refused with the layouts.
    await fs.rm(path.join(p.dir, 'imgs/test/dog'), { recursive: true });
    const missing = await runStageProgram('pull', p.dir);
    assert.equal(missing.exitCode, 1);
    assert.match(
      oneLine(missing.stderr),
      /^pull: split folder \S+imgs\/train has classes cat, dog, but \S+imgs\/test has cat /,
    );
    await fs.mkdir(path.join(p.dir, 'imgs/test/dog'));
    await fs.writeFile(path.join(p.dir, 'imgs/test/dog/2.png'), rgb(40));
    await fs.mkdir(path.join(p.dir, 'imgs/horse'));
    const mixed = await runStageProgram('pull', p.dir);
    assert.equal(mixed.exitCode, 1);
    assert.match(
      oneLine(mixed.stderr),
      new RegExp(
        /^pull: image folder \S+imgs mixes split folders \(test, train\) with other folders \(horse\) pull.path /
          .source + /must hold <class>\/\*.png\|jpg, or train\/<class>\/\* and test\/<class>\/\*/.source,
      ),
    );
  });

  test('pull reports bad params with their position in params.yaml', async () => {
    const p = await tempProject({ 'params.yaml': 'seed: 1\npull:\n  dataset: imagenet\n' }, { git: false });
    const r = await runStageProgram('pull', p.dir);
    assert.equal(r.exitCode, 1);
    assert.equal(
      oneLine(r.stderr),
      'pull: params.yaml:3:12: pull.dataset must be one of cifar10, fashion-mnist, folder, got "imagenet"',
    );
    await p.write('params.yaml', 'pull:\n  dataset: cifar10\n  url: file://x\n  md5: abc\n');
    const r2 = await runStageProgram('pull', p.dir);
    assert.equal(oneLine(r2.stderr), 'pull: params.yaml:4:8: pull.md5 must be 32 hex digits, got "abc"');
  });

  test('pull killed mid-download leaves no temp output; leftovers of a dead run are swept', async () => {
    const archive = await tarGz(cifarMembers(R));
    let requested!: () => void;
    const gotRequest = new Promise<void>((resolve) => (requested = resolve));
    // Sends the headers and a few bytes, then stalls: the pull is stuck mid-download.
    const server = http.createServer((_req, res) => {
      res.writeHead(200, { 'content-length': archive.length });
      res.write(archive.subarray(0, 100));
      requested();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/cifar.tar.gz`;
      const p = await tempProject(
        { 'params.yaml': cifarParams(url, md5(archive)), 'data/.raw.tmp-999999999-dead/x.png': 'left by a crash' },
        { git: false },
      );
      const child = runStageProgram('pull', p.dir);
      await gotRequest;
      const names = await fs.readdir(path.join(p.dir, 'data'));
      assert.ok(
        names.some((n) => n.startsWith(`.raw.tmp-${child.pid}-`)),
        names.join(' '),
      );
      assert.ok(!names.includes('.raw.tmp-999999999-dead'), 'stale temp dir swept');
      child.kill('SIGTERM');
      const r = await child;
      assert.equal(r.exitCode, 143);
      assert.deepEqual(await leftovers(p.dir), []);
    } finally {
      server.closeAllConnections();
      server.close();
    }
  });
});
