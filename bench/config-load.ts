/**
 * loadPipeline on 500 stages: plain stages with params and interpolation, plus a foreach group and
 * a matrix, as a user would write them. Hand-run: `npx tsc -p . && node dist/bench/config-load.js`.
 */
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadPipeline } from '../src/config/index.js';
import { median } from './lib.js';

async function main(): Promise<void> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'lockstep-bench-config-'));
  try {
    let yaml = 'vars:\n  - base: data\nstages:\n';
    for (let i = 0; i < 400; i++) {
      const dep = i === 0 ? 'raw.txt' : `\${base}/s${i - 1}/out.txt`;
      yaml += `  s${i}:\n    cmd: node step.js --lr \${train.lr} --seed \${seed} --i ${i}\n    deps: [${JSON.stringify(dep)}, step.js]\n`;
      yaml += `    params: [train.lr, seed]\n    outs: ["\${base}/s${i}/out.txt"]\n`;
    }
    yaml += `  each:\n    foreach: \${items}\n    do:\n      cmd: node each.js \${item}\n      outs: ["\${base}/each/\${item}.txt"]\n`;
    yaml += `  grid:\n    matrix:\n      a: [1, 2, 3, 4, 5]\n      b: [x, y, z, w]\n    cmd: node grid.js \${item.a} \${item.b} \${train}\n    outs: ["\${base}/grid/\${item.a}-\${item.b}.txt"]\n`;
    const items = Array.from({ length: 80 }, (_, i) => `item${i}`);
    await fs.writeFile(path.join(dir, 'pipeline.yaml'), yaml);
    await fs.writeFile(
      path.join(dir, 'params.yaml'),
      `seed: 1\ntrain:\n  lr: 0.001\n  epochs: 3\nitems: [${items.join(', ')}]\n`,
    );
    // CPU time as well as wall time: on a shared machine the wall clock mostly measures the neighbours.
    const measure = async (cacheDir?: string) => {
      const wall: number[] = [];
      const cpu: number[] = [];
      let count = 0;
      for (let i = 0; i < 15; i++) {
        const t = performance.now();
        const c = process.cpuUsage();
        const p = await loadPipeline(dir, cacheDir ? { cacheDir } : {});
        const d = process.cpuUsage(c);
        wall.push(performance.now() - t);
        cpu.push((d.user + d.system) / 1000);
        count = p.stages.length;
      }
      const label = cacheDir ? 'with the parse cache' : 'no parse cache';
      console.log(
        `loadPipeline, ${count} stages, ${label}: first ${wall[0]?.toFixed(1)} ms wall / ${cpu[0]?.toFixed(1)} ms CPU; ` +
          `median of the next 14: ${median(wall.slice(1)).toFixed(1)} ms wall / ${median(cpu.slice(1)).toFixed(1)} ms CPU`,
      );
    };
    await measure();
    await measure(path.join(dir, '.cache'));
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
}

await main();
