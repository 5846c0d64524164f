/**
 * Progress for the data stages: a cli-progress bar on stderr when it is a TTY (and not under CI), otherwise a start and
 * an end line only (logs of CI and of `lockstep repro` stay short).
 */
import cliProgress from 'cli-progress';

export interface Progress {
  update(done: number, total?: number): void;
  stop(summary?: string): void;
}

export function progress(label: string, unit: 'bytes' | 'images', total?: number): Progress {
  const fmt = (n: number) => (unit === 'bytes' ? `${(n / 1048576).toFixed(1)} MiB` : String(n));
  if (!process.stderr.isTTY || process.env.CI) {
    process.stderr.write(`${label}...\n`);
    return {
      update() {},
      stop(summary) {
        if (summary) process.stderr.write(`${label}: ${summary}\n`);
      },
    };
  }
  const bar = new cliProgress.SingleBar(
    {
      stream: process.stderr,
      format: `${label} [{bar}] {percentage}% {done}/{all} eta {eta}s`,
      hideCursor: true,
      clearOnComplete: true,
      etaBuffer: 50,
    },
    cliProgress.Presets.shades_classic,
  );
  let current = total ?? 0;
  bar.start(current || 1, 0, { done: fmt(0), all: total === undefined ? '?' : fmt(total) });
  return {
    update(done, t) {
      if (t !== undefined && t !== current) {
        current = t;
        bar.setTotal(t);
      }
      bar.update(done, { done: fmt(done), all: current ? fmt(current) : '?' });
    },
    stop(summary) {
      bar.stop();
      if (summary) process.stderr.write(`${label}: ${summary}\n`);
    },
  };
}
