/**
 * Progress of a stage that writes many files, through the real CLI: `repro --json` carries
 * `stage-progress` events for hashing and caching the output with counts that only grow and end at
 * done === total; plain `repro` with output to a pipe (not a terminal) shows none of it.
 * LOCKSTEP_PROGRESS_MS=0 lifts the throttle, so every report of the engine becomes an event. On a
 * terminal (script(1) gives it one) the same run draws a bar.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { execa } from 'execa';
import type { ReproEvent } from '../../src/pipeline/events.js';
import { CLI, tempProject } from '../helpers/project.js';

const FILES = 1200;
// split writes one file per line: many small files in a blink
const PIPELINE = `stages:
  many:
    cmd: mkdir -p out && seq 1 ${FILES} | (cd out && split -l 1 -a 4 - f)
    outs: [out]
`;

type Progress = Extract<ReproEvent, { type: 'stage-progress' }>;

test(`repro --json: stage-progress events for hashing and caching a 1,200-file output, counts growing to the \
total`, async () => {
  const p = await tempProject({ 'pipeline.yaml': PIPELINE, '.gitignore': '.cache/\n' });
  const r = await p.run(['repro', '--json'], { env: { LOCKSTEP_PROGRESS_MS: '0' } });
  assert.equal(r.exitCode, 0, r.all);
  const events = r.stdout
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as { type: string });
  const progress = events.filter((e): e is Progress => e.type === 'stage-progress');
  const bytes = Array.from({ length: FILES }, (_, i) => `${i + 1}\n`.length).reduce((a, b) => a + b, 0);
  for (const phase of ['hash', 'cache'] as const) {
    const mine = progress.filter((e) => e.phase === phase && e.path === 'out' && e.stage === 'many');
    assert.ok(mine.length >= 2, `${phase}: ${JSON.stringify(mine)}`);
    for (let i = 1; i < mine.length; i++) {
      assert.ok(mine[i]!.done >= mine[i - 1]!.done, `${phase} counts go back: ${JSON.stringify(mine)}`);
      assert.ok(mine[i]!.bytes >= mine[i - 1]!.bytes, `${phase} bytes go back: ${JSON.stringify(mine)}`);
    }
    assert.ok(
      mine.every((e) => e.total === FILES),
      JSON.stringify(mine),
    );
    assert.deepEqual([mine.at(-1)!.done, mine.at(-1)!.bytes], [FILES, bytes]);
  }
  // the events come between the stage's start and its end
  const at = (type: string) => events.findIndex((e) => e.type === type);
  assert.ok(at('stage-start') < events.indexOf(progress[0]!) && events.indexOf(progress.at(-1)!) < at('stage-ran'));
});

test('repro to a pipe (not a terminal): no bar, no carriage returns or escape codes; stdout unchanged', async () => {
  const p = await tempProject({ 'pipeline.yaml': PIPELINE, '.gitignore': '.cache/\n' });
  const r = await p.run(['repro'], { env: { LOCKSTEP_PROGRESS_MS: '0' } });
  assert.equal(r.exitCode, 0, r.all);
  assert.ok(!r.all.includes('\r') && !r.all.includes('\u001b'), JSON.stringify(r.all));
  assert.doesNotMatch(r.stdout, /hashing|caching/);
  assert.deepEqual(r.stdout.split('\n'), [
    "Running stage 'many' (never run (no lock entry)):",
    `> mkdir -p out && seq 1 ${FILES} | (cd out && split -l 1 -a 4 - f)`,
    r.stdout.split('\n')[2],
    'Done: 1 ran, 0 restored from cache, 0 up to date.',
  ]);
  assert.match(r.stdout.split('\n')[2]!, /^Stage 'many' finished in \d+\.\d s$/);
  // a step over 5 s (a loaded machine) may get plain lines on stderr (unit-tested in stage-progress), nothing else
  for (const line of r.stderr.split('\n').filter(Boolean))
    assert.match(line, /^(hashing|caching) out \(many\): \d+(\/\d+)? files, /, r.stderr);
});

const SCRIPT = ['/usr/bin/script', '/bin/script'].find((f) => existsSync(f));

test('repro on a terminal: a progress bar for caching the output, with files done of the total', {
  skip: SCRIPT ? false : 'script(1) from util-linux is not installed (it gives the CLI a terminal)',
}, async () => {
  const p = await tempProject({ 'pipeline.yaml': PIPELINE, '.gitignore': '.cache/\n' });
  // script(1) runs the CLI on a pseudo-terminal and copies what it draws to our pipe
  const r = await execa(SCRIPT!, ['-qfec', `${process.execPath} ${CLI} repro`, '/dev/null'], {
    cwd: p.dir,
    env: { LOCKSTEP_PROGRESS_MS: '0', CI: '' },
    reject: false,
    timeout: 120_000,
  });
  assert.equal(r.exitCode, 0, r.stdout);
  assert.match(
    r.stdout,
    new RegExp(`caching out \\(many\\) \\|[^|]*\\| \\d+/${FILES} files \\| [\\d.]+ MB \\| \\S+ left`),
  );
  assert.match(r.stdout, /Done: 1 ran, 0 restored from cache, 0 up to date\./);
});
