import { test } from 'node:test';
import assert from 'node:assert/strict';
import { etaSeconds, headline, shortDuration } from '../../src/cli/exp-progress.js';
import { plotsProject } from './plots-fixture.js';

test(`exp run, not on a terminal: a plain line per stage and per epoch of each running experiment, the headline \
metric on done`, async () => {
  const p = await plotsProject();
  const r = await p.run(['exp', 'run', '-S', 'epochs=3', '-n', 'three', '--no-run-cache'], {
    env: { FAKE_EPOCH_MS: '100' },
  });
  assert.equal(r.exitCode, 0, r.all);
  const lines = r.stderr.split('\n');
  const mine = lines.filter((l) => l.startsWith('  three: '));
  assert.equal(mine[0], '  three: train');
  assert.deepEqual(
    mine.slice(1).map((l) => l.replace(/, [\dm?]+s? left$/, '')),
    ['  three: train epoch 1/3', '  three: train epoch 2/3', '  three: train epoch 3/3'],
  );
  assert.match(mine[1] ?? '', /, (\d+s|\d+m\d\ds) left$/);
  assert.ok(
    lines.some((l) => /^ {2}done {5}three {2}[\d.]+s {2}accuracy 0\.576$/.test(l)),
    r.stderr,
  );
});

test('exp run progress helpers: headline metric, time left', () => {
  assert.equal(headline({ 'm.json': { loss: 0.5, accuracy: 0.71234 } }), 'accuracy 0.7123');
  assert.equal(headline({ 'm.json': { loss: 0.5, val_acc: 0.6 } }), 'val_acc 0.6');
  assert.equal(headline({ 'm.json': { loss: 0.5 } }), 'loss 0.5');
  assert.equal(headline({}), '');
  assert.equal(etaSeconds(60_000, 2, 10), 240);
  assert.equal(shortDuration(75), '1m15s');
  assert.equal(shortDuration(4000), '1h06m');
  assert.equal(shortDuration(Number.NaN), '?');
});
