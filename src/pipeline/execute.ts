import { existsSync, promises as fs } from 'node:fs';
import path from 'node:path';
import { registerRun } from '../cache/activity.js';
import { checkoutOutput, commitOutput, unprotectOutput } from '../cache/index.js';
import { resolveStageParams } from '../config/index.js';
import type { StageDef } from '../config/types.js';
import { LockstepError } from '../errors.js';
import type { Md5 } from '../hash/types.js';
import { absPath, type Workspace } from './context.js';
import type { Emit, ReproSummary, StageOutcome } from './events.js';
import { ignoreOutputs } from '../util/gitignore.js';
import { withDownstream } from './graph.js';
import { trackedBy } from '../dvcfile/collect.js';
import { commitDvcFiles } from '../dvcfile/add.js';
import { dvcFilesStatus } from './status.js';
import { lockedPath, type LockedPath, type LockedStage } from './lockfile.js';
import { LockSetWriter } from './lock-set.js';
import { collectStaleReasons, forgetObservations, observeStage } from './observe.js';
import { defaultReproTargets, planRepro, selectStages } from './plan.js';
import { type ProgressTiming, stageProgress } from './progress.js';
import { runStageCommands, stageEnv } from './run-command.js';
import { findRunCacheEntries, runCacheKey, saveRunCacheEntry } from './run-cache.js';
import { isAuxiliary, lockedCmd, staleReasons } from './staleness.js';

export interface ReproOptions {
  targets: string[];
  force: boolean;
  singleItem: boolean;
  downstream: boolean;
  keepGoing: boolean;
  jobs: number;
  runCache: boolean;
  dry: boolean;
  /** `-P/--all-pipelines`: with no targets, every stage of every pipeline file (else the cwd's file's, as DVC). */
  allPipelines?: boolean;
  /** `repro --pull`: what a restore lacks locally is asked of a remote before the stage runs. */
  pull?: MissingFetcher;
  /** When hashing and caching large outputs report `stage-progress` events (progress.ts). */
  progress?: ProgressTiming;
  /**
   * Variables the stage commands get over this process's environment (`exp run` runs several workspaces
   * in one process: each experiment's LOCKSTEP_EXP_NAME, the sweep's LOCKSTEP_JOBS, the shared cache).
   */
  env?: Readonly<Record<string, string>>;
  /** The caller registered a run on this cache for gc already (cache/activity.ts): `exp run` does, for the sweep. */
  cacheRegistered?: boolean;
}

/** How `repro --pull` brings what a restore lacks from a remote (src/remote implements it). */
export interface MissingFetcher {
  /** The run-cache entries the remote keeps under `key`, copied into the local run-cache. */
  runCacheEntries(key: string): Promise<void>;
  /** These objects (directory manifests expanded) into the cache; what the remote lacks stays missing. */
  objects(hashes: Md5[]): Promise<void>;
}

/**
 * Stages whose outputs can all be restored can use the run-cache. As in DVC, that includes
 * `cache: false` outputs (metrics, plots): the run-cache keeps a copy of them in the object store.
 */
function canUseRunCache(stage: StageDef): boolean {
  return stage.outs.every((o) => isAuxiliary(o) || !o.persist);
}

/**
 * As `dvc repro` does, data tracked by a .dvc file that changed in the workspace is committed first (its
 * .dvc file records the new content): all .dvc files, or with targets those the selected stages depend on.
 */
async function commitChangedDvcFiles(ws: Workspace, selected: string[], targeted: boolean): Promise<void> {
  let files = ws.dvcFiles;
  if (targeted) {
    const deps = selected.flatMap((n) => ws.graph.byName.get(n)!.deps.map((d) => d.path));
    files = files.filter((f) => deps.some((d) => trackedBy([f], d)));
  }
  const changed = (await dvcFilesStatus(ws, files)).filter((s) =>
    Object.values(s.changed).every((c) => c === 'modified' || c === 'not in cache'),
  );
  if (!changed.length) return;
  const byFile = new Set(changed.map((c) => c.file));
  const done = await commitDvcFiles(
    ws,
    files.filter((f) => byFile.has(f.file)),
  );
  // later steps (status, checkout) see the new records
  for (const d of done) {
    const f = ws.dvcFiles.find((x) => x.file === d.file);
    const o = f?.outs.find((x) => x.path === d.path);
    if (o) Object.assign(o, { md5: d.md5, size: d.size, ...(d.nfiles !== undefined ? { nfiles: d.nfiles } : {}) });
  }
}

/**
 * Configuration problems surface before anything runs: every selected stage's params resolve. A dep that
 * no stage produces and that does not exist blocks only the stages that need it (and their downstream),
 * as in DVC: the others run. Data tracked by a .dvc file is a valid source; when it is not in the
 * workspace the message says how to get it.
 */
async function checkBeforeRunning(
  ws: Workspace,
  selected: string[],
): Promise<Map<string, { message: string; hint: string }>> {
  for (const name of selected) {
    const stage = ws.graph.byName.get(name)!;
    if (!stage.frozen) await resolveStageParams(ws.project.root, stage, ws.params);
  }
  const produced = new Map<string, Set<string>>();
  for (const e of ws.graph.edges) {
    const set = produced.get(e.to) ?? new Set();
    for (const p of e.paths) set.add(p);
    produced.set(e.to, set);
  }
  const blocked = new Map<string, { message: string; hint: string }>();
  for (const name of selected) {
    const stage = ws.graph.byName.get(name)!;
    if (stage.frozen) continue;
    for (const d of stage.deps) {
      if (produced.get(name)?.has(d.path) || existsSync(absPath(ws, d.path))) continue;
      const tracker = trackedBy(ws.dvcFiles, d.path);
      blocked.set(
        name,
        tracker
          ? {
              message:
                `stage '${name}': dependency '${d.path}' is tracked by ${tracker.file} but is not in the ` +
                `workspace`,
              hint: `Run lockstep checkout ${tracker.file} (or lockstep pull ${tracker.file}).`,
            }
          : {
              message: `stage '${name}': dependency '${d.path}' does not exist and no stage produces it`,
              hint: 'Create it, or fix the path in deps.',
            },
      );
      break;
    }
  }
  return blocked;
}

export async function reproduce(
  ws: Workspace,
  opts: ReproOptions,
  emit: Emit,
  signal: AbortSignal,
): Promise<ReproSummary> {
  const targets = opts.targets.length || opts.allPipelines ? opts.targets : defaultReproTargets(ws.graph, ws.cwd);
  const selection = selectStages(ws.graph, { ...opts, targets, cwd: ws.cwd });
  if (!selection.ok) throw selection.error;
  const selected = selection.value;
  const summary: ReproSummary = { outcomes: new Map(), failures: [], interrupted: false };

  if (opts.dry) {
    const own = await collectStaleReasons(ws, selected);
    const plan = planRepro(ws.graph, selected, own, { force: opts.force });
    emit({ type: 'plan', items: plan });
    for (const p of plan)
      summary.outcomes.set(p.stage, p.action === 'run' ? 'skipped' : p.action === 'frozen' ? 'frozen' : 'fresh');
    return summary;
  }

  await commitChangedDvcFiles(ws, selected, opts.targets.length > 0);
  const blocked = await checkBeforeRunning(ws, selected);
  const writer = new LockSetWriter(
    ws.project.root,
    ws.lock,
    ws.lockTargets,
    ws.graph.order,
    ws.graph.stages,
    async (f) => {
      const r = await ws.params.read(f);
      return r.ok ? r.floats : undefined;
    },
  );
  const inSelection = new Set(selected);
  const pending = new Set(selected);
  const running = new Map<string, Promise<void>>();
  let stopLaunching = false;

  const finish = (name: string, outcome: StageOutcome, message?: string) => {
    if (outcome !== 'fresh' && outcome !== 'frozen') forgetObservations(ws);
    summary.outcomes.set(name, outcome);
    if (outcome === 'interrupted') summary.interrupted = true;
    if (outcome === 'failed' || outcome === 'interrupted') {
      if (message) summary.failures.push({ stage: name, message });
      if (!opts.keepGoing || outcome === 'interrupted') stopLaunching = true;
      for (const d of withDownstream(ws.graph, [name])) {
        if (d !== name && pending.delete(d)) {
          summary.outcomes.set(d, 'skipped');
          emit({ type: 'stage-skipped', stage: d, because: `upstream stage '${name}' failed` });
        }
      }
    }
  };

  const ready = (name: string) =>
    [...ws.graph.upstream.get(name)!].every((u) => !inSelection.has(u) || (summary.outcomes.has(u) && !running.has(u)));

  // gc must not sweep the cache while this run writes objects its lock file does not name yet
  const unregister = opts.cacheRegistered ? async () => {} : await registerRun(ws.project.cacheDir, 'lockstep repro');
  try {
    while (pending.size > 0 || running.size > 0) {
      if (!stopLaunching && !signal.aborted) {
        for (const name of [...pending]) {
          if (running.size >= Math.max(1, opts.jobs)) break;
          if (!pending.has(name) || !ready(name)) continue;
          pending.delete(name);
          const block = blocked.get(name);
          if (block) {
            // only this stage and its downstream fail; independent stages still run
            emit({ type: 'stage-failed', stage: name, message: block.message });
            summary.outcomes.set(name, 'failed');
            summary.failures.push({ stage: name, message: block.message, reason: 'missing-dep', hint: block.hint });
            for (const d of withDownstream(ws.graph, [name])) {
              if (d !== name && pending.delete(d)) {
                summary.outcomes.set(d, 'skipped');
                emit({ type: 'stage-skipped', stage: d, because: `upstream stage '${name}' failed` });
              }
            }
            continue;
          }
          const task = runOne(ws, writer, name, opts, emit, signal)
            .then(({ outcome, message }) => finish(name, outcome, message))
            .catch((e: unknown) => {
              const message =
                e instanceof LockstepError
                  ? `${e.message}${e.hint ? ` ${e.hint}` : ''}`
                  : `stage '${name}': ${(e as Error).message}`;
              emit({ type: 'stage-failed', stage: name, message });
              finish(name, 'failed', message);
            })
            .finally(() => running.delete(name));
          running.set(name, task);
        }
      }
      if (running.size === 0) break; // nothing launchable: stopped, interrupted or blocked by failures
      await Promise.race(running.values());
    }
  } finally {
    await Promise.allSettled(running.values());
    await ws.hasher.save();
    await unregister();
  }
  if (signal.aborted) summary.interrupted = true;
  return summary;
}

async function runOne(
  ws: Workspace,
  writer: LockSetWriter,
  name: string,
  opts: ReproOptions,
  emit: Emit,
  signal: AbortSignal,
): Promise<{ outcome: StageOutcome; message?: string }> {
  const stage = ws.graph.byName.get(name)!;
  if (stage.frozen) {
    emit({ type: 'stage-frozen', stage: name });
    return { outcome: 'frozen' };
  }
  const observed = await observeStage(ws, stage, (p) => stageProgress(emit, name, p, opts.progress));
  const reasons = staleReasons(stage, ws.lock.stages[name], observed);
  if (opts.force) reasons.unshift({ kind: 'forced' });
  if (reasons.length === 0) {
    emit({ type: 'stage-fresh', stage: name });
    return { outcome: 'fresh' };
  }
  forgetObservations(ws); // this stage writes from here on
  const cmd = lockedCmd(stage);
  const deps: LockedPath[] = [];
  for (const [p, info] of observed.deps) {
    if (!info) {
      const message = `stage '${name}': dependency '${p}' does not exist (its producer did not create it)`;
      emit({ type: 'stage-failed', stage: name, message });
      return { outcome: 'failed', message };
    }
    deps.push(lockedPath(p, info));
  }
  const key = runCacheKey(cmd, deps, observed.params);
  const runCacheAllowed = opts.runCache && !opts.force && !stage.alwaysChanged && canUseRunCache(stage);

  if (runCacheAllowed) {
    const pull = opts.pull;
    // a remote that cannot answer only costs the restore: the stage then runs, as without --pull
    const tryPull = async (what: () => Promise<void>): Promise<boolean> => {
      try {
        await what();
        return true;
      } catch (e) {
        emit({
          type: 'stage-pull-failed',
          stage: name,
          message: e instanceof LockstepError ? e.message : (e as Error).message,
        });
        return false;
      }
    };
    let pullWorks = pull ? await tryPull(() => pull.runCacheEntries(key)) : false;
    const current = ws.lock.stages[name];
    const candidates: { entry: LockedStage; from: 'run-cache' | 'lock' }[] = [];
    if (current && runCacheKey(current.cmd, current.deps ?? [], current.params ?? {}) === key)
      candidates.push({ entry: current, from: 'lock' });
    for (const entry of await findRunCacheEntries(ws.project.cacheDir, key))
      candidates.push({ entry, from: 'run-cache' });
    for (const { entry, from } of candidates) {
      let outs = await restoreOutputs(ws, stage, entry);
      let pulled = false;
      if (!outs && pull && pullWorks) {
        pullWorks = await tryPull(() => pull.objects(restorableHashes(stage, entry)));
        outs = pullWorks ? await restoreOutputs(ws, stage, entry) : null;
        pulled = outs !== null;
      }
      if (!outs) continue;
      await writer.update(name, { cmd, deps, params: observed.params, outs });
      await ignoreOutputs(
        ws.project.root,
        stage.outs.filter((o) => o.cache).map((o) => o.path),
      );
      emit({ type: 'stage-restored', stage: name, from, ...(pulled ? { pulled } : {}) });
      return { outcome: 'restored' };
    }
  }

  // Never wrongly fresh: forget the stage before its outputs change, record it only when all is cached.
  await writer.update(name, undefined);
  for (const o of stage.outs) {
    const abs = absPath(ws, o.path);
    if (!o.persist) await fs.rm(abs, { recursive: true, force: true });
    // A persistent output placed by hardlink/symlink is the read-only cache object: give the stage a
    // writable copy (DVC's unprotect) so editing it in place can never touch the cache.
    else if (existsSync(abs)) await unprotectOutput(abs);
    await fs.mkdir(path.dirname(abs), { recursive: true });
  }
  emit({ type: 'stage-start', stage: name, reasons, commands: stage.cmd });
  const started = Date.now();
  const result = await runStageCommands(stage.cmd, {
    cwd: absPath(ws, stage.wdir),
    env: stageEnv(ws.project.root, name, opts.jobs, opts.env ? { ...process.env, ...opts.env } : process.env),
    signal,
    onLine: (stream, line) => emit({ type: 'stage-output', stage: name, stream, line }),
  });
  ws.params.clear();
  if (result.interrupted) {
    const message = `stage '${name}' was interrupted; it will run again next time`;
    emit({ type: 'stage-failed', stage: name, message });
    return { outcome: 'interrupted', message };
  }
  if (result.exitCode !== 0) {
    const which = stage.cmd.length > 1 ? ` (command ${(result.failedIndex ?? 0) + 1} of ${stage.cmd.length})` : '';
    const how = result.exitCode === null ? `was killed by ${result.signal}` : `exited with code ${result.exitCode}`;
    const message = `stage '${name}' failed: its command${which} ${how}`;
    emit({ type: 'stage-failed', stage: name, message });
    return { outcome: 'failed', message };
  }

  const outs: LockedPath[] = [];
  for (const o of stage.outs) {
    const abs = absPath(ws, o.path);
    const info = !existsSync(abs)
      ? null
      : o.cache
        ? await commitOutput(ws.store, ws.hasher, abs, ws.project.linkTypes, {
            displayRoot: ws.project.root,
            onProgress: stageProgress(emit, name, o.path, opts.progress),
          })
        : ((await ws.hasher.hashPath(abs))?.info ?? null);
    if (!info) {
      if (isAuxiliary(o)) continue;
      const message = `stage '${name}' ran but did not create its output '${o.path}'`;
      emit({ type: 'stage-failed', stage: name, message });
      return { outcome: 'failed', message };
    }
    outs.push(lockedPath(o.path, info));
  }
  const entry: LockedStage = { cmd, deps, params: observed.params, outs };
  await writer.update(name, entry);
  await ignoreOutputs(
    ws.project.root,
    stage.outs.filter((o) => o.cache).map((o) => o.path),
  );
  if (runCacheAllowed || (opts.force && canUseRunCache(stage) && !stage.alwaysChanged)) {
    // Uncached outputs stay plain workspace files; the run-cache needs their content in the store.
    for (const o of stage.outs)
      if (!o.cache && !isAuxiliary(o)) await commitOutput(ws.store, ws.hasher, absPath(ws, o.path), ['copy']);
    await saveRunCacheEntry(ws.project.cacheDir, key, {
      ...entry,
      outs: outs.filter((o) => !stage.outs.some((d) => d.path === o.path && isAuxiliary(d))),
    });
  }
  emit({ type: 'stage-ran', stage: name, durationMs: Date.now() - started });
  return { outcome: 'ran' };
}

/** The objects restoreOutputs needs for this entry (what --pull asks the remote for). */
function restorableHashes(stage: StageDef, entry: LockedStage): Md5[] {
  return stage.outs
    .filter((o) => !isAuxiliary(o))
    .flatMap((o) => entry.outs?.find((x) => x.path === o.path)?.md5 ?? []);
}

/** Restore a stage's cached outputs from a run-cache or lock entry; null when any object is unusable. */
async function restoreOutputs(ws: Workspace, stage: StageDef, entry: LockedStage): Promise<LockedPath[] | null> {
  const wanted = stage.outs.filter((o) => !isAuxiliary(o));
  const found: LockedPath[] = [];
  for (const o of wanted) {
    const e = entry.outs?.find((x) => x.path === o.path);
    if (!e || !(await ws.store.has(e.md5))) return null;
    found.push(e);
  }
  try {
    for (const e of found) {
      // An uncached output (git tracks it) is restored as an independent copy, never a link.
      const cached = stage.outs.find((o) => o.path === e.path)?.cache !== false;
      await checkoutOutput(
        ws.store,
        { md5: e.md5, size: e.size, nfiles: e.nfiles },
        absPath(ws, e.path),
        cached ? ws.project.linkTypes : ['copy'],
        { displayRoot: ws.project.root },
      );
    }
  } catch (err) {
    if (err instanceof LockstepError && (err.reason === 'missing-object' || err.reason === 'corrupt-object'))
      return null;
    throw err;
  }
  return found;
}
