/** Registers the pipeline verbs: repro, status, dag, checkout, gc. Each verb's code loads only when it runs. */
import { type Command, Option } from 'commander';
import { lazy } from './lazy.js';

export function registerPipelineCommands(program: Command): void {
  program
    .command('repro')
    .description('run the stale stages of the pipeline, in order')
    .argument('[targets...]', 'stages to reproduce (with their upstream stages)')
    .option('-f, --force', 'run the targets even when they are up to date')
    .option('-s, --single-item', 'run only the targets, not their upstream stages')
    .option('--downstream', 'also run the stages downstream of the targets')
    .option('-P, --all-pipelines', 'with no targets, run every pipeline file (default: the one of this folder)')
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
    .description('remove cache objects the given scope does not use (a scope is required, as in dvc gc)')
    .option('-w, --workspace', "keep the objects of the workspace's lock file")
    .option('-a, --all-branches', 'also keep those of every branch tip')
    .option('-T, --all-tags', 'also keep those of every tag')
    .option('-A, --all-commits', 'also keep those of every commit of every branch and tag')
    .option('--all-experiments', 'also keep those of every recorded experiment')
    .option('--dry', 'list what would be removed')
    .option('--json', 'print as JSON')
    .option('--wait [seconds]', 'wait for the repository lock and for runs using the cache (default 60 s)')
    .action(lazy(() => import('./gc.js')));
}
