/** The hard-examples sheet for the page: `lockstep hard-examples`' HTML, computed in memory (nothing written). */
import { listExperiments } from '../exp/records.js';
import { escapeHtml } from '../plots/html.js';
import { buildHardExamples } from '../report/index.js';
import { DEFAULT_OPTIONS } from '../report/types.js';
import type { UiContext } from './data.js';

export async function hardExamplesPage(ctx: UiContext): Promise<string> {
  const records = (await listExperiments(ctx.root, { allCommits: true })).filter((r) => r.state === 'success');
  try {
    const out = await buildHardExamples({ ...ctx, records, options: DEFAULT_OPTIONS, top: 48 });
    return out.html;
  } catch (e) {
    const why = e instanceof Error ? e.message : String(e);
    return `<!doctype html><meta charset="utf-8"><p>No hard-examples sheet: ${escapeHtml(why)}</p>`;
  }
}
