/**
 * Progress of long hashing and caching: the hasher reports a directory's files as they are hashed
 * (counts only grow, the last is done === total), and the engine's throttle turns those reports into
 * `stage-progress` events: nothing for a short step, then at most one per interval, and always the last
 * once anything was shown.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { CachingHasher } from '../../src/hash/hasher.js';
import { StatCache } from '../../src/hash/stat-cache.js';
import type { ReproEvent } from '../../src/pipeline/events.js';
import { stageProgress } from '../../src/pipeline/progress.js';
import { plainLines } from '../../src/cli/stage-progress.js';
import { ageTree, tempDir, writeTree } from '../helpers/tmp.js';

test('hashing a directory reports growing counts of its files and bytes, ending at done === total', async () => {
  const dir = await tempDir();
  const files: Record<string, string> = {};
  for (let i = 0; i < 2500; i++) files[`out/d${i % 7}/f${i}.txt`] = 'x'.repeat(i % 50);
  await writeTree(dir, files);
  await ageTree(path.join(dir, 'out'));
  const bytes = Object.values(files).reduce((a, f) => a + f.length, 0);
  // onRead keeps the hashing on this thread, in batches: several reports, not only the last
  const hasher = new CachingHasher(new StatCache(path.join(dir, '.cache', 'stat-cache')), { onRead: () => {} });
  const seen: [number, number, number][] = [];
  await hasher.hashPath(path.join(dir, 'out'), { onProgress: (d, t, b) => seen.push([d, t, b]) });
  assert.ok(seen.length >= 3, JSON.stringify(seen));
  assert.deepEqual(seen[0], [0, 2500, 0], 'nothing was known before');
  assert.deepEqual(seen.at(-1), [2500, 2500, bytes]);
  for (let i = 1; i < seen.length; i++) {
    assert.ok(seen[i]![0] >= seen[i - 1]![0] && seen[i]![2] >= seen[i - 1]![2], JSON.stringify(seen));
    assert.equal(seen[i]![1], 2500);
  }
  // all known from the stat cache now: one report, complete
  const again: [number, number, number][] = [];
  await hasher.hashPath(path.join(dir, 'out'), { onProgress: (d, t, b) => again.push([d, t, b]) });
  assert.deepEqual(again, [[2500, 2500, bytes]]);
});

function clocked() {
  let t = 1000;
  const events: ReproEvent[] = [];
  const report = stageProgress((e) => events.push(e), 'prepare', 'data/out', {
    delayMs: 300,
    intervalMs: 100,
    now: () => t,
  });
  return { events, report, advance: (ms: number) => (t += ms) };
}

test('a step shorter than the delay shows nothing, its last report included', () => {
  const { events, report, advance } = clocked();
  report({ phase: 'hash', done: 0, total: 10, bytes: 0 });
  advance(200);
  report({ phase: 'hash', done: 10, total: 10, bytes: 100 });
  assert.deepEqual(events, []);
});

test('a long step: first event after the delay, then at most one per interval, and always its last', () => {
  const { events, report, advance } = clocked();
  report({ phase: 'cache', done: 0, total: 1000, bytes: 0 });
  for (let done = 100; done <= 1000; done += 100) {
    advance(60);
    report({ phase: 'cache', done, total: 1000, bytes: done * 3 });
  }
  const shown = events.map((e) => (e.type === 'stage-progress' ? [e.stage, e.path, e.phase, e.done] : e.type));
  // t = 60 … 600 ms after the start: due at 300 (done 500), then 100 ms later: 420 (700), 540 (900); last 1000
  assert.deepEqual(shown, [
    ['prepare', 'data/out', 'cache', 500],
    ['prepare', 'data/out', 'cache', 700],
    ['prepare', 'data/out', 'cache', 900],
    ['prepare', 'data/out', 'cache', 1000],
  ]);
});

test('each phase is throttled on its own', () => {
  const { events, report, advance } = clocked();
  report({ phase: 'hash', done: 0, total: 5, bytes: 0 });
  advance(400);
  report({ phase: 'hash', done: 5, total: 5, bytes: 50 });
  report({ phase: 'cache', done: 0, total: 5, bytes: 0 });
  advance(50);
  report({ phase: 'cache', done: 5, total: 5, bytes: 50 });
  assert.deepEqual(
    events.map((e) => (e.type === 'stage-progress' ? `${e.phase} ${e.done}/${e.total}` : e.type)),
    ['hash 5/5'],
  );
});

test('on a pipe a long step gets a plain line after 5 s, then every 10 s, and one at the end; a short one none', () => {
  let t = 0;
  const lines: string[] = [];
  const view = plainLines(
    (l) => lines.push(l),
    () => t,
  );
  const ev = (done: number, phase: 'hash' | 'cache' = 'hash') => ({
    type: 'stage-progress' as const,
    stage: 's',
    path: 'data/raw',
    phase,
    done,
    total: 100,
    bytes: done * 1e6,
  });
  view.onProgress(ev(1));
  t = 4_000;
  view.onProgress(ev(10));
  assert.deepEqual(lines, [], 'nothing in the first 5 s');
  t = 5_000;
  view.onProgress(ev(20));
  t = 9_000;
  view.onProgress(ev(30));
  t = 15_000;
  view.onProgress(ev(50));
  t = 16_000;
  view.onProgress(ev(100));
  assert.deepEqual(lines, [
    'hashing data/raw (s): 20/100 files, 20 MB, 5 s',
    'hashing data/raw (s): 50/100 files, 50 MB, 15 s',
    'hashing data/raw (s): 100 files, 100 MB, done in 16 s',
  ]);
  lines.length = 0;
  view.onProgress(ev(1, 'cache'));
  t = 17_000;
  view.onProgress(ev(100, 'cache'));
  assert.deepEqual(lines, [], 'a step that ends within 5 s prints nothing');
});
