import path from 'node:path';
import type { Command } from 'commander';
import { LockstepError } from '../errors.js';
import type { ExperimentRecord } from '../exp/types.js';
import { openProject } from '../project.js';
import { buildHardExamples, type HardExamplesOutput } from '../report/index.js';
import { DEFAULT_OPTIONS } from '../report/types.js';
import { writeFileAtomic } from '../util/atomic.js';
import { globals } from './options.js';
import { drawTable } from './render.js';

export interface HardExamplesCliOptions {
  exp?: string[];
  rev?: string;
  minRate?: string;
  minRuns?: string;
  top?: string;
  outDir?: string;
  byClass?: boolean;
  json?: boolean;
}

export type ListExperiments = (
  root: string,
  opts: { revs?: string[]; names?: string[]; allCommits?: boolean },
) => Promise<ExperimentRecord[]>;

export interface HardExamplesDeps {
  cwd: string;
  listExperiments: ListExperiments;
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  quiet: boolean;
}

export const DEFAULT_TOP = 48;
export const CSV_NAME = 'hard_examples.csv';
export const HTML_NAME = 'hard_examples.html';

export async function run(opts: HardExamplesCliOptions, command: Command): Promise<number> {
  return runHardExamples(opts, {
    cwd: process.cwd(),
    listExperiments: await loadListExperiments(),
    stdout: (t) => process.stdout.write(t),
    stderr: (t) => process.stderr.write(t),
    quiet: globals(command).quiet,
  });
}

async function loadListExperiments(): Promise<ListExperiments> {
  return (await import('../exp/records.js')).listExperiments;
}

function parseNumber(flag: string, value: string | undefined, fallback: number, integer: boolean): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || (integer && !Number.isInteger(n))) {
    throw new LockstepError(
      'usage',
      `${flag} '${value}' is not a ${integer ? 'whole number' : 'number'}`,
      `Pass e.g. ${flag} ${fallback}.`,
    );
  }
  return n;
}

/** Select records: --exp names (any baseline), --rev's baseline, or every recorded experiment. */
async function selectRecords(
  root: string,
  opts: HardExamplesCliOptions,
  list: ListExperiments,
): Promise<ExperimentRecord[]> {
  const names = opts.exp ?? [];
  if (names.length > 0 && opts.rev) {
    throw new LockstepError(
      'usage',
      '--exp and --rev both given',
      'Select experiments either by name (--exp) or by baseline (--rev).',
    );
  }
  if (names.length > 0) {
    const records = await list(root, { names, allCommits: true });
    // listExperiments also matches a sha prefix of 7+ characters, as exp show does
    const unknown = names.filter((n) => !records.some((r) => r.name === n || (n.length >= 7 && r.sha.startsWith(n))));
    if (unknown.length > 0) {
      throw new LockstepError(
        'report',
        `no experiment named ${unknown.join(', ')}`,
        'lockstep exp list shows the recorded names.',
      );
    }
    return records;
  }
  if (opts.rev) {
    const records = await list(root, { revs: [opts.rev] });
    if (records.length === 0)
      throw new LockstepError(
        'report',
        `no experiments recorded for baseline ${opts.rev}`,
        'Run lockstep exp run on that commit, or drop --rev.',
      );
    return records;
  }
  const records = await list(root, { allCommits: true });
  if (records.length === 0) throw new LockstepError('report', 'no experiments recorded', 'Run lockstep exp run first.');
  return records;
}

/** The command with its world injected: computes everything, then writes both files, then prints. */
export async function runHardExamples(opts: HardExamplesCliOptions, deps: HardExamplesDeps): Promise<number> {
  const options = {
    minRate: parseNumber('--min-rate', opts.minRate, DEFAULT_OPTIONS.minRate, false),
    minRuns: parseNumber('--min-runs', opts.minRuns, DEFAULT_OPTIONS.minRuns, true),
  };
  const top = parseNumber('--top', opts.top, DEFAULT_TOP, true);
  if (top < 0) throw new LockstepError('usage', `--top '${opts.top}' is negative`, `Pass e.g. --top ${DEFAULT_TOP}.`);
  const project = await openProject(deps.cwd);
  const outDir = opts.outDir ? path.resolve(deps.cwd, opts.outDir) : path.join(project.root, 'results');
  const records = await selectRecords(project.root, opts, deps.listExperiments);
  const out = await buildHardExamples({ root: project.root, cacheDir: project.cacheDir, records, options, top });

  const csvFile = path.join(outDir, CSV_NAME);
  const htmlFile = path.join(outDir, HTML_NAME);
  await writeFileAtomic(csvFile, out.csv);
  await writeFileAtomic(htmlFile, out.html);

  const shown = (f: string) => path.relative(deps.cwd, f) || f;
  if (opts.json) {
    const { report } = out;
    deps.stdout(
      `${JSON.stringify(
        { ...report, skipped: out.skipped, missingImages: out.missingImages, files: { csv: csvFile, html: htmlFile } },
        null,
        2,
      )}\n`,
    );
    return 0;
  }
  for (const line of warnings(out)) deps.stderr(`lockstep: warning: ${line}\n`);
  if (deps.quiet) return 0;
  deps.stdout(renderSummary(out, top, shown(csvFile), shown(htmlFile)));
  if (opts.byClass) deps.stdout(`${renderByClass(out)}\n`);
  return 0;
}

function warnings(out: HardExamplesOutput): string[] {
  const lines: string[] = [];
  if (out.skipped.length > 0)
    lines.push(`left out failed experiment${out.skipped.length > 1 ? 's' : ''} ${out.skipped.join(', ')}`);
  if (out.missingImages.length > 0) {
    const first = out.missingImages[0];
    lines.push(
      `${out.missingImages.length} image${out.missingImages.length > 1 ? 's' : ''} of the page not found (first: ` +
        `${first?.why}); run lockstep pull`,
    );
  }
  return lines;
}

const pct = (x: number): string => `${(x * 100).toFixed(0)}%`;

export function renderSummary(out: HardExamplesOutput, top: number, csvFile: string, htmlFile: string): string {
  const r = out.report;
  const lines: string[] = [];
  const runs = `${r.runs.length} experiment${r.runs.length === 1 ? '' : 's'}`;
  lines.push(
    `${r.hard.length} hard example${r.hard.length === 1 ? '' : 's'} of ${r.imagesSeen} images seen by ${runs}` +
      ` (missed in >= ${pct(r.options.minRate)} of >= ${r.options.minRuns} runs` +
      (r.imagesBelowMinRuns > 0 ? `; ${r.imagesBelowMinRuns} images seen by fewer runs)` : ')'),
  );
  const perClass = r.byClass.filter((c) => c.hard > 0).sort((a, b) => b.hard - a.hard);
  if (perClass.length > 0) lines.push(`hard per true class: ${perClass.map((c) => `${c.label} ${c.hard}`).join(', ')}`);
  if (r.confusions.length > 0) {
    lines.push(
      `most common confusions: ${r.confusions
        .slice(0, 5)
        .map((c) => `${c.trueLabel} -> ${c.wrongLabel} ${c.count}`)
        .join(', ')}`,
    );
  }
  lines.push(`wrote ${csvFile} and ${htmlFile} (top ${Math.min(top, r.hard.length)})`);
  return `${lines.join('\n')}\n`;
}

export function renderByClass(out: HardExamplesOutput): string {
  const body = out.report.byClass.map((c) => [
    c.label,
    String(c.images),
    String(c.hard),
    c.images ? pct(c.hard / c.images) : '-',
    c.meanMissRate.toFixed(3),
    c.meanPTrue.toFixed(3),
    c.topConfusion ?? '',
  ]);
  const head = ['class', 'images', 'hard', 'hard %', 'mean miss rate', 'mean p_true', 'top confusion'];
  return drawTable(head, body, [false, true, true, true, true, true, false]);
}
