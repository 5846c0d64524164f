/**
 * Reading `lockstep repro --json` output: a readable log for failed experiments' records and the
 * stages that ran or were restored (what the run-cache saved across a sweep). Pure.
 */
import type { ReproEvent } from '../pipeline/events.js';

export interface StageCounts {
  ran: string[];
  restored: string[];
}

/** Turn repro's JSON event lines (plus anything else it printed) into log text and stage counts. */
export function readReproOutput(stdout: string, stderr: string): { log: string; stages: StageCounts } {
  const lines: string[] = [];
  const stages: StageCounts = { ran: [], restored: [] };
  for (const raw of stdout.split('\n')) {
    if (!raw.trim()) continue;
    let e: ReproEvent;
    try {
      e = JSON.parse(raw) as ReproEvent;
    } catch {
      lines.push(raw);
      continue;
    }
    switch (e.type) {
      case 'stage-output':
        lines.push(`[${e.stage}] ${e.line}`);
        break;
      case 'stage-start':
        lines.push(`Running stage '${e.stage}'`);
        break;
      case 'stage-ran':
        stages.ran.push(e.stage);
        break;
      case 'stage-restored':
        stages.restored.push(e.stage);
        lines.push(`Stage '${e.stage}' restored from the ${e.from === 'run-cache' ? 'run-cache' : 'cache'}`);
        break;
      case 'stage-failed':
        lines.push(`Stage '${e.stage}' failed: ${e.message}`);
        break;
      case 'stage-skipped':
        lines.push(`Stage '${e.stage}' skipped: ${e.because}`);
        break;
      default:
        break; // plan, fresh, frozen, lock waits: nothing a failure log needs
    }
  }
  for (const raw of stderr.split('\n')) if (raw.trim()) lines.push(raw);
  return { log: lines.join('\n'), stages };
}

/** What a running experiment is doing, read from one line of its repro's JSON events. */
export type LiveProgress = { stage: string; epoch?: number; epochs?: number };

/** A stage reports progress with output lines starting `epoch N/M` (the train stage does, per epoch). */
const EPOCH_RE = /^epoch (\d+)\/(\d+)\b/;

export function progressOf(line: string): LiveProgress | null {
  if (!line.startsWith('{')) return null;
  let e: ReproEvent;
  try {
    e = JSON.parse(line) as ReproEvent;
  } catch {
    return null;
  }
  if (e.type === 'stage-start') return { stage: e.stage };
  if (e.type === 'stage-output') {
    const m = EPOCH_RE.exec(e.line.trim());
    if (m) return { stage: e.stage, epoch: Number(m[1]), epochs: Number(m[2]) };
  }
  return null;
}
