/**
 * The signals that end lockstep politely: Ctrl-C, `kill`, and a closed terminal (SIGHUP is handled
 * exactly like SIGTERM). A command that can stop cleanly (repro, exp run) registers a handler with
 * `onInterrupt`; for every other command `exitOnInterrupt` (installed once by the CLI) exits with
 * 128 + the signal number, which runs the 'exit' listeners (the repository lock removes itself there).
 */
import os from 'node:os';

export const INTERRUPT_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
export type InterruptSignal = (typeof INTERRUPT_SIGNALS)[number];

/** Call `fn` on SIGINT, SIGTERM or SIGHUP until the returned function is called. */
export function onInterrupt(fn: (signal: InterruptSignal) => void): () => void {
  const handlers = INTERRUPT_SIGNALS.map((sig) => [sig, () => fn(sig)] as const);
  for (const [sig, h] of handlers) process.on(sig, h);
  return () => {
    for (const [sig, h] of handlers) process.off(sig, h);
  };
}

let installed = false;

/** Exit with 128 + signal number on an interrupt no command is handling. */
export function exitOnInterrupt(): void {
  if (installed) return;
  installed = true;
  for (const sig of INTERRUPT_SIGNALS) {
    process.on(sig, () => {
      if (process.listenerCount(sig) <= 1) process.exit(128 + (os.constants.signals[sig] ?? 0));
    });
  }
}

/**
 * A reader that went away (`lockstep status | head -1`) ends lockstep as SIGPIPE ends other tools: at
 * once, quietly, with 128 + 13, the 'exit' listeners run (locks released). Node ignores SIGPIPE and
 * reports EPIPE as a stream error, which would otherwise be an uncaught exception with a stack trace.
 */
export function exitOnClosedPipe(): void {
  for (const stream of [process.stdout, process.stderr]) {
    stream.on('error', (e: NodeJS.ErrnoException) => {
      if (e.code === 'EPIPE' || e.code === 'ERR_STREAM_DESTROYED') process.exit(141);
      throw e;
    });
  }
}
