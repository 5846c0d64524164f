/**
 * A segment looked up in place (a few reads per lookup) answers exactly as the segment read whole,
 * including several rows of one path, racy rows, misses and a damaged file.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { encodeSegment, pathHash, readHead, Segment, SegmentOnDisk, type Row } from '../../src/hash/stat-table.js';
import { tempDir } from '../helpers/tmp.js';

const WRITTEN_AT = 1_700_000_000_000;

test('lookups in place give the same md5 (or none) as the whole segment for every row and every miss', async () => {
  const rows: [string, Row][] = [];
  for (let i = 0; i < 500; i++) {
    const md5 = i.toString(16).padStart(32, '0');
    rows.push([`/p/d${i % 7}/f${i}.png`, { ino: 1000 + i, mtimeMs: WRITTEN_AT - 10_000 - i, size: i * 3, md5 }]);
  }
  rows.push(['/p/d0/f0.png', { ino: 5, mtimeMs: WRITTEN_AT - 50_000, size: 1, md5: 'a'.repeat(32) }]); // 2nd version
  rows.push(['/p/racy', { ino: 6, mtimeMs: WRITTEN_AT - 50, size: 2, md5: 'b'.repeat(32) }]); // racy when written
  rows.push(['/p/ünï', { ino: 7, mtimeMs: WRITTEN_AT - 50_000, size: 3, md5: 'c'.repeat(32) }]);
  const bytes = encodeSegment(rows, '[]', WRITTEN_AT);
  const file = path.join(await tempDir(), 'seg.bin');
  await fs.writeFile(file, bytes);
  const whole = Segment.from(bytes)!;
  const head = readHead(bytes, bytes.length)!;
  const inPlace = new SegmentOnDisk(file, head);

  const probes: [string, number, number, number][] = rows.map(([p, r]) => [p, r.ino, r.mtimeMs, r.size]);
  probes.push(['/p/d0/f0.png', 1000, WRITTEN_AT - 10_000, 0]); // the first version again
  probes.push(['/p/d0/f0.png', 1000, WRITTEN_AT - 10_001, 0]); // another mtime
  probes.push(['/p/d1/f1.png', 999, WRITTEN_AT - 10_001, 3]); // another inode
  probes.push(['/p/absent', 1, 2, 3]);
  let answered = 0;
  for (const [p, ino, m, s] of probes) {
    const expected = whole.match(p, pathHash(p), ino, m, s);
    assert.equal(inPlace.match(p, pathHash(p), ino, m, s), expected, p);
    if (expected !== undefined) answered++;
  }
  assert.equal(answered, 503, 'every trusted row answers; the racy one and the misses do not');

  // Truncated after it was listed: misses, never a wrong md5 nor a throw.
  await fs.writeFile(file, bytes.subarray(0, bytes.length >> 1));
  const damaged = new SegmentOnDisk(file, head);
  for (const [p, r] of rows.slice(0, 50)) {
    const md5 = damaged.match(p, pathHash(p), r.ino, r.mtimeMs, r.size);
    assert.ok(md5 === undefined || md5 === r.md5 || p === '/p/d0/f0.png');
  }
  inPlace.close();
  damaged.close();
});
