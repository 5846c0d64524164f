/**
 * Score a model on another run's test set: a temporary workspace holding the challenger's baseline
 * commit with its record files (params, lock) on top, the challenger's data restored from the cache,
 * and the champion's artifact in place of the challenger's; then the evaluate stage alone runs there
 * (or is restored from the run-cache when that pairing was scored before). Nothing in the project's
 * workspace is touched; the cache is shared.
 */
import { existsSync, promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { checkoutOutput, openObjectStore } from '../cache/index.js';
import { LockstepError } from '../errors.js';
import { git } from '../exp/git.js';
import { readRecordFiles, recordFilePaths, META_PATH, type ListedExperiment } from '../exp/records.js';
import { asMd5 } from '../hash/types.js';
import { flattenParams, parseParamsText } from '../exp/params-edit.js';
import type { Project } from '../project.js';
import type { PromoteRule } from './config.js';
import { metricValue, type VersionMeta } from './versions.js';

const LINKED = ['node_modules', '.venv', 'venv'];

export interface RescoreResult {
  value: number;
  /** How the evaluate stage got its result: it ran, or was restored from the run-cache. */
  log: string;
}

export async function rescore(
  project: Project,
  rule: PromoteRule,
  champion: VersionMeta,
  challenger: ListedExperiment,
  bin: string,
): Promise<RescoreResult> {
  const stage = rule.evaluate;
  if (!stage)
    throw new LockstepError(
      'config',
      'the champion was scored on another test set, and promote.evaluate names no stage to score it again',
      'Set promote.evaluate (e.g. evaluate) in .lockstep/config.yaml, or same_test_set: false.',
    );
  const lock = challenger.lock;
  const evalStage = lock?.stages[stage];
  if (!lock || !evalStage)
    throw new LockstepError(
      'config',
      `stage '${stage}' (promote.evaluate) is not in ${challenger.name}'s lock file`,
      'Fix promote.evaluate.',
    );
  const tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'lockstep-rescore-'));
  try {
    // The baseline's tracked files, through a temporary index (no worktree metadata left in .git).
    const env = { GIT_INDEX_FILE: path.join(tmp, '.lockstep-index') };
    await git(project.root, ['read-tree', challenger.baseline], { env });
    await git(project.root, ['checkout-index', '-a', '-f', `--prefix=${tmp}/`], { env });
    await fs.rm(env.GIT_INDEX_FILE, { force: true });
    const files = (await recordFilePaths(project.root, challenger.sha)).filter((p) => p !== META_PATH);
    for (const [rel, buf] of await readRecordFiles(project.root, challenger.sha, files)) {
      const abs = path.join(tmp, rel);
      if (!abs.startsWith(tmp + path.sep)) continue; // record paths are untrusted
      await fs.mkdir(path.dirname(abs), { recursive: true });
      await fs.writeFile(abs, buf);
    }
    for (const name of LINKED) {
      const src = path.join(project.root, name);
      if (existsSync(src) && !existsSync(path.join(tmp, name))) await fs.symlink(src, path.join(tmp, name));
    }
    // The challenger's inputs of the evaluate stage, but the champion's model.
    const store = openObjectStore(project.cacheDir);
    const producers = new Set<string>();
    for (const dep of evalStage.deps ?? []) {
      if (dep.path === champion.path) continue;
      for (const [name, s] of Object.entries(lock.stages))
        if ((s.outs ?? []).some((o) => o.path === dep.path)) producers.add(name);
    }
    const run = (args: string[]) =>
      execa(process.execPath, [bin, ...args], {
        cwd: tmp,
        reject: false,
        all: true,
        env: { LOCKSTEP_CACHE_DIR: project.cacheDir },
      });
    if (producers.size) {
      const r = await run(['checkout', '--force', ...producers]);
      if (r.exitCode !== 0)
        throw new LockstepError(
          'stage-failed',
          `could not restore ${challenger.name}'s test data: ${lastLine(r.all)}`,
          'Pull it first (`lockstep pull`).',
        );
    }
    const modelAbs = path.join(tmp, champion.path);
    await fs.rm(modelAbs, { recursive: true, force: true });
    await fs.mkdir(path.dirname(modelAbs), { recursive: true });
    const info = {
      md5: asMd5(champion.md5),
      size: champion.size,
      ...(champion.nfiles !== undefined ? { nfiles: champion.nfiles } : {}),
    };
    await checkoutOutput(store, info, modelAbs, ['copy']);
    const r = await run(['repro', '--single-item', stage]);
    if (r.exitCode !== 0)
      throw new LockstepError(
        'stage-failed',
        `scoring the champion on ${challenger.name}'s test set failed: ${lastLine(r.all)}`,
        'Run with --verbose for details.',
      );
    const text = await fs.readFile(path.join(tmp, rule.metricFile), 'utf8').catch(() => null);
    const value =
      text === null
        ? null
        : metricValue({ m: flattenParams(parseParamsText(rule.metricFile, text)) }, 'm', rule.metricKey);
    if (value === null)
      throw new LockstepError(
        'data',
        `${rule.metricFile} has no number '${rule.metricKey}' after scoring the champion`,
        'Check promote.metric.',
      );
    return { value, log: String(r.all ?? '') };
  } finally {
    await fs.rm(tmp, { recursive: true, force: true });
  }
}

const lastLine = (s: string | undefined): string => (s ?? '').trim().split('\n').at(-1) ?? '';
