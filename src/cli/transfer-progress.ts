import type { RemoteEvent } from '../remote/index.js';

const mb = (n: number) => `${(n / 1e6).toFixed(n < 1e7 ? 2 : 0)} MB`;

/**
 * Renders transfer events: a bar (files and bytes) on a terminal, nothing but the final summary
 * otherwise. cli-progress is loaded only when a bar is shown.
 */
export async function transferRenderer(opts: {
  quiet: boolean;
}): Promise<{ onEvent: (e: RemoteEvent) => void; stop: () => void }> {
  const tty = Boolean(process.stderr.isTTY) && !opts.quiet && !process.env.CI;
  if (!tty) return { onEvent: () => {}, stop: () => {} };
  const { default: cliProgress } = await import('cli-progress');
  let bar: InstanceType<typeof cliProgress.SingleBar> | null = null;
  let label = '';
  let bytesTotal = 0;
  const stop = () => {
    bar?.stop();
    bar = null;
  };
  return {
    stop,
    onEvent(e) {
      switch (e.type) {
        case 'remote':
          label = `${e.direction === 'push' ? 'push to' : 'fetch from'} ${e.name || e.display}`;
          break;
        case 'query':
          break;
        case 'start':
          stop();
          bytesTotal = e.bytes;
          if (e.files === 0) return;
          bar = new cliProgress.SingleBar(
            {
              format: `${label} |{bar}| {value}/{total} files | {done} of {all}`,
              stream: process.stderr,
              hideCursor: true,
              fps: 10,
              clearOnComplete: true,
            },
            cliProgress.Presets.shades_classic,
          );
          bar.start(e.files, 0, { done: mb(0), all: mb(bytesTotal) });
          break;
        case 'progress':
          bar?.update(e.files, { done: mb(e.bytes), all: mb(Math.max(bytesTotal, e.bytes)) });
          break;
        case 'retry':
          break;
      }
    },
  };
}
