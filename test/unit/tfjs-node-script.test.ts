/**
 * scripts/tfjs-node-from-registries.sh's choice of libtensorflow (LOCKSTEP_TF_JAVA): an unknown version is refused
 * in one line, before anything is downloaded or changed. The builds themselves run in .ci/run (the default) and by
 * hand for 1.1.0 (stages/TRAIN.md).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const SCRIPT = path.join(ROOT, 'scripts/tfjs-node-from-registries.sh');

test('tfjs-node-from-registries: an unknown LOCKSTEP_TF_JAVA is one line and exit 2, nothing else runs', () => {
  const r = spawnSync('bash', [SCRIPT], {
    env: { ...process.env, LOCKSTEP_TF_JAVA: '0.9.9', LOCKSTEP_TFJS_CACHE: '/nonexistent/never-made' },
    encoding: 'utf8',
  });
  assert.equal(r.status, 2, r.stderr);
  assert.equal(r.stdout, '');
  assert.equal(
    r.stderr,
    'tfjs-node-from-registries: LOCKSTEP_TF_JAVA=0.9.9 is not a version this script knows; use 0.5.0 or 1.1.0\n',
  );
});
