/**
 * Reading `lockstep repro --json` output: a readable log for failed experiments' records and the
 * stages that ran or were restored (what the run-cache saved across a sweep). Pure.
 */
import type { ReproEvent } from '../pipeline/events.js';

export interface StageCounts {
  ran: string[];
  restored: string[];
}

/**
 * A repro's log as events arrive: a line per event a failure log needs (stage output, starts, restores,
 * failures, skips) and the stages that ran or were restored. With `keepChars`, only about the last
 * `keepChars` characters of lines are held (a chatty stage must not fill the memory of a long sweep).
 */
export class ReproLog {
  readonly stages: StageCounts = { ran: [], restored: [] };
  private lines: string[] = [];
  private chars = 0;

  constructor(private readonly keepChars = Number.POSITIVE_INFINITY) {}

  event(e: ReproEvent): void {
    switch (e.type) {
      case 'stage-output':
        this.line(`[${e.stage}] ${e.line}`);
        break;
      case 'stage-start':
        this.line(`Running stage '${e.stage}'`);
        break;
      case 'stage-ran':
        this.stages.ran.push(e.stage);
        break;
      case 'stage-restored':
        this.stages.restored.push(e.stage);
        this.line(`Stage '${e.stage}' restored from the ${e.from === 'run-cache' ? 'run-cache' : 'cache'}`);
        break;
      case 'stage-failed':
        this.line(`Stage '${e.stage}' failed: ${e.message}`);
        break;
      case 'stage-skipped':
        this.line(`Stage '${e.stage}' skipped: ${e.because}`);
        break;
      default:
        break; // plan, fresh, frozen, lock waits: nothing a failure log needs
    }
  }

  line(text: string): void {
    if (!text.trim()) return;
    this.lines.push(text);
    this.chars += text.length + 1;
    if (this.chars > 2 * this.keepChars) {
      let drop = 0;
      while (this.chars > this.keepChars && drop < this.lines.length - 1) this.chars -= this.lines[drop++]!.length + 1;
      this.lines = this.lines.slice(drop);
    }
  }

  text(): string {
    return this.lines.join('\n');
  }
}

/** Turn repro's JSON event lines (plus anything else it printed) into log text and stage counts. */
export function readReproOutput(stdout: string, stderr: string): { log: string; stages: StageCounts } {
  const log = new ReproLog();
  for (const raw of stdout.split('\n')) {
    if (!raw.trim()) continue;
    let e: ReproEvent;
    try {
      e = JSON.parse(raw) as ReproEvent;
    } catch {
      log.line(raw);
      continue;
    }
    log.event(e);
  }
  for (const raw of stderr.split('\n')) log.line(raw);
  return { log: log.text(), stages: log.stages };
}

/** What a running experiment is doing: the stage it runs, and the epoch when the stage reports one. */
export type LiveProgress = { stage: string; epoch?: number; epochs?: number };

/** A stage reports progress with output lines starting `epoch N/M` (the train stage does, per epoch). */
const EPOCH_RE = /^epoch (\d+)\/(\d+)\b/;

/** What a running experiment is doing, from one of its repro's events. */
export function progressOf(e: ReproEvent): LiveProgress | null {
  if (e.type === 'stage-start') return { stage: e.stage };
  if (e.type === 'stage-output') {
    const m = EPOCH_RE.exec(e.line.trim());
    if (m) return { stage: e.stage, epoch: Number(m[1]), epochs: Number(m[2]) };
  }
  return null;
}
