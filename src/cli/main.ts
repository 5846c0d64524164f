import { Command, CommanderError, Option } from 'commander';
import { LockstepError, exitCodeFor } from '../errors.js';
import { registerExpCommands } from './exp-register.js';
import { registerPlotsCommands } from './plots-register.js';
import { registerModelCommands } from './model-register.js';
import { registerRemoteCommands } from './remote-commands.js';

/**
 * The one place that turns failures into exit codes and one-line messages.
 * Verbs live in their own files and are imported lazily, so `status` never loads what `repro`
 * or the stages need (TensorFlow.js is never loaded by the CLI at all).
 */
export async function main(argv: string[]): Promise<number> {
  const verbose = argv.includes('--verbose') || argv.includes('-v');
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (e) {
    return reportFailure(e, verbose);
  }
}

export function reportFailure(e: unknown, verbose: boolean): number {
  if (e instanceof CommanderError) {
    // commander already printed its message
    return e.exitCode === 0 ? 0 : 2;
  }
  if (e instanceof LockstepError) {
    const hint = e.hint ? ` ${e.hint}` : '';
    const problems = (e as { problems?: { message: string; snippet?: string }[] }).problems;
    if (problems && problems.length > 1) {
      // Every problem of a config file at once, one line each, so they can be fixed in one pass.
      for (const p of problems) {
        process.stderr.write(`lockstep: ${p.message}\n`);
        if (p.snippet && process.stderr.isTTY) process.stderr.write(`${indent(p.snippet)}\n`);
      }
      process.stderr.write(`lockstep: ${problems.length} problems.${hint}\n`);
    } else {
      // "what went wrong. What to do.": a period between the two unless the message ends a sentence
      const sep = hint !== '' && !/[.!?:]$/.test(e.message) ? '.' : '';
      process.stderr.write(`lockstep: ${e.message}${sep}${hint}\n`);
      const snippet = problems?.[0]?.snippet;
      if (snippet && process.stderr.isTTY) process.stderr.write(`${indent(snippet)}\n`);
    }
    if (verbose && e.stack) process.stderr.write(`${e.stack}\n`);
    return exitCodeFor(e.reason);
  }
  const message = e instanceof Error ? e.message : String(e);
  process.stderr.write(`lockstep: internal error: ${message.split('\n')[0]} (run again with --verbose for details)\n`);
  if (verbose && e instanceof Error && e.stack) process.stderr.write(`${e.stack}\n`);
  return 3;
}

const indent = (s: string) =>
  s
    .split('\n')
    .map((l) => `    ${l}`)
    .join('\n');

type Action = (...args: any[]) => Promise<number | undefined>;

/** Wrap a lazily imported verb so its exit code becomes the process's. */
function lazy(load: () => Promise<{ run: Action }>): (...args: any[]) => Promise<void> {
  return async (...args: any[]) => {
    const mod = await load();
    const code = await mod.run(...args);
    if (typeof code === 'number') process.exitCode = code;
  };
}

export function buildProgram(): Command {
  const program = new Command('lockstep')
    .description('Reproducible ML pipelines: rebuild only what changed, restore what was seen before.')
    .version('0.1.0')
    .option('-v, --verbose', 'show stack traces and debug output')
    .option('-q, --quiet', 'print only errors')
    .exitOverride()
    // Usage errors read like every other failure: one line starting with 'lockstep:'.
    .configureOutput({
      outputError: (text, write) =>
        write(`lockstep: ${text.replace(/^error: /, '').replace(/\n(?=\(Did you mean)/, ' ')}`),
    })
    .showSuggestionAfterError(true);

  program
    .command('repro')
    .description('run the stale stages of the pipeline, in order')
    .argument('[targets...]', 'stages to reproduce (with their upstream stages)')
    .option('-f, --force', 'run the targets even when they are up to date')
    .option('-s, --single-item', 'run only the targets, not their upstream stages')
    .option('--downstream', 'also run the stages downstream of the targets')
    .option('--dry', 'print what would run and why, without running')
    .option('-k, --keep-going', 'keep running independent stages after a failure')
    .option('-j, --jobs <n>', 'independent stages to run in parallel', '1')
    .option('--no-run-cache', 'do not restore outputs from the run-cache')
    .option('--pull', 'before running a stage, pull its outputs (and run-cache entries) from the remote if it has them')
    .option('-r, --remote <name>', 'remote for --pull (default: core.remote)')
    .option('--wait [seconds]', 'wait for another lockstep holding the repository lock (default 60 s)')
    .option('--json', 'print events as JSON lines')
    .action(lazy(() => import('./repro.js')));

  program
    .command('status')
    .description('show the stale stages and why (takes no lock)')
    .argument('[targets...]', 'stages to check')
    .option('--json', 'print as JSON')
    .addOption(new Option('-c, --cloud', 'compare the cache with the remote instead'))
    .option('-r, --remote <name>', 'remote for --cloud')
    .option('-j, --jobs <n>', 'parallel remote requests for --cloud')
    .action(lazy(() => import('./status.js')));

  program
    .command('dag')
    .description('show the stage graph')
    .argument('[target]', 'show only this stage and its upstream')
    .option('--mermaid', 'Mermaid flowchart')
    .option('--dot', 'Graphviz dot')
    .option('--json', 'JSON nodes and edges')
    .action(lazy(() => import('./dag.js')));

  program
    .command('checkout')
    .description('restore workspace outputs from the cache, as pipeline.lock records them')
    .argument('[targets...]', 'stages to check out')
    .option('-f, --force', 'overwrite modified outputs without asking')
    .action(lazy(() => import('./checkout.js')));

  program
    .command('gc')
    .description('remove cache objects used neither by pipeline.lock nor by any recorded experiment')
    .option('--dry', 'list what would be removed')
    .option('--json', 'print as JSON')
    .action(lazy(() => import('./gc.js')));

  registerExtraCommands(program);
  return program;
}

/** Commands added by later features register themselves here. */
function registerExtraCommands(program: Command): void {
  program
    .command('hard-examples')
    .description('images the recorded experiments keep getting wrong: results/hard_examples.csv and .html')
    .option(
      '--exp <name>',
      'experiment to include (repeatable; default: every recorded experiment)',
      (v: string, acc: string[] = []) => [...acc, v],
    )
    .option('--rev <rev>', 'only the experiments of this baseline commit')
    .option('--min-rate <rate>', 'hard when missed in at least this share of runs (default 1.0)')
    .option('--min-runs <n>', '... over at least this many runs (default 2)')
    .option('--top <n>', 'images shown on the HTML page (default 48)')
    .option('-o, --out-dir <dir>', 'where to write the CSV and HTML (default <project>/results)')
    .option('--by-class', 'also print a per-class summary table')
    .option('--json', 'print the whole report as JSON')
    .action(lazy(() => import('./hard-examples.js')));
  registerExpCommands(program, lazy);
  registerRemoteCommands(program, lazy);
  registerPlotsCommands(program, lazy);
  registerModelCommands(program, lazy);
}
