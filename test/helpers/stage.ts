/** Runs a stage program of stages/ as a real process, the way pipeline.yaml's cmd does. */
import path from 'node:path';
import { execa, type ResultPromise } from 'execa';
import { REPO_ROOT } from './project.js';

const TSX = import.meta.resolve('tsx');

export function runStageProgram(
  stage: string,
  cwd: string,
  opts: { timeout?: number } = {},
): ResultPromise<{ reject: false; all: true }> {
  return execa(process.execPath, ['--import', TSX, path.join(REPO_ROOT, 'stages', `${stage}.ts`)], {
    cwd,
    reject: false,
    all: true,
    timeout: opts.timeout ?? 120_000,
    env: { FORCE_COLOR: '0', NO_COLOR: '1' },
  });
}
