/** Which TensorFlow.js backends the train and evaluate stages can run on here, for tests that cover each. */
import { execa } from 'execa';
import { REPO_ROOT } from './project.js';

export type StageBackend = 'node' | 'wasm' | 'cpu';

/**
 * tfjs-node when it loads and runs an op in a child process (it is optional: `npm ci` plus
 * scripts/tfjs-node-from-registries.sh installs it), then wasm and cpu, which ship with the project.
 */
export async function availableBackends(): Promise<StageBackend[]> {
  const probe = await execa(
    process.execPath,
    [
      '-e',
      // As stages/lib/tf/backend.ts does: tfjs-node 4.22 needs util.isNullOrUndefined, which Node 23 removed.
      "require('util').isNullOrUndefined ??= (x) => x == null; const tf = require('@tensorflow/tfjs-node');" +
        'if (tf.tensor([3]).square().dataSync()[0] !== 9) process.exit(1)',
    ],
    { cwd: REPO_ROOT, reject: false, env: { TF_CPP_MIN_LOG_LEVEL: '2' }, timeout: 60_000 },
  );
  return probe.exitCode === 0 ? ['node', 'wasm', 'cpu'] : ['wasm', 'cpu'];
}
