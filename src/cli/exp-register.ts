/** Registers `lockstep exp <verb>`; each verb's code loads only when it runs. */
import type { Command } from 'commander';
import { EXP_SHORTHANDS } from '../product/sweep-shorthands.js';
import { lazy } from './lazy.js';
import { collect } from './options.js';

export function registerExpCommands(program: Command): void {
  const verb = (name: 'run' | 'show' | 'diff' | 'apply' | 'remove' | 'list' | 'push' | 'pull') =>
    lazy(async () => ({ run: (await import('./exp.js'))[name] }));
  // commander passes (args…, options, command); the verbs take (args…, options)
  const exp = program
    .command('exp')
    .description('run, compare and apply experiments (params sweeps recorded under refs/exps)');

  const run = exp
    .command('run')
    .description('run the pipeline with changed params in isolated workspaces and record each run');
  for (const s of EXP_SHORTHANDS) run.option(`--${s.key} <values>`, s.description);
  run
    .option('-S, --set-param <key=value>', 'override a param: [file.yaml:]key=value[,value…] (repeatable)', collect)
    .option('-n, --name <name>', 'experiment name (a sweep gets <name>-1, <name>-2, …)')
    .option('-j, --jobs <n>', 'experiments to run at once', '1')
    .option('--no-run-cache', 'do not restore stage outputs from the run-cache')
    .option('--json', 'print events as JSON lines')
    .option('--challenge', 'then challenge the champion with each successful experiment (model challenge)')
    .option('--queue', 'put the experiments on the queue for `lockstep worker`s instead of running them here')
    .action(verb('run'));

  exp
    .command('show')
    .description('table of experiments: params that differ and every metric (takes no lock)')
    .option('--sort-by <column>', 'sort by a param or metric')
    .option('--sort-order <order>', 'asc or desc', 'asc')
    .option('--only-changed', 'hide params and metrics equal in every row')
    .option('--all-params', 'show every param, not only those that differ or were set')
    .option('--keep <regex>', 'show only columns matching (repeatable; wins over --drop)', collect)
    .option('--drop <regex>', 'hide columns matching (repeatable)', collect)
    .option('-A, --all-commits', 'experiments of every baseline, not only HEAD')
    .option('--rev <rev>', 'experiments of this baseline (repeatable)', collect)
    .option('--group-by <params>', 'one row per value of these params (comma list), metrics aggregated')
    .option('--agg <fns>', 'aggregates for --group-by: mean,std,min,max,median,count', 'mean,std,min,max')
    .option('--csv', 'print CSV')
    .option('--json', 'print JSON')
    .option('--md', 'print a Markdown table')
    .option('--width <n>', 'fit the table to this many columns (default: the terminal width)')
    .action((opts) => verb('show')(opts));

  exp
    .command('diff')
    .description('params and metrics side by side: A vs B, A vs the workspace, or HEAD vs the workspace')
    .argument('[a]', 'experiment (name or sha), git revision or `workspace` (default HEAD)')
    .argument('[b]', 'experiment (name or sha), git revision or `workspace` (default the workspace)')
    .option('--all', 'include equal values')
    .option('--json', 'print JSON')
    .option('--md', 'print a Markdown table')
    .action((a, b, opts) => verb('diff')(a, b, opts));

  exp
    .command('apply')
    .description("put an experiment's params, lock file and outputs into the workspace")
    .argument('<name>', 'experiment name or sha')
    .option('-f, --force', 'let checkout overwrite modified outputs')
    .action((name, opts) => verb('apply')(name, opts));

  exp
    .command('remove')
    .alias('rm')
    .description('delete experiment records')
    .argument('[names...]', 'experiment names or shas')
    .option('--all', 'every experiment of the baseline (HEAD, or --rev)')
    .option('-A, --all-commits', 'with --all: of every baseline')
    .option('--rev <rev>', 'baseline for --all (repeatable)', collect)
    .option('--json', 'print the removed experiments as JSON')
    .action((names, opts) => verb('remove')(names, opts));

  exp
    .command('list')
    .alias('ls')
    .description('experiment names by baseline')
    .option('-A, --all-commits', 'every baseline, not only HEAD')
    .option('--rev <rev>', 'this baseline (repeatable)', collect)
    .option('--names-only', 'only the names')
    .option('--json', 'print JSON')
    .action((opts) => verb('list')(opts));

  for (const [name, what] of [
    ['push', 'send experiment refs to a git remote'],
    ['pull', 'fetch experiment refs from a git remote'],
  ] as const) {
    exp
      .command(name)
      .description(what)
      .argument('<git-remote>', 'git remote name or URL')
      .argument('[names...]', 'experiment names')
      .option('--all', 'every experiment of HEAD')
      .option('-A, --all-commits', 'every experiment of every baseline')
      .option('-r, --remote <name>', 'lockstep remote store for the outputs (default: core.remote)')
      .option('--no-outputs', 'move only the refs, not the outputs')
      .action((remote, names, opts) => verb(name)(remote, names, opts));
  }
}
