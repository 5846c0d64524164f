import { execa } from 'execa';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** Shared helpers for the hand-run benchmarks (never part of npm test). */
export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const CLI = path.join(REPO_ROOT, 'bin', 'lockstep.js');

export interface Measurement {
  wallMs: number;
  peakRssMb: number;
  exitCode: number;
  output: string;
}

/** Run a command under /usr/bin/time -v: wall time and peak RSS. */
export async function measure(
  cmd: string,
  args: string[],
  cwd: string,
  env: Record<string, string> = {},
): Promise<Measurement> {
  const started = process.hrtime.bigint();
  const r = await execa('/usr/bin/time', ['-v', cmd, ...args], { cwd, reject: false, all: true, env });
  const wallMs = Number(process.hrtime.bigint() - started) / 1e6;
  const rss = /Maximum resident set size \(kbytes\): (\d+)/.exec(String(r.stderr));
  return { wallMs, peakRssMb: rss ? Number(rss[1]) / 1024 : NaN, exitCode: r.exitCode ?? -1, output: String(r.all) };
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

export async function repeat(
  n: number,
  before: () => Promise<void>,
  run: () => Promise<Measurement>,
): Promise<{ wallMs: number; peakRssMb: number; runs: number[] }> {
  const walls: number[] = [];
  const rss: number[] = [];
  for (let i = 0; i < n; i++) {
    await before();
    const m = await run();
    if (m.exitCode !== 0) throw new Error(`benchmark command failed (${m.exitCode}):\n${m.output.slice(-2000)}`);
    walls.push(m.wallMs);
    rss.push(m.peakRssMb);
  }
  return { wallMs: median(walls), peakRssMb: Math.max(...rss), runs: walls.map((w) => Math.round(w)) };
}

export function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1]! : fallback;
}
