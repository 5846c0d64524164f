import path from 'node:path';
import { openProject } from '../project.js';
import { loadPipeline } from '../config/index.js';
import { buildGraph } from '../pipeline/graph.js';
import { dagAscii, dagDot, dagJson, dagMermaid } from '../pipeline/dag-render.js';
import { selectStages } from '../pipeline/plan.js';
import { out } from './render.js';

/** Read-only: takes no lock and hashes nothing. */
export async function run(
  target: string | undefined,
  flags: { mermaid?: boolean; dot?: boolean; json?: boolean },
): Promise<number> {
  const project = await openProject();
  const pipeline = await loadPipeline(project.root, { cacheDir: project.cacheDir });
  const graph = buildGraph(pipeline.stages);
  if (!graph.ok) throw graph.error;
  const cwd = path.relative(project.root, process.cwd()).split(path.sep).join('/') || '.';
  const sel = selectStages(graph.value, {
    targets: target ? [target] : [],
    singleItem: false,
    downstream: false,
    cwd: cwd.startsWith('..') ? '.' : cwd,
  });
  if (!sel.ok) throw sel.error;
  const names = new Set(sel.value);
  if (flags.json) out(JSON.stringify(dagJson(graph.value, names), null, 2));
  else if (flags.mermaid) out(dagMermaid(graph.value, names));
  else if (flags.dot) out(dagDot(graph.value, names));
  else out(dagAscii(graph.value, names));
  return 0;
}
