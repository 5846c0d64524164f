import type { LockHolder } from './repo-lock.js';
import type { PlanItem } from './plan.js';
import type { StaleReason } from './staleness.js';

/** What the engine reports while it works; the CLI renders these (text, JSON lines). */
export type ReproEvent =
  | { type: 'waiting-for-lock'; holder: LockHolder }
  | { type: 'plan'; items: PlanItem[] }
  | { type: 'stage-fresh'; stage: string }
  | { type: 'stage-frozen'; stage: string }
  | { type: 'stage-start'; stage: string; reasons: StaleReason[]; commands: string[] }
  | { type: 'stage-output'; stage: string; stream: 'stdout' | 'stderr'; line: string }
  | { type: 'stage-restored'; stage: string; from: 'run-cache' | 'lock'; pulled?: boolean }
  | { type: 'stage-pull-failed'; stage: string; message: string }
  | { type: 'stage-ran'; stage: string; durationMs: number }
  /** A long step on one of the stage's paths: hashing or caching `done` of `total` files (`bytes` of them). */
  | {
      type: 'stage-progress';
      stage: string;
      path: string;
      phase: 'hash' | 'cache';
      done: number;
      total: number;
      bytes: number;
    }
  | { type: 'stage-failed'; stage: string; message: string }
  | { type: 'stage-skipped'; stage: string; because: string };

export type Emit = (event: ReproEvent) => void;

export type StageOutcome = 'fresh' | 'frozen' | 'ran' | 'restored' | 'failed' | 'skipped' | 'interrupted';

export interface ReproSummary {
  outcomes: Map<string, StageOutcome>;
  /** `reason`/`hint` when the stage failed before running for a known cause (a missing dependency). */
  failures: { stage: string; message: string; reason?: 'missing-dep'; hint?: string }[];
  interrupted: boolean;
}
