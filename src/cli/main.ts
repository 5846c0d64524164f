import { Command, CommanderError } from 'commander';
import { LockstepError, errorLines, exitCodeFor } from '../errors.js';
import { registerDvcCommands } from './dvc-register.js';
import { exitOnClosedPipe, exitOnInterrupt } from '../util/interrupt.js';
import { registerExpCommands } from './exp-register.js';
import { registerPipelineCommands } from './pipeline-commands.js';
import { registerModelCommands } from './model-register.js';
import { registerPlotsCommands } from './plots-register.js';
import { registerQueueCommands } from './queue-register.js';
import { registerRemoteCommands } from './remote-commands.js';
import { registerReportCommands } from './report-commands.js';

/**
 * The one place that turns failures into exit codes and one-line messages.
 * Verbs live in their own files and are imported lazily (see lazy.ts), so `status` never loads what
 * `repro` or the remotes need (TensorFlow.js is never loaded by the CLI at all).
 */
export async function main(argv: string[]): Promise<number> {
  const verbose = argv.includes('--verbose') || argv.includes('-v');
  const program = buildProgram();
  exitOnInterrupt();
  exitOnClosedPipe();
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
    for (const { line, snippet } of errorLines(e)) {
      process.stderr.write(`${line}\n`);
      if (snippet && process.stderr.isTTY) process.stderr.write(`${indent(snippet)}\n`);
    }
    if (verbose && e.stack) process.stderr.write(`${e.stack}\n`);
    return exitCodeFor(e.reason);
  }
  const message = e instanceof Error ? e.message : String(e);
  const fsProblem = pathProblem(e);
  if (fsProblem) {
    // A path in the files that cannot exist as written (a file where a folder should be, a name too
    // long): the user's files, not a bug; one line, like every expected failure.
    process.stderr.write(`lockstep: ${fsProblem}\n`);
    if (verbose && e instanceof Error && e.stack) process.stderr.write(`${e.stack}\n`);
    return 1;
  }
  process.stderr.write(`lockstep: internal error: ${message.split('\n')[0]} (run again with --verbose for details)\n`);
  if (verbose && e instanceof Error && e.stack) process.stderr.write(`${e.stack}\n`);
  return 3;
}

const indent = (s: string) =>
  s
    .split('\n')
    .map((l) => `    ${l}`)
    .join('\n');

/**
 * Each group of verbs registers itself from its own file (options and help text there; the verb's code
 * loads lazily when it runs). A new group is one import and one line here.
 */
const VERB_GROUPS: readonly ((program: Command) => void)[] = [
  registerPipelineCommands, // repro, status, dag, checkout, gc
  registerReportCommands, // hard-examples
  registerExpCommands, // exp run|show|diff|apply|remove|list|push|pull
  registerQueueCommands, // exp queue list|status|logs|remove|kill|clear, worker (after exp)
  registerRemoteCommands, // remote add|list|modify|remove|default, push, fetch, pull
  registerPlotsCommands, // plots show|diff, ui
  registerModelCommands, // model register|list|show|assign|get|deprecate|challenge, retrain
  registerDvcCommands, // init, metrics show|diff, params diff, stage add|list, freeze, unfreeze
];

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

  for (const register of VERB_GROUPS) register(program);
  return program;
}

const PATH_ERRORS: Record<string, string> = {
  ENOTDIR: 'a file stands where the path needs a folder',
  EISDIR: 'a folder stands where the path needs a file',
  ENAMETOOLONG: 'the name is too long for the file system',
  ELOOP: 'too many symbolic links (a link loop?)',
};

function pathProblem(e: unknown): string | null {
  const err = e as NodeJS.ErrnoException;
  if (err?.code === 'ERR_INVALID_ARG_VALUE' && /null bytes/.test(err.message ?? ''))
    return 'a path holds a NUL byte. Check the paths in the pipeline, lock and .dvc files.';
  const what = err?.code ? PATH_ERRORS[err.code] : undefined;
  if (!what || !err.path) return null;
  return (
    `${err.path}: ${what} (${err.code}). Check the paths in the pipeline, lock and .dvc files, and the files in ` +
    `the project.`
  );
}
