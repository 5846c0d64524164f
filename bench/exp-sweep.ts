/**
 * By-hand benchmark of the real seed x partition study: `node dist/bench/exp-sweep.js [-j N] [exp run args…]`
 * runs the 15-experiment sweep (seeds 42,100,2025 x data v1,v2,v3,v1+v2,v1+v2+v3) in this project
 * with short training (train.epochs=1, train.max_train_images=2000 unless overridden), then prints the
 * wall time and how many stage runs the run-cache saved (stages restored instead of run). Records land
 * under refs/exps of HEAD; remove them with `lockstep exp remove --all`.
 */
import { execa } from 'execa';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const CLI = path.join(ROOT, 'bin/lockstep.js');
const extra = process.argv.slice(2);
const jobs = extra.includes('-j') ? [] : ['-j', '2'];
const short = extra.some((a) => a.startsWith('train.epochs'))
  ? []
  : ['-S', 'train.epochs=1', '-S', 'train.max_train_images=2000'];
const args = [
  'exp',
  'run',
  '--json',
  '--seed',
  '42,100,2025',
  '--data',
  'v1,v2,v3,v1+v2,v1+v2+v3',
  ...jobs,
  ...short,
  ...extra,
];
console.log(`lockstep ${args.join(' ')}`);
const t0 = Date.now();
const r = await execa(process.execPath, [CLI, ...args], { cwd: ROOT, reject: false, stderr: 'inherit' });
const wall = (Date.now() - t0) / 1000;
const events = r.stdout
  .split('\n')
  .filter(Boolean)
  .map((l) => JSON.parse(l) as { type: string; [k: string]: unknown });
const summary = events.find((e) => e.type === 'summary');
const done = events
  .filter((e) => e.type === 'done')
  .map(
    (e) =>
      e.result as { name: string; state: string; durationMs: number; stages: { ran: string[]; restored: string[] } },
  );
const byStage = new Map<string, { ran: number; restored: number }>();
for (const d of done) {
  for (const s of d.stages.ran)
    byStage.set(s, { ran: (byStage.get(s)?.ran ?? 0) + 1, restored: byStage.get(s)?.restored ?? 0 });
  for (const s of d.stages.restored)
    byStage.set(s, { ran: byStage.get(s)?.ran ?? 0, restored: (byStage.get(s)?.restored ?? 0) + 1 });
}
console.log(`wall ${wall.toFixed(0)} s, exit ${r.exitCode}; summary ${JSON.stringify(summary)}`);
for (const [stage, c] of byStage) console.log(`  ${stage}: ran ${c.ran}, restored from the run-cache ${c.restored}`);
for (const d of done) console.log(`  ${d.name} ${d.state} ${(d.durationMs / 1000).toFixed(0)} s`);
