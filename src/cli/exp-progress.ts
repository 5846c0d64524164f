/**
 * `exp run`'s live view: one line per running experiment (stage, epoch, time left), and on `done` the
 * headline metric. A cli-progress multi-bar on a terminal; plain lines when stderr is not a terminal
 * or under CI. Pure helpers (headline, eta) are exported for tests.
 */
import type { ExperimentResult } from '../exp/run.js';

/** The metric a person looks at first: accuracy if there is one, else the first number. */
export function headline(metrics: ExperimentResult['metrics']): string {
  const all = Object.entries(metrics ?? {}).flatMap(([, values]) => Object.entries(values));
  const nums = all.filter((e): e is [string, number] => typeof e[1] === 'number');
  const pick = nums.find(([k]) => k === 'accuracy') ?? nums.find(([k]) => /(^|[._])acc(uracy)?$/.test(k)) ?? nums[0];
  return pick ? `${pick[0]} ${Number(pick[1].toPrecision(4))}` : '';
}

/** Seconds left after `epoch` of `epochs`, from the time the stage has taken so far. */
export function etaSeconds(elapsedMs: number, epoch: number, epochs: number): number {
  return epoch > 0 ? ((elapsedMs / epoch) * (epochs - epoch)) / 1000 : Number.NaN;
}

export function shortDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '?';
  const s = Math.round(seconds);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

interface Live {
  stage: string;
  stageStarted: number;
  status: string;
}

export interface LiveView {
  start(name: string): void;
  progress(name: string, stage: string, epoch?: number, epochs?: number): void;
  /** Remove the experiment's line; `line` is printed in its place. */
  done(name: string, line: string): void;
  stop(): void;
}

export async function liveView(write: (line: string) => void): Promise<LiveView> {
  const live = new Map<string, Live>();
  const describe = (l: Live, epoch?: number, epochs?: number) => {
    if (!epoch || !epochs) return l.stage;
    const left = shortDuration(etaSeconds(Date.now() - l.stageStarted, epoch, epochs));
    return `${l.stage} epoch ${epoch}/${epochs}, ${left} left`;
  };
  const update = (name: string, stage: string) => {
    let l = live.get(name);
    if (!l || l.stage !== stage) {
      l = { stage, stageStarted: Date.now(), status: stage };
      live.set(name, l);
      return { l, changed: true };
    }
    return { l, changed: false };
  };
  if (!process.stderr.isTTY || process.env.CI) {
    return {
      start: () => {},
      progress(name, stage, epoch, epochs) {
        const { l, changed } = update(name, stage);
        if (changed || epoch) write(`  ${name}: ${describe(l, epoch, epochs)}`);
      },
      done: (name, line) => {
        live.delete(name);
        write(line);
      },
      stop: () => {},
    };
  }
  const { default: cliProgress } = await import('cli-progress');
  const multi = new cliProgress.MultiBar(
    {
      stream: process.stderr,
      format: '  {name} |{bar}| {status}',
      hideCursor: true,
      clearOnComplete: true,
      barsize: 20,
      fps: 5,
    },
    cliProgress.Presets.shades_classic,
  );
  const bars = new Map<string, ReturnType<typeof multi.create>>();
  return {
    start(name) {
      bars.set(name, multi.create(1, 0, { name, status: 'starting' }));
    },
    progress(name, stage, epoch, epochs) {
      const { l } = update(name, stage);
      const bar = bars.get(name);
      if (!bar) return;
      if (epochs) bar.setTotal(epochs);
      bar.update(epoch ?? 0, { name, status: describe(l, epoch, epochs) });
    },
    done(name, line) {
      const bar = bars.get(name);
      if (bar) multi.remove(bar);
      bars.delete(name);
      live.delete(name);
      multi.log(`${line}\n`);
    },
    stop: () => multi.stop(),
  };
}
