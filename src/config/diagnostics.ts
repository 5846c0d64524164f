/**
 * Config problems point at their source (`pipeline.yaml:12:7: ...`) and are collected, so a user
 * fixes every problem of a file in one pass instead of one per run.
 */
import { closest, distance } from 'fastest-levenshtein';
import { LockstepError, type FailureReason } from '../errors.js';
import type { SourcePos } from './types.js';

export interface ConfigProblem {
  /** Full one-line message, starting with `file:line:col: ` when the position is known. */
  message: string;
  reason: FailureReason;
  pos?: SourcePos;
  /** The offending source line with a `^^^` underline on the next line (shown on terminals). */
  snippet?: string;
}

export class ConfigProblemsError extends LockstepError {
  constructor(
    readonly problems: ConfigProblem[],
    hint?: string,
  ) {
    const first = problems[0];
    if (!first) throw new Error('ConfigProblemsError needs at least one problem');
    const more = problems.length - 1;
    const suffix = more > 0 ? ` (and ${more} more problem${more === 1 ? '' : 's'})` : '';
    super(first.reason, first.message + suffix, hint ?? hintFor(first.reason));
    this.name = 'ConfigProblemsError';
  }
}

function hintFor(reason: FailureReason): string {
  switch (reason) {
    case 'yaml-syntax':
      return 'Fix the YAML syntax.';
    case 'path-outside':
      return 'Outputs must live inside the repository; move the path or make it a dependency.';
    case 'control-path':
      return (
        "Outputs may not be the project's own files (.git, .lockstep, the cache, pipeline, lock and params " +
        'files); rename the output.'
      );
    case 'dep-out-overlap':
      return 'A stage may not read what it deletes and rewrites; give the output another path.';
    case 'duplicate-out':
      return 'Give every output exactly one stage, and do not nest one output inside another.';
    case 'missing-param':
      return 'Add the key to the params file or remove the reference.';
    default:
      return 'Fix the pipeline file and run again.';
  }
}

/** Source text of one file plus a way to turn offsets into positions; builds problems. */
export class SourceFile {
  private lineStarts: number[] | undefined;

  constructor(
    readonly file: string,
    readonly text: string,
  ) {}

  private starts(): number[] {
    if (!this.lineStarts) {
      const starts = [0];
      for (let i = this.text.indexOf('\n'); i !== -1; i = this.text.indexOf('\n', i + 1)) starts.push(i + 1);
      this.lineStarts = starts;
    }
    return this.lineStarts;
  }

  posAt(offset: number): SourcePos {
    const starts = this.starts();
    let lo = 0;
    let hi = starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if ((starts[mid] ?? 0) <= offset) lo = mid;
      else hi = mid - 1;
    }
    return { file: this.file, line: lo + 1, col: offset - (starts[lo] ?? 0) + 1 };
  }

  /** The source line at `pos` with `length` carets under the offending text. */
  snippet(pos: SourcePos, length: number): string | undefined {
    const start = this.starts()[pos.line - 1];
    if (start === undefined) return undefined;
    let end = this.text.indexOf('\n', start);
    if (end === -1) end = this.text.length;
    const line = this.text.slice(start, end).replace(/\r$/, '');
    const width = Math.max(1, Math.min(length, line.length - (pos.col - 1)));
    return `${line}\n${' '.repeat(pos.col - 1)}${'^'.repeat(width)}`;
  }
}

export function formatPos(pos: SourcePos | undefined): string {
  return pos ? `${pos.file}:${pos.line}:${pos.col}: ` : '';
}

/** Collects every problem found while loading one pipeline file. */
/** `(did you mean 'deps'?)` when a known name is close enough to be a typo. */
export function didYouMean(word: string, known: readonly string[]): string {
  if (!known.length) return '';
  const best = closest(word, known as string[]);
  return distance(word, best) <= Math.max(2, Math.floor(word.length / 3)) ? ` (did you mean '${best}'?)` : '';
}

export class Problems {
  readonly list: ConfigProblem[] = [];

  constructor(private readonly sources: Map<string, SourceFile>) {}

  /** `at` (offset and length in a source file) gives the position and the underline. */
  add(reason: FailureReason, text: string, at?: { file: string; offset: number; length: number }): void {
    const src = at ? this.sources.get(at.file) : undefined;
    if (!at || !src) {
      this.list.push({ message: text, reason });
      return;
    }
    const pos = src.posAt(at.offset);
    const snippet = src.snippet(pos, at.length);
    this.list.push({ message: `${formatPos(pos)}${text}`, reason, pos, ...(snippet ? { snippet } : {}) });
  }

  get size(): number {
    return this.list.length;
  }

  /** Throws every problem so far, in file order (positionless ones last), as one error. */
  throwIfAny(): void {
    if (!this.list.length) return;
    const files = [...this.sources.keys()];
    const rank = (p: ConfigProblem) => (p.pos ? files.indexOf(p.pos.file) : files.length);
    const sorted = [...this.list].sort(
      (a, b) => rank(a) - rank(b) || (a.pos?.line ?? 0) - (b.pos?.line ?? 0) || (a.pos?.col ?? 0) - (b.pos?.col ?? 0),
    );
    throw new ConfigProblemsError(sorted);
  }
}
