/**
 * `lockstep exp run|show|diff|apply|remove|list`: argument handling and rendering only; the work is in
 * src/exp/. Loaded lazily, and never loads TensorFlow.js (the exp module imports nothing from stages/).
 */
import type { Command } from 'commander';
import { LockstepError } from '../errors.js';
import { findProjectRoot } from '../project.js';
import { parseAggregates } from '../exp/aggregate.js';
import { diffExperiments } from '../exp/diff.js';
import { listExperiments } from '../exp/records.js';
import type { ExpEvent } from '../exp/run.js';
import { showTable } from '../exp/show.js';
import { collectShowRows, type ShowRows } from '../exp/show-rows.js';
import type { ExpTable } from '../exp/table.js';
import { renderCsv, renderDiff, renderMarkdown, renderText } from './exp-render.js';
import { EXP_SHORTHANDS } from '../product/sweep-shorthands.js';
import { globals, parseJobs } from './options.js';
import { errLine as err, out } from './render.js';

// run, apply, remove and push/pull load their modules (yaml, execa, p-limit) only when used, so
// `exp show` over a thousand records spends its time on the records, not on loading code.

/** exp run's flags; the project's shorthands (EXP_SHORTHANDS: --seed, --data) arrive under their keys. */
export interface RunOpts {
  setParam?: string[];
  name?: string;
  jobs?: string;
  json?: boolean;
  runCache?: boolean;
  challenge?: boolean;
  queue?: boolean;
}

export async function run(opts: RunOpts, cmd: Command): Promise<number> {
  const { quiet } = globals(cmd);
  const { describeAssignments, parseSetArg, shorthandOverrides } = await import('../exp/sweep.js');
  const { runExperiments } = await import('../exp/run.js');
  const overrides = [...shorthandOverrides({ ...opts }, EXP_SHORTHANDS), ...(opts.setParam ?? []).map(parseSetArg)];
  if (opts.queue) {
    const { enqueue } = await import('./queue.js');
    return enqueue({ overrides, ...(opts.name !== undefined ? { name: opts.name } : {}), json: !!opts.json });
  }
  const controller = new AbortController();
  const { onInterrupt } = await import('../util/interrupt.js');
  const stopListening = onInterrupt(() => controller.abort());
  const started = Date.now();
  const { headline, liveView } = await import('./exp-progress.js');
  const view = await liveView(err);
  const onEvent = (e: ExpEvent) => {
    if (opts.json) return out(JSON.stringify(e));
    if (quiet) return;
    switch (e.type) {
      case 'progress':
        return view.progress(e.name, e.stage, e.epoch, e.epochs);
      case 'planned':
        return err(
          `Running ${e.experiments.length} experiment${e.experiments.length > 1 ? 's' : ''} from ` +
            `${e.baseline.slice(0, 7)} (${e.jobs} at a time)`,
        );
      case 'start':
        err(`  started  ${e.name}  ${describeAssignments(e.assignments)}`);
        return view.start(e.name);
      case 'warmup':
        return err(`  ${e.name}: running shared stages first: ${e.stages.join(', ')}`);
      case 'done': {
        const r = e.result;
        const secs = (r.durationMs / 1000).toFixed(1);
        // the stage's own last words say more than lockstep's summary line after them
        const errLines = (r.error ?? '').split('\n').filter(Boolean);
        const why = r.error
          ? `: ${[...errLines].reverse().find((l) => l.startsWith('[')) ?? errLines.pop() ?? ''}`
          : '';
        const metric = r.state === 'success' ? headline(r.metrics) : '';
        return view.done(
          r.name,
          `  ${r.state === 'success' ? 'done   ' : 'FAILED '}  ${r.name}  ${secs}s${metric ? `  ${metric}` : ''}${why}`,
        );
      }
    }
  };
  try {
    const results = await runExperiments({
      cwd: process.cwd(),
      overrides,
      ...(opts.name !== undefined ? { name: opts.name } : {}),
      jobs: parseJobs(opts.jobs, 1),
      signal: controller.signal,
      onEvent,
      runCache: opts.runCache !== false,
    });
    view.stop();
    const failed = results.filter((r) => r.state === 'failed');
    const ran = results.reduce((n, r) => n + r.stages.ran.length, 0);
    const restored = results.reduce((n, r) => n + r.stages.restored.length, 0);
    if (opts.json) {
      out(
        JSON.stringify({
          type: 'summary',
          experiments: results.length,
          succeeded: results.length - failed.length,
          failed: failed.length,
          stagesRan: ran,
          stagesRestored: restored,
          durationMs: Date.now() - started,
        }),
      );
    } else if (!quiet) {
      const secs = ((Date.now() - started) / 1000).toFixed(1);
      err(
        `${results.length} experiment${results.length > 1 ? 's' : ''} recorded in ${secs}s: ` +
          `${results.length - failed.length} succeeded, ${failed.length} ` +
          `failed${failed.length ? ` (${failed.map((f) => f.name).join(', ')})` : ''}; stages: ${ran} ran, ` +
          `${restored} restored from the run-cache. See them with \`lockstep exp show\`.`,
      );
    }
    const succeeded = results.filter((r) => r.state === 'success');
    if (opts.challenge && succeeded.length) {
      // Each finished experiment challenges the champion in turn (README: Champion and challenger).
      const { challenge } = await import('./model.js');
      await challenge(
        succeeded.map((r) => r.sha),
        { json: !!opts.json },
      );
    }
    return failed.length ? 1 : 0;
  } finally {
    view.stop();
    stopListening();
  }
}

export interface ShowOpts {
  sortBy?: string;
  sortOrder?: string;
  onlyChanged?: boolean;
  allParams?: boolean;
  keep?: string[];
  drop?: string[];
  allCommits?: boolean;
  rev?: string[];
  csv?: boolean;
  json?: boolean;
  md?: boolean;
  groupBy?: string;
  agg?: string;
  width?: string;
}

export async function show(opts: ShowOpts): Promise<number> {
  const root = findProjectRoot(process.cwd());
  if (opts.sortOrder && opts.sortOrder !== 'asc' && opts.sortOrder !== 'desc') {
    throw new LockstepError(
      'usage',
      `--sort-order must be asc or desc, got '${opts.sortOrder}'`,
      'E.g. --sort-order desc.',
    );
  }
  const groupBy = opts.groupBy
    ?.split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  const shown = await collectShowRows(root, {
    ...(opts.rev ? { revs: opts.rev } : {}),
    allCommits: opts.allCommits ?? false,
    baselineRows: !groupBy?.length,
  });
  const table = showTable(shown.rows, {
    onlyChanged: opts.onlyChanged ?? false,
    allParams: opts.allParams ?? false,
    ...(opts.sortBy ? { sortBy: opts.sortBy } : {}),
    sortOrder: (opts.sortOrder as 'asc' | 'desc' | undefined) ?? 'asc',
    keep: opts.keep ?? [],
    drop: opts.drop ?? [],
    metricsOrder: shown.metricsOrder,
    ...(shown.primaryMetrics ? { primaryMetrics: shown.primaryMetrics } : {}),
    ...(groupBy?.length ? { groupBy, agg: parseAggregates(opts.agg) } : {}),
  });
  if (opts.json) {
    out(JSON.stringify(groupBy?.length ? groupedJson(table) : rowsJson(table, shown), null, 2));
    return 0;
  }
  if (opts.csv || opts.md) {
    process.stdout.write(opts.csv ? renderCsv(table) : renderMarkdown(table));
    return 0;
  }
  if (shown.experiments.length === 0) {
    err(
      opts.allCommits
        ? 'No experiments recorded.'
        : 'No experiments on this commit (HEAD). Run one with `lockstep exp run`, or see older ones with ' +
            '--all-commits.',
    );
  }
  if (table.rows.length === 0) {
    await showPending(root, shown.experiments);
    return 0;
  }
  const width = opts.width ? Number(opts.width) : (process.stdout.columns ?? Number(process.env.COLUMNS ?? 0)) || 160;
  const { text, note } = renderText(table, { width, ...(shown.head ? { head: shown.head } : {}) });
  out(text);
  if (note) err(note);
  await showPending(root, shown.experiments);
  return 0;
}

/** `--json --group-by`: the columns, and one object per group keyed by column label. */
function groupedJson(table: ExpTable) {
  return {
    columns: table.columns,
    groups: table.rows.map((r) => ({
      baseline: r.baseline,
      ...Object.fromEntries(table.columns.map((c) => [c.label, r.cells[c.id] ?? null])),
    })),
  };
}

/**
 * `--json`: the table's rows in its order, each with its type (`workspace`, `baseline`, `experiment`),
 * params and metrics by file; experiments also carry their record's details (overrides, duration, stages).
 */
function rowsJson(table: ExpTable, shown: ShowRows) {
  const bySha = new Map(shown.experiments.map((r) => [r.sha, r]));
  const byKey = new Map(shown.rows.map((r) => [`${r.kind ?? 'experiment'}:${r.baseline}:${r.name}`, r]));
  return table.rows.map((row) => {
    if (row.kind === 'experiment') {
      const { lock: _lock, ref: _ref, ...rest } = bySha.get(row.sha as string)!;
      return { type: 'experiment', ...rest };
    }
    const r = byKey.get(`${row.kind}:${row.baseline}:${row.name}`)!;
    return {
      type: row.kind,
      name: r.name,
      baseline: r.baseline,
      ...(r.sha ? { sha: r.sha } : {}),
      ...(r.created ? { created: r.created } : {}),
      params: r.params,
      metrics: r.metrics,
    };
  });
}

/** Queued and running experiments (exp run --queue) under the table, with worker and progress. */
async function showPending(root: string, records: Array<{ baseline: string; name: string }>): Promise<void> {
  const { pendingJobs } = await import('../queue/pending.js');
  const jobs = await pendingJobs(root, new Set(records.map((r) => `${r.baseline}/${r.name}`))).catch((e: Error) => {
    err(`(queue not read: ${e.message})`);
    return [];
  });
  if (!jobs.length) return;
  out('');
  out('Queued experiments (lockstep exp queue list):');
  for (const j of jobs) {
    const what = j.spec.assignments.map((a) => `${a.key}=${String(a.value)}`).join(' ');
    const where = j.state === 'active' ? ` on ${j.worker ?? '?'}${j.progress ? `: ${j.progress}` : ''}` : '';
    out(`  ${j.spec.name}  ${j.state === 'active' ? 'running' : j.state}${where}  ${what}`);
  }
}

/** `exp diff [a] [b]`: HEAD vs the workspace, A vs the workspace, or A vs B (experiments, revisions, workspace). */
export async function diff(
  a: string | undefined,
  b: string | undefined,
  opts: { all?: boolean; json?: boolean; md?: boolean },
): Promise<number> {
  const root = findProjectRoot(process.cwd());
  const [{ diffSides }, { pipelineOf }] = await Promise.all([
    import('../exp/diff-sides.js'),
    import('../exp/show-rows.js'),
  ]);
  const [ra, rb] = await diffSides(root, a, b, await pipelineOf(root));
  const rows = diffExperiments(ra, rb, { all: opts.all ?? false });
  if (opts.json) out(JSON.stringify(rows, null, 2));
  else if (rows.length === 0) err(`${ra.label} and ${rb.label} have the same params and metrics.`);
  else process.stdout.write(renderDiff(rows, ra.label, rb.label, opts.md ? 'md' : 'text'));
  return 0;
}

export async function apply(name: string, opts: { force?: boolean }): Promise<number> {
  const root = findProjectRoot(process.cwd());
  const { applyExperiment } = await import('../exp/manage.js');
  const r = await applyExperiment(root, name, { force: opts.force ?? false });
  err(`Applied ${r.experiment.name}: wrote ${r.files.join(', ')}; restored ${r.checkout.restored.length} outputs`);
  return 0;
}

export async function remove(
  names: string[],
  opts: { all?: boolean; allCommits?: boolean; rev?: string[]; json?: boolean },
): Promise<number> {
  const root = findProjectRoot(process.cwd());
  if (names.length && opts.all)
    throw new LockstepError('usage', 'exp remove takes names or --all, not both', 'Drop the names or --all.');
  const { removeExperiments } = await import('../exp/manage.js');
  const removed = await removeExperiments(root, {
    names,
    all: opts.all ?? false,
    allCommits: opts.allCommits ?? false,
    ...(opts.rev ? { revs: opts.rev } : {}),
  });
  if (opts.json) out(JSON.stringify(removed));
  else
    err(
      removed.length
        ? `Removed ${removed.length} experiment${removed.length > 1 ? 's' : ''}: ` +
            `${removed.map((r) => r.name).join(', ')}`
        : 'No experiments to remove.',
    );
  return 0;
}

export async function list(opts: {
  allCommits?: boolean;
  rev?: string[];
  namesOnly?: boolean;
  json?: boolean;
}): Promise<number> {
  const root = findProjectRoot(process.cwd());
  const records = await listExperiments(root, {
    allCommits: opts.allCommits ?? false,
    ...(opts.rev ? { revs: opts.rev } : {}),
  });
  if (opts.json) {
    out(
      JSON.stringify(
        records.map((r) => ({ name: r.name, baseline: r.baseline, sha: r.sha, created: r.created, state: r.state })),
        null,
        2,
      ),
    );
    return 0;
  }
  let last = '';
  for (const r of records) {
    if (opts.namesOnly) {
      out(r.name);
      continue;
    }
    if (r.baseline !== last) out(`${r.baseline.slice(0, 7)}:`);
    last = r.baseline;
    out(`\t${r.name}\t${r.state}`);
  }
  return 0;
}

type ShareFlags = { all?: boolean; allCommits?: boolean; remote?: string; outputs?: boolean };

/**
 * The cache objects the given experiment refs name (their outputs), moved to or from the lockstep
 * remote (`-r`, else `core.remote`). Without a remote store configured only the refs travel.
 */
async function moveOutputs(
  root: string,
  refs: string[],
  direction: 'push' | 'fetch',
  flags: ShareFlags,
): Promise<string> {
  if (flags.outputs === false || refs.length === 0) return '';
  const { moveExperimentOutputs } = await import('../exp/share-outputs.js');
  const r = await moveExperimentOutputs(root, refs, direction, { remote: flags.remote });
  if (r.kind === 'no-remote')
    return ` Outputs stay local: no default remote store (lockstep remote add -d NAME URL), or use -r NAME.`;
  const missing = r.missing ? `, ${r.missing} missing on the ${direction === 'push' ? 'local cache' : 'remote'}` : '';
  return (
    ` Outputs: ${r.transferred} object${r.transferred === 1 ? '' : 's'} moved, ${r.upToDate} already ` +
    `there${missing}.`
  );
}

export async function push(remote: string, names: string[], opts: ShareFlags): Promise<number> {
  const root = findProjectRoot(process.cwd());
  const { pushExperiments } = await import('../exp/share.js');
  const refs = await pushExperiments(root, remote, {
    names,
    all: opts.all ?? false,
    allCommits: opts.allCommits ?? false,
  });
  const outputs = await moveOutputs(root, refs, 'push', opts);
  err(
    refs.length
      ? `Pushed ${refs.length} experiment${refs.length > 1 ? 's' : ''} to ${remote}.${outputs}`
      : 'No experiments to push.',
  );
  return 0;
}

export async function pull(remote: string, names: string[], opts: ShareFlags): Promise<number> {
  const root = findProjectRoot(process.cwd());
  const { pullExperiments } = await import('../exp/share.js');
  const refs = await pullExperiments(root, remote, {
    names,
    all: opts.all ?? false,
    allCommits: opts.allCommits ?? false,
  });
  const outputs = await moveOutputs(root, refs, 'fetch', opts);
  err(
    refs.length
      ? `Fetched ${refs.length} experiment${refs.length > 1 ? 's' : ''} from ${remote}.${outputs}`
      : 'No experiments to fetch.',
  );
  return 0;
}
