/**
 * The one way tests run a stage program of stages/: a real process, the way pipeline.yaml's cmd does
 * (`node --import tsx stages/<stage>.ts` with `cwd` as the project root). The result is both the
 * child process (to kill it or read its pid) and a promise of its exit code and output; it never rejects.
 */
import path from 'node:path';
import { execa, type ResultPromise } from 'execa';
import { REPO_ROOT } from './project.js';

const TSX = import.meta.resolve('tsx');

export type StageName = 'pull' | 'partition' | 'prepare' | 'train' | 'evaluate';

export function runStageProgram(
  stage: StageName,
  cwd: string,
  opts: { timeout?: number; env?: Record<string, string> } = {},
): ResultPromise<{ reject: false; all: true }> {
  return execa(process.execPath, ['--import', TSX, path.join(REPO_ROOT, 'stages', `${stage}.ts`)], {
    cwd,
    reject: false,
    all: true,
    // Generous: on a shared 2-core machine under load a tiny training run can take minutes; a hung stage still ends.
    timeout: opts.timeout ?? 600_000,
    env: { ...opts.env, FORCE_COLOR: '0', NO_COLOR: '1' },
  });
}
