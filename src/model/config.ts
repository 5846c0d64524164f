/**
 * The `models` and `promote` sections of `.lockstep/config.yaml`:
 *
 *   models:
 *     cifar10-cnn:
 *       path: models/model                      # the output that is the artifact
 *       data: data/raw                          # whose hash says which data a version was trained on
 *       test_set: data/prepared/test.ids.tsv    # whose hash says which images it was scored on
 *   promote:
 *     model: cifar10-cnn
 *     stage: prod
 *     metric: metrics/eval.json:accuracy
 *     direction: max                            # max | min
 *     min_delta: 0.002                          # the challenger must beat the champion by this much
 *     same_test_set: true                       # compare only on the same test images
 *     evaluate: evaluate                        # the stage that scores a model (rerun for the champion)
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import { LockstepError } from '../errors.js';
import { CONFIG_FILE, LOCAL_CONFIG_FILE } from '../project.js';
import { NAME_RE, STAGE_RE } from './tags.js';

export interface ModelConfig {
  name: string;
  path?: string;
  data?: string;
  testSet?: string;
}

export interface PromoteRule {
  model: string;
  stage: string;
  /** `file:key` (key may be dotted). */
  metricFile: string;
  metricKey: string;
  direction: 'max' | 'min';
  minDelta: number;
  sameTestSet: boolean;
  evaluate?: string;
}

export interface RegistryConfig {
  models: Record<string, ModelConfig>;
  promote?: PromoteRule;
}

const fail = (file: string, what: string, hint: string): never => {
  throw new LockstepError('config', `${file}: ${what}`, hint);
};

const str = (file: string, where: string, v: unknown): string | undefined => {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string' || !v) return fail(file, `${where} must be a non-empty string`, `Fix ${where}.`);
  return v;
};

export function parseRegistryConfig(docs: Array<{ file: string; doc: unknown }>): RegistryConfig {
  const out: RegistryConfig = { models: {} };
  for (const { file, doc } of docs) {
    if (!doc || typeof doc !== 'object') continue;
    const d = doc as { models?: unknown; promote?: unknown };
    if (d.models !== undefined) {
      if (!d.models || typeof d.models !== 'object' || Array.isArray(d.models))
        fail(file, 'models must be a mapping of model names to {path, data, test_set}', 'Fix the models section.');
      for (const [name, raw] of Object.entries(d.models as Record<string, unknown>)) {
        if (!NAME_RE.test(name))
          fail(file, `model name '${name}' is not valid`, 'Use lower-case letters, digits and dashes (GTO names).');
        const r = (raw ?? {}) as Record<string, unknown>;
        const m: ModelConfig = { name };
        const p = str(file, `models.${name}.path`, r.path);
        const data = str(file, `models.${name}.data`, r.data);
        const testSet = str(file, `models.${name}.test_set`, r.test_set);
        if (p) m.path = p;
        if (data) m.data = data;
        if (testSet) m.testSet = testSet;
        out.models[name] = { ...out.models[name], ...m };
      }
    }
    if (d.promote !== undefined) out.promote = parsePromote(file, d.promote);
  }
  return out;
}

function parsePromote(file: string, raw: unknown): PromoteRule {
  if (!raw || typeof raw !== 'object')
    return fail(file, 'promote must be a mapping', 'See README: Champion and challenger.');
  const r = raw as Record<string, unknown>;
  const model = str(file, 'promote.model', r.model) ?? fail(file, 'promote.model is missing', 'Name the model.');
  if (!NAME_RE.test(model)) fail(file, `promote.model '${model}' is not valid`, 'Use a GTO artifact name.');
  const stage = str(file, 'promote.stage', r.stage) ?? 'prod';
  if (!STAGE_RE.test(stage)) fail(file, `promote.stage '${stage}' is not valid`, 'Use e.g. prod or staging.');
  const metric =
    str(file, 'promote.metric', r.metric) ??
    fail(file, 'promote.metric is missing', 'E.g. metrics/eval.json:accuracy.');
  const colon = metric.lastIndexOf(':');
  if (colon <= 0 || colon === metric.length - 1)
    fail(file, `promote.metric '${metric}' must be FILE:KEY`, 'E.g. metrics/eval.json:accuracy.');
  const direction = r.direction ?? 'max';
  if (direction !== 'max' && direction !== 'min')
    fail(file, `promote.direction must be max or min, not '${String(direction)}'`, 'Fix promote.direction.');
  const minDelta = r.min_delta ?? 0;
  if (typeof minDelta !== 'number' || !Number.isFinite(minDelta) || minDelta < 0)
    fail(file, 'promote.min_delta must be a number >= 0', 'E.g. min_delta: 0.002.');
  const same = r.same_test_set ?? true;
  if (typeof same !== 'boolean') fail(file, 'promote.same_test_set must be true or false', 'Fix it.');
  const rule: PromoteRule = {
    model,
    stage,
    metricFile: metric.slice(0, colon),
    metricKey: metric.slice(colon + 1),
    direction: direction as 'max' | 'min',
    minDelta: minDelta as number,
    sameTestSet: same as boolean,
  };
  const evaluate = str(file, 'promote.evaluate', r.evaluate);
  if (evaluate) rule.evaluate = evaluate;
  return rule;
}

export async function loadRegistryConfig(root: string): Promise<RegistryConfig> {
  const docs: Array<{ file: string; doc: unknown }> = [];
  for (const file of [CONFIG_FILE, LOCAL_CONFIG_FILE]) {
    const text = await fs.readFile(path.join(root, file), 'utf8').catch(() => null);
    if (text === null) continue;
    try {
      docs.push({ file, doc: YAML.parse(text) });
    } catch (e) {
      fail(file, (e as Error).message.split('\n')[0] ?? 'YAML syntax error', 'Fix the YAML syntax.');
    }
  }
  return parseRegistryConfig(docs);
}
