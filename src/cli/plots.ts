/** `lockstep plots show|diff`: collect the plots (src/plots), then write index.html or print JSON. */
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { openProject } from '../project.js';
import { collectPlots, diffRevs, plotsJson, type PlotsReport } from '../plots/show.js';
import { writeFileAtomic } from '../util/atomic.js';
import { errLine, out } from './options.js';

interface PlotsFlags {
  out?: string;
  json?: boolean;
  open?: boolean;
  targets?: string[];
}

export const DEFAULT_PLOTS_DIR = 'dvc_plots';

async function render(report: PlotsReport, flags: PlotsFlags, title: string): Promise<number> {
  for (const w of report.warnings) errLine(`lockstep: warning: ${w}`);
  if (flags.json) {
    out(JSON.stringify(plotsJson(report), null, 2));
    return 0;
  }
  if (!report.plots.length) {
    errLine(`lockstep: no plots to draw in ${report.revs.join(', ')}`);
    return 0;
  }
  const { renderHtml } = await import('../plots/html.js');
  const file = path.resolve(flags.out ?? DEFAULT_PLOTS_DIR, 'index.html');
  await writeFileAtomic(file, renderHtml(report.plots, { title, warnings: report.warnings }));
  const url = pathToFileURL(file).href;
  out(url);
  if (flags.open) {
    const { default: open } = await import('open');
    await open(url, { wait: false });
  }
  return 0;
}

export async function show(targets: string[], flags: PlotsFlags): Promise<number> {
  const project = await openProject();
  const report = await collectPlots({ root: project.root, cacheDir: project.cacheDir, targets, revs: ['workspace'] });
  return render(report, flags, 'lockstep plots');
}

export async function diff(revs: string[], flags: PlotsFlags): Promise<number> {
  const project = await openProject();
  const runs = diffRevs(revs);
  const report = await collectPlots({
    root: project.root,
    cacheDir: project.cacheDir,
    targets: flags.targets ?? [],
    revs: runs,
  });
  return render(report, flags, `lockstep plots diff: ${runs.join(' vs ')}`);
}
