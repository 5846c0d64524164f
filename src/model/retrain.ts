/**
 * `lockstep retrain`: the job for cron or CI. Refresh the stage that reads the outside data source
 * (it is forced to run, since the source lives outside the project), hash its output, and when that
 * hash is one no registered version was trained on, run the pipeline as an experiment and challenge
 * the champion with it. With unchanged data it does nothing else.
 */
import { execa } from 'execa';
import { loadPipeline } from '../config/index.js';
import { LockstepError } from '../errors.js';
import { runExperiments, type ExpEvent } from '../exp/run.js';
import { readProjectLock } from '../pipeline/lock-set.js';
import type { Project } from '../project.js';
import { challenge, requireRule, type ChallengeEvent, type Decision } from './challenge.js';
import { loadRegistryConfig } from './config.js';
import { pathHash } from './hashes.js';
import { registry } from './registry.js';
import { parseMessageMeta, type VersionMeta } from './versions.js';

export interface RetrainOptions {
  ifDataChanged: boolean;
  dry?: boolean;
  name?: string;
  bin: string;
  onEvent?: (e: RetrainEvent) => void;
}

export type RetrainEvent =
  | { type: 'refreshing'; stage: string }
  | { type: 'data'; path: string; md5: string; knownAs: string | null }
  | { type: 'exp'; event: ExpEvent }
  | { type: 'challenge'; event: ChallengeEvent };

export interface RetrainResult {
  data: { path: string; md5: string };
  /** The registered version already trained on this data, when there is one. */
  knownAs: string | null;
  ran: boolean;
  experiment?: { name: string; state: string };
  decision?: Decision;
}

export async function retrain(project: Project, opts: RetrainOptions): Promise<RetrainResult> {
  const rule = await requireRule(project.root);
  const model = (await loadRegistryConfig(project.root)).models[rule.model];
  const dataPath = model?.data;
  if (!dataPath)
    throw new LockstepError(
      'config',
      `models.${rule.model}.data is not set in .lockstep/config.yaml`,
      'Name the output whose hash identifies the training data, e.g. data: data/raw.',
    );
  const pipeline = await loadPipeline(project.root);
  const producer = pipeline.stages.find((s) =>
    s.outs.some((o) => o.path === dataPath || dataPath.startsWith(`${o.path}/`)),
  );
  if (!producer)
    throw new LockstepError(
      'config',
      `no stage produces ${dataPath} (models.${rule.model}.data)`,
      'Fix models.NAME.data.',
    );
  opts.onEvent?.({ type: 'refreshing', stage: producer.name });
  const cli = (args: string[]) =>
    execa(process.execPath, [opts.bin, ...args], { cwd: project.root, reject: false, all: true });
  for (const args of [
    ['repro', producer.name],
    ['repro', '--force', '--single-item', producer.name],
  ]) {
    const r = await cli(args);
    if (r.exitCode !== 0) {
      const last =
        String(r.all ?? '')
          .trim()
          .split('\n')
          .at(-1) ?? '';
      throw new LockstepError(
        'stage-failed',
        `refreshing the data (stage '${producer.name}') failed: ${last}`,
        'Fix the data source and try again.',
      );
    }
  }
  // every pipeline file's lock, paths made repo-relative: the data may come from a stage of a sub-pipeline
  const lock = await readProjectLock(project.root, pipeline, pipeline.stages, project.cacheDir);
  const md5 = await pathHash(project, lock, dataPath);
  if (!md5)
    throw new LockstepError('data', `${dataPath} has no recorded hash after its stage ran`, 'Check models.NAME.data.');
  const state = (await registry(project.root)).get(rule.model);
  const known = state?.versions.find((v) => parseMessageMeta<VersionMeta>(v.message)?.data?.md5 === md5);
  const knownAs = known ? known.version : null;
  const data = { path: dataPath, md5 };
  opts.onEvent?.({ type: 'data', path: dataPath, md5, knownAs });
  if (opts.ifDataChanged && knownAs) return { data, knownAs, ran: false };
  if (opts.dry) return { data, knownAs, ran: false };
  const results = await runExperiments({
    cwd: project.root,
    overrides: [],
    name: opts.name ?? `retrain-${md5.slice(0, 8)}`,
    onEvent: (event) => opts.onEvent?.({ type: 'exp', event }),
  });
  const exp = results[0];
  if (!exp)
    throw new LockstepError('exp', 'the retraining experiment did not run', 'Run `lockstep exp run` to see why.');
  if (exp.state !== 'success') {
    return { data, knownAs, ran: true, experiment: { name: exp.name, state: exp.state } };
  }
  const [decision] = await challenge(project, {
    exps: [exp.sha],
    bin: opts.bin,
    onEvent: (event) => opts.onEvent?.({ type: 'challenge', event }),
  });
  const result: RetrainResult = { data, knownAs, ran: true, experiment: { name: exp.name, state: exp.state } };
  if (decision) result.decision = decision;
  return result;
}
