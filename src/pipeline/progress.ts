/**
 * Progress of a stage's long steps (hashing and caching a large output) as `stage-progress` events.
 * A step that ends within `delayMs` reports nothing (most outputs are small); past that, at most one
 * event every `intervalMs`, and the step's last one (done === total) so a renderer can close its line.
 * Pure apart from the injected clock.
 */
import type { CommitProgress } from '../cache/index.js';
import type { Emit } from './events.js';

export interface ProgressTiming {
  /** A step that finishes sooner shows nothing (default 300 ms). */
  delayMs?: number;
  /** At most one event this often (default 100 ms). */
  intervalMs?: number;
  now?: () => number;
}

export function stageProgress(
  emit: Emit,
  stage: string,
  path: string,
  timing: ProgressTiming = {},
): (p: CommitProgress) => void {
  const { delayMs = 300, intervalMs = 100, now = Date.now } = timing;
  const phases = new Map<CommitProgress['phase'], { started: number; last: number | null }>();
  return (p) => {
    const t = now();
    let ph = phases.get(p.phase);
    if (!ph) {
      ph = { started: t, last: null };
      phases.set(p.phase, ph);
    }
    const last = p.done >= p.total;
    const due = ph.last === null ? t - ph.started >= delayMs : t - ph.last >= intervalMs;
    if (last ? ph.last === null && !due : !due) return;
    ph.last = t;
    emit({ type: 'stage-progress', stage, path, ...p });
  };
}
