/**
 * A controllable fake stage command, after wireit's test rig: the test decides when the stage ends.
 * No fixed sleeps, no machine-wide pgrep: the fake command reports its pid (and its child's) in a
 * control folder of this test, and holds until the test releases it.
 *
 *   const rig = await testRig();
 *   // pipeline.yaml (JSON.stringify makes it a YAML double-quoted scalar, whatever the text holds):
 *   //   cmd: ${JSON.stringify(rig.command('train', { write: { 'model.txt': 'm1\n' }, child: true }))}
 *   const run = await rig.started('train');      // waits until the stage's command runs
 *   // ... kill lockstep, run gc, run a second command ...
 *   await rig.release('train');                  // or rig.release('train', { exitCode: 3 })
 *   assert.equal(await rig.runs('train'), 1);
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { tempDir } from './tmp.js';
import { waitFor } from './wait.js';

/** The compiled fake command (dist/test/helpers/rig-command.js). */
export const RIG_COMMAND = path.join(path.dirname(fileURLToPath(import.meta.url)), 'rig-command.js');

export interface RigRun {
  /** 1 for the first run of this name, 2 for the second... */
  n: number;
  pid: number;
  ppid: number;
  /** The fake command's process group (Linux), or null. */
  pgid: number | null;
  cwd: string;
  /** The pid of the child it started with `child: true`, else null. */
  childPid: number | null;
}

export interface RigCommandOptions {
  /** Files (relative to the stage's cwd) written with this text once released. */
  write?: Record<string, string>;
  /** Files appended with this text once released. */
  append?: Record<string, string>;
  /** Start one child process that holds until the same release (to check a whole tree stops). */
  child?: boolean;
  /**
   * Report the stage's shell pid the instant the shell starts, before node loads (see `shellStarted`);
   * the shell then execs the fake command, which keeps that pid.
   */
  early?: boolean;
}

export interface Rig {
  /** The control folder (outside any project). */
  dir: string;
  /**
   * A shell command line that runs the fake command named `name`. Put it in pipeline.yaml as
   * `cmd: ${JSON.stringify(line)}` (a YAML double-quoted scalar) when texts hold newlines or quotes.
   */
  command(name: string, opts?: RigCommandOptions): string;
  /** Wait until run `n` (default 1) of `name` has started; its pids. */
  started(name: string, n?: number, timeoutMs?: number): Promise<RigRun>;
  /** With `early`: wait until the `n`th shell running `name` has started (within ms of the spawn); its pid. */
  shellStarted(name: string, n?: number, timeoutMs?: number): Promise<number>;
  /** Let every run of `name`, present and future, end with this exit code (default 0). */
  release(name: string, opts?: { exitCode?: number; run?: number }): Promise<void>;
  /** How many runs of `name` have started so far. */
  runs(name: string): Promise<number>;
}

const shellQuote = (s: string): string => (/^[\w/.,:=+-]+$/.test(s) ? s : `'${s.replaceAll("'", `'\\''`)}'`);

export async function testRig(): Promise<Rig> {
  const dir = await tempDir('lockstep-rig-');
  const runDirs = async (name: string) =>
    (await fs.readdir(dir)).filter((f) => f.startsWith(`${name}.`) && /^\d+$/.test(f.slice(name.length + 1)));
  return {
    dir,
    command(name, opts = {}) {
      if (!/^[\w-]+$/.test(name)) throw new Error(`rig: name ${name} must be a word`);
      const args = [process.execPath, RIG_COMMAND, dir, name].map(shellQuote);
      if (opts.child) args.push('--child');
      for (const [f, t] of Object.entries(opts.write ?? {})) args.push('--write', shellQuote(`${f}=${t}`));
      for (const [f, t] of Object.entries(opts.append ?? {})) args.push('--append', shellQuote(`${f}=${t}`));
      const line = args.join(' ');
      return opts.early ? `echo $$ >> ${shellQuote(path.join(dir, `${name}.shells`))} && exec ${line}` : line;
    },
    async shellStarted(name, n = 1, timeoutMs = 60_000) {
      let pids: number[] = [];
      await waitFor(
        async () => {
          const text = await fs.readFile(path.join(dir, `${name}.shells`), 'utf8').catch(() => '');
          pids = text.split('\n').filter(Boolean).map(Number);
          return pids.length >= n;
        },
        { timeoutMs, what: `shell ${n} of the rig command '${name}' to start` },
      );
      return pids[n - 1]!;
    },
    async started(name, n = 1, timeoutMs = 60_000) {
      const file = path.join(dir, `${name}.${n}`, 'started.json');
      let text = '';
      await waitFor(
        async () => {
          text = await fs.readFile(file, 'utf8').catch(() => '');
          return text !== '';
        },
        { timeoutMs, what: `run ${n} of the rig command '${name}' to start` },
      );
      return { n, ...(JSON.parse(text) as Omit<RigRun, 'n'>) };
    },
    async release(name, opts = {}) {
      const file = opts.run ? path.join(dir, `${name}.${opts.run}`, 'release') : path.join(dir, `${name}.release`);
      await fs.writeFile(`${file}.tmp`, String(opts.exitCode ?? 0));
      await fs.rename(`${file}.tmp`, file);
    },
    async runs(name) {
      return (await runDirs(name)).length;
    },
  };
}
