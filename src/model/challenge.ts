/**
 * Champion and challenger: each challenger experiment is scored against the model that holds the
 * promotion stage, on the same test set (the champion is scored again on the challenger's test set
 * when they differ), and takes the stage only when the rule holds. Every challenger is registered as a
 * version with the decision in its record; a promotion is one more assignment tag, created only if
 * the registry did not change since the decision was made (compare-and-swap on the tag's counter), so
 * two challenges at once can never let a worse model replace a better one.
 */
import { LockstepError } from '../errors.js';
import { resolveExperiment } from '../exp/records.js';
import type { Project } from '../project.js';
import { loadRegistryConfig, type PromoteRule } from './config.js';
import { decide, type Verdict } from './decide.js';
import { assignStage, describeSource, registerVersion, registry } from './registry.js';
import { rescore } from './rescore.js';
import { metricValue, parseMessageMeta, type VersionMeta } from './versions.js';

export interface Decision {
  challenger: { exp: string; commit: string; value: number; testSet: string | null; version?: string };
  champion: {
    version: string;
    value: number;
    recorded: number | null;
    testSet: string | null;
    rescored: boolean;
  } | null;
  rule: { model: string; stage: string; metric: string; direction: string; min_delta: number; same_test_set: boolean };
  data: { path: string; md5: string } | null;
  promoted: boolean;
  reason: string;
  dry: boolean;
}

export type ChallengeEvent =
  | { type: 'rescoring'; exp: string; champion: string }
  | { type: 'decided'; decision: Decision }
  | { type: 'retry'; exp: string; why: string };

export interface ChallengeOptions {
  exps: string[];
  dry?: boolean;
  bin: string;
  onEvent?: (e: ChallengeEvent) => void;
}

export async function requireRule(root: string): Promise<PromoteRule> {
  const rule = (await loadRegistryConfig(root)).promote;
  if (!rule)
    throw new LockstepError(
      'config',
      '.lockstep/config.yaml has no promote section',
      'Add promote: {model: NAME, stage: prod, metric: FILE:KEY, direction: max, min_delta: 0.002}.',
    );
  return rule;
}

const ruleSummary = (r: PromoteRule): Decision['rule'] => ({
  model: r.model,
  stage: r.stage,
  metric: `${r.metricFile}:${r.metricKey}`,
  direction: r.direction,
  min_delta: r.minDelta,
  same_test_set: r.sameTestSet,
});

export async function challenge(project: Project, opts: ChallengeOptions): Promise<Decision[]> {
  const rule = await requireRule(project.root);
  const config = await loadRegistryConfig(project.root);
  const model = config.models[rule.model] ?? { name: rule.model };
  const decisions: Decision[] = [];
  for (const exp of opts.exps) {
    const rec = await resolveExperiment(project.root, exp);
    const meta = await describeSource(project, model, { exp: rec.sha });
    const value = metricValue(rec.metrics, rule.metricFile, rule.metricKey);
    if (value === null)
      throw new LockstepError(
        'data',
        `experiment '${rec.name}' has no number ${rule.metricFile}:${rule.metricKey}`,
        'Check promote.metric, or that the experiment ran its evaluate stage.',
      );
    const challenger: Decision['challenger'] = {
      exp: rec.name,
      commit: rec.sha,
      value,
      testSet: meta.testSet?.hash ?? null,
    };
    const rescored = new Map<string, number>();
    for (let attempt = 0; ; attempt++) {
      if (attempt > 20)
        throw new LockstepError('locked', 'the registry kept changing during the challenge', 'Try again.');
      const state = (await registry(project.root)).get(rule.model);
      const holder = state?.stages[rule.stage] ?? null;
      const counter = state?.nextCounter ?? 1;
      const champ = holder ? state?.versions.find((v) => v.version === holder) : undefined;
      let champion: Decision['champion'] = null;
      let verdict: Verdict;
      if (champ && champ.commit === rec.sha) {
        verdict = { promoted: false, improvement: 0, reason: `${rec.name} is already the champion (${holder})` };
        champion = { version: champ.version, value, recorded: value, testSet: challenger.testSet, rescored: false };
      } else if (champ) {
        const cmeta =
          parseMessageMeta<VersionMeta>(champ.message) ?? (await describeSource(project, model, { rev: champ.commit }));
        const recorded = metricValue(cmeta.metrics, rule.metricFile, rule.metricKey);
        const champTest = cmeta.testSet?.hash ?? null;
        const same = champTest !== null && champTest === challenger.testSet;
        let champValue = recorded;
        let didRescore = false;
        if (rule.sameTestSet && !same) {
          champValue = rescored.get(champ.version) ?? null;
          if (champValue === null) {
            opts.onEvent?.({ type: 'rescoring', exp: rec.name, champion: champ.version });
            champValue = (await rescore(project, rule, cmeta, rec, opts.bin)).value;
            rescored.set(champ.version, champValue);
          }
          didRescore = true;
        }
        if (champValue === null)
          throw new LockstepError(
            'data',
            `the champion ${rule.model}@${champ.version} has no recorded ${rule.metricFile}:${rule.metricKey}`,
            'Set same_test_set: true and promote.evaluate so it is scored again.',
          );
        champion = { version: champ.version, value: champValue, recorded, testSet: champTest, rescored: didRescore };
        verdict = decide(rule, value, champValue);
      } else {
        verdict = decide(rule, value, null);
      }
      const decision: Decision = {
        challenger,
        champion,
        rule: ruleSummary(rule),
        data: meta.data ?? null,
        promoted: verdict.promoted,
        reason: verdict.reason,
        dry: !!opts.dry,
      };
      if (opts.dry) {
        decisions.push(decision);
        opts.onEvent?.({ type: 'decided', decision });
        break;
      }
      const reg = await registerVersion(project, {
        name: rule.model,
        exp: rec.sha,
        extra: { decision: { ...decision, dry: undefined } },
      });
      challenger.version = reg.version;
      if (verdict.promoted) {
        const assigned = await assignStage(project, rule.model, reg.version, rule.stage, {
          message: { decision },
          expect: { holder, counter },
        });
        if (!assigned) {
          opts.onEvent?.({ type: 'retry', exp: rec.name, why: 'the registry changed while deciding' });
          continue; // someone else changed the stage: decide again against the new champion
        }
      }
      decisions.push(decision);
      opts.onEvent?.({ type: 'decided', decision });
      break;
    }
  }
  return decisions;
}
