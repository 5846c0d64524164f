/** `lockstep stage add` / `stage list`, with DVC's flags and output. */
import { addStage, type NewStage } from '../config/edit.js';
import { loadPipeline } from '../config/load.js';
import { ignoreOutputs } from '../util/gitignore.js';
import { openProject } from '../project.js';
import { out } from './options.js';

export interface StageAddFlags {
  name: string;
  deps?: string[];
  params?: string[];
  outs?: string[];
  outsNoCache?: string[];
  outsPersist?: string[];
  metrics?: string[];
  metricsNoCache?: string[];
  plots?: string[];
  plotsNoCache?: string[];
  wdir?: string;
  desc?: string;
  alwaysChanged?: boolean;
  force?: boolean;
}

export async function add(command: string[], flags: StageAddFlags): Promise<number> {
  const project = await openProject();
  const stage: NewStage = {
    name: flags.name,
    cmd: command.join(' '),
    deps: flags.deps ?? [],
    params: flags.params ?? [],
    outs: flags.outs ?? [],
    outsNoCache: flags.outsNoCache ?? [],
    outsPersist: flags.outsPersist ?? [],
    metrics: flags.metrics ?? [],
    metricsNoCache: flags.metricsNoCache ?? [],
    plots: flags.plots ?? [],
    plotsNoCache: flags.plotsNoCache ?? [],
    ...(flags.wdir ? { wdir: flags.wdir } : {}),
    ...(flags.desc ? { desc: flags.desc } : {}),
    ...(flags.alwaysChanged ? { alwaysChanged: true } : {}),
  };
  const r = await addStage(project.root, stage, { force: !!flags.force });
  const pipeline = await loadPipeline(project.root);
  const def = pipeline.stages.find((s) => s.name === stage.name);
  const cached = def?.outs.filter((o) => o.cache).map((o) => o.path) ?? [];
  await ignoreOutputs(project.root, cached);
  out(`${r.replaced ? 'Modified' : 'Added'} stage '${stage.name}' in '${r.file}'`);
  return 0;
}

export async function list(flags: { nameOnly?: boolean }): Promise<number> {
  const project = await openProject();
  const pipeline = await loadPipeline(project.root, { cacheDir: project.cacheDir });
  const rows = pipeline.stages.map((s) => {
    if (s.desc) return [s.name, s.desc.split('\n')[0] ?? ''];
    const outs = s.outs.filter((o) => o.kind === 'outs').map((o) => o.path);
    const reports = s.outs.filter((o) => o.kind !== 'outs').map((o) => o.path);
    const parts = [
      ...(outs.length ? [`Outputs ${outs.join(', ')}`] : []),
      ...(reports.length ? [`Reports ${reports.join(', ')}`] : []),
    ];
    return [s.name, parts.join('; ')];
  });
  if (flags.nameOnly) {
    for (const [n] of rows) out(n);
    return 0;
  }
  const w = Math.max(0, ...rows.map(([n]) => n!.length));
  for (const [n, d] of rows) out(d ? `${n!.padEnd(w)}  ${d}` : n);
  return 0;
}
