/**
 * Public API of the hard-examples report: statistics over experiments' predictions (pure, in
 * hard-examples.ts) and the CSV / HTML contents. Nothing here writes files or prints.
 */
import type { ExperimentRecord } from '../exp/types.js';
import { hardExamplesCsv } from './csv.js';
import { computeHardExamples } from './hard-examples.js';
import { renderHardExamplesHtml, type HtmlImage } from './html.js';
import { ImageResolver, loadPredictionRuns } from './load.js';
import type { HardExampleOptions, HardExamplesReport } from './types.js';

export { computeHardExamples, hardestFirst, isHard, populationStd } from './hard-examples.js';
export { hardExamplesCsv, HARD_EXAMPLES_COLUMNS } from './csv.js';
export { renderHardExamplesHtml, THUMB_PX } from './html.js';
export { PREDICTIONS_PATH, parsePredictionsCsv } from '../product/predictions.js';
export { loadPredictionRuns, ImageResolver, cacheObjectPath } from './load.js';
export type * from './types.js';

export interface HardExamplesRequest {
  root: string;
  cacheDir: string;
  records: readonly ExperimentRecord[];
  options: HardExampleOptions;
  /** Images shown on the HTML page. */
  top: number;
}

export interface HardExamplesOutput {
  report: HardExamplesReport;
  csv: string;
  html: string;
  /** Failed experiments left out. */
  skipped: string[];
  /** Images of the page that could not be found (the page shows a placeholder). */
  missingImages: { id: string; why: string }[];
  /** Images of the page read from the workspace because no pipeline.lock records them. */
  workspaceImages: number;
}

/** Everything the command writes, computed in memory first so an error leaves no partial report. */
export async function buildHardExamples(req: HardExamplesRequest): Promise<HardExamplesOutput> {
  const loaded = await loadPredictionRuns(req.records, req.cacheDir);
  const report = computeHardExamples(loaded.runs, req.options);
  const resolver = new ImageResolver(loaded.locks, req.cacheDir, req.root);
  const shown = report.hard.slice(0, Math.max(0, req.top));
  const lookups = await Promise.all(shown.map((s) => resolver.lookup(s.path)));
  const images = new Map<string, HtmlImage>();
  const missingImages: { id: string; why: string }[] = [];
  let workspaceImages = 0;
  shown.forEach((s, i) => {
    const l = lookups[i];
    if (!l) return;
    if (l.bytes) {
      images.set(s.id, { bytes: l.bytes });
      if (l.from === 'workspace') workspaceImages++;
    } else {
      images.set(s.id, { bytes: null, why: l.why });
      missingImages.push({ id: s.id, why: l.why });
    }
  });
  return {
    report,
    csv: hardExamplesCsv(report),
    html: renderHardExamplesHtml(report, req.top, images),
    skipped: loaded.skipped,
    missingImages,
    workspaceImages,
  };
}
