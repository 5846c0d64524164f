/**
 * Renders the engine's `stage-progress` events (hashing and caching a large output): one bar on
 * stderr with files, megabytes and time left when stderr is a terminal. Elsewhere (a pipe, CI) a
 * step that runs long gets a plain line on stderr after 5 s and then every 10 s, and one when it
 * ends, so a log shows it is moving without filling up; nothing with -q. The engine already
 * throttles the events; cli-progress is loaded only when a bar can be shown.
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
  if (opts.quiet) return { onProgress: () => {}, clear: () => {} };
  if (!process.stderr.isTTY || process.env.CI) return plainLines((line) => process.stderr.write(`${line}\n`));
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
            format:
              `${e.phase === 'hash' ? 'hashing' : 'caching'} ${e.path} (${e.stage}) |{bar}| ` +
              `{value}/{total} files | {size} | {eta_formatted} left`,
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

/** Plain lines for long steps (a pipe or CI): after FIRST_LINE_MS, then every EVERY_MS, and at the end. */
export const FIRST_LINE_MS = 5_000;
export const EVERY_MS = 10_000;

export function plainLines(write: (line: string) => void, now: () => number = Date.now): StageProgressView {
  let key = '';
  let started = 0;
  let last = 0;
  let printed = false;
  const verb = (e: ProgressEvent) => (e.phase === 'hash' ? 'hashing' : 'caching');
  return {
    clear() {},
    onProgress(e) {
      const k = `${e.stage}\0${e.path}\0${e.phase}`;
      const t = now();
      if (k !== key) {
        key = k;
        started = t;
        last = t;
        printed = false;
      }
      const secs = ((t - started) / 1000).toFixed(0);
      if (e.done >= e.total) {
        if (printed) write(`${verb(e)} ${e.path} (${e.stage}): ${e.total} files, ${mb(e.bytes)}, done in ${secs} s`);
        key = '';
        return;
      }
      if (t - started >= FIRST_LINE_MS && (!printed || t - last >= EVERY_MS)) {
        write(`${verb(e)} ${e.path} (${e.stage}): ${e.done}/${e.total} files, ${mb(e.bytes)}, ${secs} s`);
        printed = true;
        last = t;
      }
    },
  };
}
