/**
 * Renders the engine's `stage-progress` events (hashing and caching a large output): one bar on
 * stderr with files, megabytes and time left when stderr is a terminal; nothing otherwise (not a
 * terminal, CI, -q), so logs stay clean. The engine already throttles the events; cli-progress is
 * loaded only when a bar can be shown.
 */
import type { ReproEvent } from '../pipeline/events.js';

type ProgressEvent = Extract<ReproEvent, { type: 'stage-progress' }>;

export interface StageProgressView {
  onProgress(e: ProgressEvent): void;
  /** Remove the bar (before other output is printed). */
  clear(): void;
}

const mb = (n: number) => `${(n / 1e6).toFixed(n < 1e7 ? 1 : 0)} MB`;

export async function stageProgressView(opts: { quiet: boolean }): Promise<StageProgressView> {
  if (!process.stderr.isTTY || opts.quiet || process.env.CI) return { onProgress: () => {}, clear: () => {} };
  const { default: cliProgress } = await import('cli-progress');
  let bar: InstanceType<typeof cliProgress.SingleBar> | null = null;
  let key = '';
  const clear = () => {
    bar?.stop();
    bar = null;
    key = '';
  };
  return {
    clear,
    onProgress(e) {
      const k = `${e.stage}\0${e.path}\0${e.phase}`;
      if (k !== key) {
        clear();
        key = k;
        bar = new cliProgress.SingleBar(
          {
            format: `${e.phase === 'hash' ? 'hashing' : 'caching'} ${e.path} (${e.stage}) |{bar}| {value}/{total} files | {size} | {eta_formatted} left`,
            stream: process.stderr,
            hideCursor: true,
            clearOnComplete: true,
            fps: 10,
            etaBuffer: 20,
          },
          cliProgress.Presets.shades_classic,
        );
        bar.start(e.total, e.done, { size: mb(e.bytes) });
      } else bar?.update(e.done, { size: mb(e.bytes) });
      if (e.done >= e.total) clear();
    },
  };
}
