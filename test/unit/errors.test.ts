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
