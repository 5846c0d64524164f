/**
 * The one place the CLI writes: output lines, the boxed table every verb draws, sizes. Use cases return
 * data; the verbs in this folder turn it into text with these.
 */

const withNewline = (line: string): string => (line.endsWith('\n') ? line : `${line}\n`);

/** A line on stdout (the newline added unless the text ends with one). */
export function out(line = ''): void {
  process.stdout.write(withNewline(line));
}

/** A line on stderr: progress and notes, so stdout stays what a script reads. */
export function errLine(line: string): void {
  process.stderr.write(`${line}\n`);
}

/** Text gathered before one write to stdout: a burst of lines (500 stages up to date) costs one write, not 500. */
const BATCH_BYTES = 64 * 1024;

/**
 * Lines for stdout written together: at the next turn of the event loop, at 64 kB, or at `flush()`.
 * `err` flushes first, so stdout and stderr keep their order on a terminal; a caller flushes before
 * anything else writes (a progress bar, the final error) and when it is done.
 */
export function lineBatch(): { out(line?: string): void; err(line: string): void; flush(): void } {
  let pending = '';
  let scheduled = false;
  const flush = () => {
    if (pending === '') return;
    const text = pending;
    pending = '';
    process.stdout.write(text);
  };
  return {
    out(line = '') {
      pending += withNewline(line);
      if (pending.length >= BATCH_BYTES) flush();
      else if (!scheduled) {
        scheduled = true;
        setImmediate(() => {
          scheduled = false;
          flush();
        });
      }
    },
    err(line) {
      flush();
      errLine(line);
    },
    flush,
  };
}

/**
 * A boxed table with a rule under the header only; cells of `rightAlign` columns are right-aligned (numbers).
 * Drawn by hand rather than with cli-table3, which measures every cell's display width and takes seconds on a
 * thousand rows (`exp show`); cells are plain text, one column per character.
 */
export function drawTable(head: string[], body: string[][], rightAlign: boolean[]): string {
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((r) => (r[i] ?? '').length)));
  const rule = (l: string, m: string, r: string) => `${l}${widths.map((w) => '─'.repeat(w + 2)).join(m)}${r}`;
  const cell = (c: string, i: number, align: boolean) =>
    align && rightAlign[i] ? c.padStart(widths[i] as number) : c.padEnd(widths[i] as number);
  const line = (cells: string[], align: boolean) => {
    const inner = cells.map((c, i) => ` ${cell(c, i, align)} `).join('│');
    return `│${inner}│`;
  };
  const lines = [rule('┌', '┬', '┐'), line(head, false), rule('├', '┼', '┤')];
  for (const r of body) lines.push(line(r, true));
  lines.push(rule('└', '┴', '┘'));
  return lines.join('\n');
}

/** Bytes for people: 512 B, 1.5 kB, 12.3 MB, 1.02 GB (SI units, as `du --si`). */
export function formatBytes(n: number): string {
  if (n >= 1e9) return `${(n / 1e9).toFixed(2)} GB`;
  if (n >= 1e6) return `${(n / 1e6).toFixed(1)} MB`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(1)} kB`;
  return `${n} B`;
}
