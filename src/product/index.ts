/**
 * Where lockstep, the generic pipeline tool, ends and the CIFAR-10 project it ships with begins. The
 * engine (src/ except cli, product and report) runs any pipeline.yaml / dvc.yaml and knows no file or
 * param of this one; the project's conventions that the tool's commands rely on live here, named once:
 *
 * - predictions.ts: `results/predictions.csv`, what the evaluate stage writes and `hard-examples` reads;
 * - sweep-shorthands.ts: `exp run --seed/--data`, the sweep knobs and the `v1+v2` partition syntax.
 *
 * Another project replaces these two files (and src/report, which is this project's report). The stages
 * themselves (stages/) are separate programs and never import src/.
 */
export { FIXED_COLUMNS, PREDICTIONS_PATH, parsePredictionsCsv } from './predictions.js';
export type { ParsedPredictions, PredictionRow } from './predictions.js';
export { EXP_SHORTHANDS, checkDataValue } from './sweep-shorthands.js';
