/**
 * Public API of the config layer (pipeline.yaml / dvc.yaml and params files).
 * load.ts orchestrates; source.ts keeps positions; interpolate.ts/context.ts do `${...}`;
 * generate.ts expands foreach/matrix; schema.ts checks stages; paths.ts checks outputs;
 * params.ts reads params files; diagnostics.ts collects problems.
 */
export type * from './types.js';
export { loadPipeline, lockFileOf, stageAddress, type LoadOptions } from './load.js';
export { pipelineWalkReads } from './collect.js';
export { readParamsFile, resolveStageParams, getParam, flattenParams, ParamsCache } from './params.js';
export { ConfigProblemsError, type ConfigProblem } from './diagnostics.js';
export { expandForeach, expandMatrix } from './generate.js';
export { resolveStagePath } from './paths.js';
export { PLOT_TEMPLATES, readTopLevelPlots, readTopLevelMetrics } from './plots.js';
