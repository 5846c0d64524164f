/**
 * src/cli/render.ts lineBatch: `repro` prints a line per stage; a burst of them is one write to stdout, and
 * stdout and stderr keep their order (stderr flushes stdout first).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setImmediate as turn } from 'node:timers/promises';
import { lineBatch } from '../../src/cli/render.js';

/** Calls to process.stdout.write and process.stderr.write while `body` runs, in order. */
async function capture(body: (writes: [string, string][]) => Promise<void> | void): Promise<[string, string][]> {
  const writes: [string, string][] = [];
  const out = process.stdout.write;
  const err = process.stderr.write;
  process.stdout.write = ((t: string) => writes.push(['out', t]) > 0) as typeof out;
  process.stderr.write = ((t: string) => writes.push(['err', t]) > 0) as typeof err;
  try {
    await body(writes);
  } finally {
    process.stdout.write = out;
    process.stderr.write = err;
  }
  return writes;
}

test('lines of one burst are one write, made at the next turn of the event loop', async () => {
  const writes = await capture(async (sofar) => {
    const lines = lineBatch();
    for (let i = 0; i < 500; i++) lines.out(`Stage 's${i}' didn't change, skipping`);
    lines.out('ends with its own newline\n');
    assert.equal(sofar.length, 0, 'nothing written before the loop turns');
    await turn();
  });
  // the test runner may report on stdout during the turn: only writes of these lines count
  const ours = writes.filter(([, t]) => t.includes("didn't change") || t.includes('its own newline'));
  assert.equal(ours.length, 1);
  const text = ours[0]![1];
  assert.equal(text.split('\n').length, 502);
  assert.ok(text.startsWith("Stage 's0' didn't change, skipping\nStage 's1'"));
  assert.ok(text.endsWith('ends with its own newline\n'));
});

test('a line on stderr, or flush(), writes what stdout holds first; 64 kB is written at once', async () => {
  const writes = await capture(async (sofar) => {
    const lines = lineBatch();
    lines.out('one');
    lines.err('a warning');
    lines.out('two');
    lines.flush();
    lines.out('x'.repeat(70_000));
    assert.equal(sofar.length, 4, 'a long text does not wait for the loop');
  });
  assert.deepEqual(
    writes.map(([to, t]) => [to, t.length > 20 ? t.length : t]),
    [
      ['out', 'one\n'],
      ['err', 'a warning\n'],
      ['out', 'two\n'],
      ['out', 70_001],
    ],
  );
});
