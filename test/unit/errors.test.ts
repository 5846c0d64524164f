import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LockstepError, exitCodeFor } from '../../src/errors.js';

test('usage-type failures exit 2, work failures exit 1, interruption 130', () => {
  assert.equal(exitCodeFor('cycle'), 2);
  assert.equal(exitCodeFor('stage-failed'), 1);
  assert.equal(exitCodeFor('interrupted'), 130);
  const e = new LockstepError('missing-dep', 'x');
  assert.equal(e.reason, 'missing-dep');
});

test('a failure is one line: the message, then the hint as its own sentence', async () => {
  const { reportFailure } = await import('../../src/cli/main.js');
  const lines: string[] = [];
  const write = process.stderr.write.bind(process.stderr);
  process.stderr.write = ((chunk: string) => {
    lines.push(chunk);
    return true;
  }) as typeof process.stderr.write;
  try {
    assert.equal(
      reportFailure(
        new LockstepError('interrupted', 'interrupted; 2 stages were not recorded', 'Run lockstep repro again.'),
        false,
      ),
      130,
    );
    reportFailure(new LockstepError('usage', 'unknown remote "x".', 'Run lockstep remote list.'), false);
    reportFailure(new LockstepError('usage', 'no hint here'), false);
  } finally {
    process.stderr.write = write;
  }
  assert.deepEqual(lines, [
    'lockstep: interrupted; 2 stages were not recorded. Run lockstep repro again.\n',
    'lockstep: unknown remote "x". Run lockstep remote list.\n',
    'lockstep: no hint here\n',
  ]);
});
