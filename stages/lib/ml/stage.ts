/**
 * What every stage program of this folder shares: one-line failures and atomic output writes.
 * Stage programs never import from src/ (the engine is a separate product), so this is their own.
 */
import { promises as fs, openSync, fsyncSync, closeSync } from 'node:fs';
import path from 'node:path';

/** An expected failure: printed as one line `<stage>: <message> <hint>` and exit code 1. */
export class StageError extends Error {
  constructor(
    message: string,
    readonly hint?: string,
  ) {
    super(message);
    this.name = 'StageError';
  }
}

/** Runs a stage's main; expected failures become one line on stderr and exit 1, bugs keep their stack. */
export function runStage(name: string, main: () => Promise<void>): void {
  main().then(
    () => process.exit(0),
    (e: unknown) => {
      if (e instanceof StageError) {
        process.stderr.write(`${name}: ${e.message}${e.hint ? ` ${e.hint}` : ''}\n`);
      } else {
        process.stderr.write(`${name}: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
      }
      process.exit(1);
    },
  );
}

let tmpCounter = 0;
function tmpSibling(target: string): string {
  return path.join(path.dirname(target), `.${path.basename(target)}.tmp-${process.pid}-${tmpCounter++}`);
}

/** Writes a file through a temp sibling + fsync + rename, so readers never see half a file. */
export async function writeFileAtomic(target: string, data: string | Uint8Array): Promise<void> {
  await fs.mkdir(path.dirname(target), { recursive: true });
  const tmp = tmpSibling(target);
  const handle = await fs.open(tmp, 'w');
  try {
    await handle.writeFile(data);
    await handle.sync();
  } finally {
    await handle.close();
  }
  await fs.rename(tmp, target);
}

/**
 * Builds a whole output directory in a temp sibling and swaps it in with renames, so a crash leaves
 * either the old directory or the new one, never a mix.
 */
export async function writeDirAtomic(target: string, files: Record<string, string | Uint8Array>): Promise<void> {
  await fs.mkdir(path.dirname(target), { recursive: true });
  const tmp = tmpSibling(target);
  await fs.rm(tmp, { recursive: true, force: true });
  await fs.mkdir(tmp, { recursive: true });
  for (const [name, data] of Object.entries(files)) {
    const file = path.join(tmp, name);
    await fs.mkdir(path.dirname(file), { recursive: true });
    await fs.writeFile(file, data);
    const fd = openSync(file, 'r');
    fsyncSync(fd);
    closeSync(fd);
  }
  const old = tmpSibling(target);
  const hadOld = await fs.rename(target, old).then(
    () => true,
    (e: NodeJS.ErrnoException) => {
      if (e.code === 'ENOENT') return false;
      throw e;
    },
  );
  await fs.rename(tmp, target);
  if (hadOld) await fs.rm(old, { recursive: true, force: true });
}

/** JSON with a trailing newline; the one place stage outputs are formatted so they stay byte-stable. */
export function toJson(value: unknown): string {
  return `${JSON.stringify(value, null, 2)}\n`;
}
