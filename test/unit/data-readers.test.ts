import { test } from 'node:test';
import assert from 'node:assert/strict';
import { safeMemberName } from '../../stages/lib/data/tar.js';
import { decodeBatch, CIFAR_BATCHES } from '../../stages/lib/data/cifar.js';
import { parseIdxImages, parseIdxLabels } from '../../stages/lib/data/idx.js';
import { parseCsv, toCsv } from '../../stages/lib/data/csv.js';
import { ParamsFile } from '../../stages/lib/common/params.js';
import { localPath } from '../../stages/lib/data/sources.js';
import { classDir } from '../../stages/lib/data/layout.js';
import { encodePng, decodePng } from '../../stages/lib/data/png.js';
import { StageError } from '../../stages/lib/common/stage.js';
import { batchBytes, idxImages, idxLabels, recordBytes } from '../helpers/data-fixtures.js';

const dataError = (text: RegExp) => (e: unknown) => e instanceof StageError && text.test(e.message);

test('safeMemberName strips ./ and rejects absolute and escaping paths', () => {
  assert.equal(
    safeMemberName('a.tgz', './cifar-10-batches-bin/data_batch_1.bin'),
    'cifar-10-batches-bin/data_batch_1.bin',
  );
  assert.equal(safeMemberName('a.tgz', 'cifar-10-batches-bin/'), 'cifar-10-batches-bin');
  assert.throws(
    () => safeMemberName('a.tgz', '../etc/passwd'),
    dataError(/^a\.tgz: member '\.\.\/etc\/passwd' escapes the archive root/),
  );
  assert.throws(() => safeMemberName('a.tgz', 'x/../../y'), dataError(/escapes the archive root/));
  assert.throws(() => safeMemberName('a.tgz', '/etc/passwd'), dataError(/has an absolute path/));
  assert.throws(() => safeMemberName('a.tgz', 'C:/x'), dataError(/has an absolute path/));
});

test('decodeBatch turns planar records into HWC pixels with stable ids', () => {
  const batch = CIFAR_BATCHES[1]!; // data_batch_2: ids continue after batch 1
  const images = decodeBatch('t.tgz', batch, batchBytes(1, 4), 4);
  assert.equal(images.length, 4);
  assert.deepEqual(
    images.map((i) => i.id),
    ['train-00004', 'train-00005', 'train-00006', 'train-00007'],
  );
  assert.deepEqual(
    images.map((i) => i.label),
    [1, 2, 3, 4],
  );
  const rec = recordBytes(1, 2, 3);
  const px = images[2]!.pixels;
  for (const i of [0, 1, 500, 1023]) {
    assert.equal(px[i * 3], rec[1 + i]);
    assert.equal(px[i * 3 + 1], rec[1 + 1024 + i]);
    assert.equal(px[i * 3 + 2], rec[1 + 2048 + i]);
  }
  const test = decodeBatch('t.tgz', CIFAR_BATCHES[5]!, batchBytes(5, 2), 2);
  assert.deepEqual(
    test.map((i) => i.id),
    ['test-00000', 'test-00001'],
  );
});

test('decodeBatch rejects a wrong size and a bad label', () => {
  assert.throws(
    () => decodeBatch('t.tgz', CIFAR_BATCHES[0]!, batchBytes(0, 3).subarray(1), 3),
    dataError(/^t\.tgz: data_batch_1\.bin is 9218 bytes, expected 3 x 3073 = 9219$/),
  );
  const bad = batchBytes(0, 2);
  bad[3073] = 10;
  assert.throws(
    () => decodeBatch('t.tgz', CIFAR_BATCHES[0]!, bad, 2),
    dataError(/record 1 has label 10, expected 0-9/),
  );
});

test('IDX parsers check magic numbers, dimensions and sizes', () => {
  const ok = parseIdxImages(idxImages(3), 'i');
  assert.equal(ok.count, 3);
  assert.equal(ok.pixels.length, 3 * 784);
  assert.throws(
    () => parseIdxImages(idxImages(3, 28, 28, 0x801), 'i'),
    dataError(/^i: magic number 0x801, expected 0x803/),
  );
  assert.throws(() => parseIdxImages(idxImages(3, 32, 32), 'i'), dataError(/^i: images are 32x32, expected 28x28$/));
  assert.throws(
    () => parseIdxImages(idxImages(3).subarray(0, 100), 'i'),
    dataError(/^i: 100 bytes, expected 16 \+ 3 x 28 x 28 = 2368$/),
  );
  assert.deepEqual([...parseIdxLabels(idxLabels([0, 9, 3]), 'l', 10)], [0, 9, 3]);
  assert.throws(
    () => parseIdxLabels(idxLabels([0, 1], 0x803), 'l', 10),
    dataError(/^l: magic number 0x803, expected 0x801/),
  );
  assert.throws(() => parseIdxLabels(idxLabels([0, 12]), 'l', 10), dataError(/^l: label 12 at index 1, expected 0-9$/));
});

test('CSV round-trips fields with commas, quotes and newlines', () => {
  const text = toCsv(
    ['id', 'class'],
    [
      ['a', 'T-shirt/top'],
      ['b', 'x, "y"\nz'],
    ],
  );
  assert.deepEqual(parseCsv(text, 'f.csv', ['id', 'class']), [
    { id: 'a', class: 'T-shirt/top' },
    { id: 'b', class: 'x, "y"\nz' },
  ]);
  assert.throws(
    () => parseCsv('id\na\n', 'f.csv', ['id', 'class']),
    dataError(/^f\.csv: missing column 'class' \(has id\)$/),
  );
  assert.throws(() => parseCsv('id,class\na\n', 'f.csv', ['id']), dataError(/^f\.csv:2: 1 fields, expected 2$/));
});

test('ParamsFile points errors at the line and column of the value', () => {
  const p = ParamsFile.parse('seed: 42\npartition:\n  size: many\n  seed: 7\n');
  assert.equal(p.where('partition.size'), 'params.yaml:3:9');
  assert.equal(p.int('partition.seed'), 7);
  assert.throws(
    () => p.int('partition.size'),
    dataError(/^params\.yaml:3:9: partition\.size must be an integer, got "many"$/),
  );
  assert.throws(() => p.int('seed', { max: 10 }), dataError(/^params\.yaml:1:7: seed must be at most 10, got 42$/));
  assert.throws(() => p.string('pull.url'), dataError(/^params\.yaml: missing param pull\.url$/));
  assert.equal(p.int('partition.count', {}, 3), 3);
  assert.throws(() => ParamsFile.parse('a: [1,\n'), dataError(/^params\.yaml:\d+:\d+: /));
});

test('localPath resolves file:// URLs and paths against the project root', () => {
  assert.equal(localPath('file://../shared/x.tgz', '/work/main'), '/work/shared/x.tgz');
  assert.equal(localPath('file:///abs/x.tgz', '/work/main'), '/abs/x.tgz');
  assert.equal(localPath('data/x', '/work/main'), '/work/main/data/x');
  assert.equal(localPath('https://example.com/x', '/work/main'), undefined);
  assert.throws(() => localPath('ftp://example.com/x', '/r'), dataError(/unsupported URL scheme/));
});

test('classDir keeps names that are safe and flattens the rest', () => {
  assert.equal(classDir('airplane'), 'airplane');
  assert.equal(classDir('T-shirt/top'), 'T-shirt_top');
  assert.equal(classDir('Ankle boot'), 'Ankle_boot');
});

test('PNG encode/decode keeps RGB and gray pixels exactly', () => {
  const rgb = Uint8Array.from({ length: 4 * 3 * 3 }, (_, i) => (i * 37) & 0xff);
  const back = decodePng(encodePng(rgb, 4, 3, 3), 'x.png');
  assert.equal(back.width, 4);
  for (let p = 0; p < 12; p++) for (let c = 0; c < 3; c++) assert.equal(back.rgba[p * 4 + c], rgb[p * 3 + c]);
  const gray = Uint8Array.from({ length: 6 }, (_, i) => i * 40);
  const g = decodePng(encodePng(gray, 3, 2, 1), 'g.png');
  for (let p = 0; p < 6; p++) assert.equal(g.rgba[p * 4], gray[p]);
  assert.throws(() => decodePng(Buffer.from('nope'), 'x.png'), dataError(/^x\.png: not a readable PNG/));
});
