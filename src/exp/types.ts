import type { LockFile } from '../pipeline/lockfile-types.js';

/**
 * One recorded experiment: a commit on refs/exps/<baseline sha>/<name> holding its params files,
 * pipeline.lock, metrics and small plot files (built by the exp module).
 */
export interface ExperimentRecord {
  name: string;
  /** Full sha of the commit the experiment was run from. */
  baseline: string;
  /** Full sha of the experiment's own commit. */
  sha: string;
  /** ISO time of creation. */
  created: string;
  state: 'success' | 'failed';
  /** Flattened params of every params file: { 'params.yaml': { 'train.lr': 0.001, seed: 42 } }. */
  params: Record<string, Record<string, unknown>>;
  /** Flattened metrics of every metrics file: { 'metrics/eval.json': { accuracy: 0.71 } }. */
  metrics: Record<string, Record<string, unknown>>;
  /** The experiment's pipeline.lock (its outs' hashes point into the cache). */
  lock: LockFile | null;
  /** For failed experiments: the tail of the log. */
  error?: string;
}
