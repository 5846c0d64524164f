/**
 * The per-epoch decisions of training, as a pure function of the loop state and the epoch's
 * validation figures: Keras' ReduceLROnPlateau on val loss and EarlyStopping on val accuracy.
 */

export interface ScheduleParams {
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
 * The state after `epoch` (1-based) ended with these validation figures, and whether this epoch is
 * the new best (its weights are the ones to keep).
 */
export function afterEpoch<S extends ScheduleState>(state: S, epoch: number, valLoss: number, valAcc: number, p: ScheduleParams): { state: S; isBest: boolean } {
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
  if (valLoss < s.bestValLoss - PLATEAU_MIN_DELTA) {
    s.bestValLoss = valLoss;
    s.plateauWait = 0;
  } else if (++s.plateauWait >= p.lr_patience && s.lr > p.min_lr) {
    s.lr = Math.max(s.lr * p.lr_factor, p.min_lr);
    s.plateauWait = 0;
  }
  return { state: s, isBest };
}
