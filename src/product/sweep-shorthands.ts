/**
 * `lockstep exp run --seed … --data …`: the CIFAR-10 pipeline's two sweep knobs, the top-level `seed` and
 * `data` params of params.yaml. `data` names the partitions to train on as a `+`-joined set (`v1`,
 * `v1+v2`); which names exist is declared in .lockstep/config.yaml (`exp.choices.data`), the generic check.
 * Kept light (no imports beyond the errors): `exp-register.ts` reads it to build `--help`.
 */
import { LockstepError } from '../errors.js';
import type { Shorthand } from '../exp/sweep.js';

/** The shape of a `--data` value: distinct partition names joined by '+'. */
export function checkDataValue(value: unknown, raw: string): void {
  const parts = String(value).split('+');
  if (parts.some((p) => !/^[A-Za-z0-9_-]+$/.test(p))) {
    throw new LockstepError(
      'usage',
      `malformed --data '${raw}': expected partitions joined by '+', e.g. v1 or v1+v2`,
      'Name each partition once, joined by +.',
    );
  }
  const dup = parts.find((p, i) => parts.indexOf(p) !== i);
  if (dup) {
    throw new LockstepError(
      'usage',
      `malformed --data '${raw}': partition '${dup}' appears twice`,
      'Name each partition once, joined by +.',
    );
  }
}

function checkSeed(value: unknown, raw: string): void {
  if (typeof value !== 'number' || !Number.isInteger(value)) {
    throw new LockstepError(
      'usage',
      `malformed --seed '${raw}': '${String(value)}' is not an integer`,
      'Give integers, e.g. --seed 42,100,2025.',
    );
  }
}

export const EXP_SHORTHANDS: readonly Shorthand[] = [
  { key: 'seed', description: 'shorthand for -S seed=<values> (comma list sweeps)', check: checkSeed },
  { key: 'data', description: 'shorthand for -S data=<values>, e.g. v1,v1+v2', text: true, check: checkDataValue },
];
