/**
 * The learning-rate schedule and the per-epoch decisions of training, as pure functions: the
 * one-cycle rate of a step, Keras' ReduceLROnPlateau on val loss and EarlyStopping on val accuracy.
 */

export interface ScheduleParams {
  schedule: 'plateau' | 'onecycle' | 'airbench';
  lr_factor: number;
  lr_patience: number;
  min_lr: number;
  /** 0 = never stop early. */
  early_stopping_patience: number;
}

export interface ScheduleState {
  lr: number;
  bestValAcc: number;
  bestEpoch: number;
  bestValLoss: number;
  plateauWait: number;
  stopWait: number;
  stopped: boolean;
}

/** Keras' ReduceLROnPlateau counts an improvement only below best - min_delta, min_delta = 1e-4. */
export const PLATEAU_MIN_DELTA = 1e-4;

/**
 * The one-cycle rate for `step` (0-based, of `totalSteps`): a linear ramp from 0 to `peak` over the
 * first `warmupSteps`, then a linear decay that reaches 0 after the last step.
 */
export function oneCycleLr(peak: number, step: number, totalSteps: number, warmupSteps: number): number {
  const t = step + 1;
  if (t <= warmupSteps) return (peak * t) / warmupSteps;
  return (peak * Math.max(0, totalSteps - step)) / Math.max(1, totalSteps - warmupSteps);
}

/**
 * airbench94's rate for `step` (0-based, of `totalSteps`): linear from 0.2 x `peak` to `peak` over the first
 * `warmupSteps`, then linear to 0.07 x `peak` at the end (Keller Jordan's cifar10-airbench, legacy/airbench94.py).
 */
export function airbenchLr(peak: number, step: number, totalSteps: number, warmupSteps: number): number {
  if (step < warmupSteps) {
    const f = step / warmupSteps;
    return peak * (0.2 * (1 - f) + f);
  }
  const f = (step - warmupSteps) / Math.max(1, totalSteps - warmupSteps);
  return peak * (1 - f + 0.07 * f);
}

/**
 * The state after `epoch` (1-based) ended with these validation figures, and whether this epoch is
 * the new best (its weights are the ones to keep).
 */
export function afterEpoch<S extends ScheduleState>(
  state: S,
  epoch: number,
  valLoss: number,
  valAcc: number,
  p: ScheduleParams,
): { state: S; isBest: boolean } {
  const s = { ...state };
  const isBest = valAcc > s.bestValAcc;
  if (isBest) {
    s.bestValAcc = valAcc;
    s.bestEpoch = epoch;
    s.stopWait = 0;
  } else {
    s.stopWait++;
    if (p.early_stopping_patience > 0 && s.stopWait >= p.early_stopping_patience) s.stopped = true;
  }
  if (p.schedule !== 'plateau') return { state: s, isBest };
  if (valLoss < s.bestValLoss - PLATEAU_MIN_DELTA) {
    s.bestValLoss = valLoss;
    s.plateauWait = 0;
  } else if (++s.plateauWait >= p.lr_patience && s.lr > p.min_lr) {
    s.lr = Math.max(s.lr * p.lr_factor, p.min_lr);
    s.plateauWait = 0;
  }
  return { state: s, isBest };
}
