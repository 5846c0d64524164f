/**
 * The verbs DVC users type every day, with DVC's names and flags: init, metrics, params, stage,
 * freeze/unfreeze. Each verb's code loads only when it runs.
 */
import type { Command } from 'commander';
import { lazy, type VerbRun } from './lazy.js';
import { collect } from './options.js';

export function registerDvcCommands(program: Command): void {
  const from = <M>(load: () => Promise<M>, pick: (m: M) => VerbRun) => lazy(async () => ({ run: pick(await load()) }));

  program
    .command('init')
    .description(
      'make this folder a lockstep project (.lockstep/); in a DVC repository reuse .dvc/cache and its remotes',
    )
    .option('-f, --force', 'write a fresh config even if .lockstep/config.yaml exists')
    .option('--no-dvc', 'do not take the cache and remotes from .dvc/')
    .action(
      from(
        () => import('./init.js'),
        (m) => m.run,
      ),
    );

  const metrics = program
    .command('metrics')
    .description('show and compare metrics (stage metrics and the top-level metrics: section)');
  metrics
    .command('show')
    .description('print the metrics files of the workspace')
    .argument('[targets...]', 'metrics files (default: every metrics file of the pipeline)')
    .option('-A, --all-commits', 'also every commit reachable from HEAD')
    .option('--json', 'JSON as dvc metrics show --json')
    .option('--md', 'Markdown table')
    .option('--csv', 'CSV')
    .option('--precision <n>', 'round floats to n digits after the point (default 5)')
    .action(
      from(
        () => import('./metrics.js'),
        (m) => m.show,
      ),
    );
  metrics
    .command('diff')
    .description('metrics that changed between two revisions (default: HEAD and the workspace)')
    .argument('[a_rev]', 'old revision (default HEAD)')
    .argument('[b_rev]', 'new revision (default the workspace)')
    .option('--all', 'also the metrics that did not change')
    .option('--json', 'JSON as dvc metrics diff --json')
    .option('--md', 'Markdown table')
    .option('--csv', 'CSV')
    .option('--precision <n>', 'round floats to n digits after the point (default 5)')
    .action(
      from(
        () => import('./metrics.js'),
        (m) => m.diff,
      ),
    );

  const params = program.command('params').description('compare params');
  params
    .command('diff')
    .description('params that changed between two revisions (default: HEAD and the workspace)')
    .argument('[a_rev]', 'old revision (default HEAD)')
    .argument('[b_rev]', 'new revision (default the workspace)')
    .option('--all', 'also the params that did not change')
    .option('--json', 'JSON as dvc params diff --json')
    .option('--md', 'Markdown table')
    .option('--csv', 'CSV')
    .action(
      from(
        () => import('./params.js'),
        (m) => m.diff,
      ),
    );

  const stage = program.command('stage').description('add stages to the pipeline file, list them');
  stage
    .command('add')
    .description('write a stage into pipeline.yaml / dvc.yaml, keeping its comments and order')
    .requiredOption('-n, --name <name>', 'stage name')
    .option('-d, --deps <path>', 'dependency (repeatable)', collect)
    .option('-p, --params <[file:]keys>', 'params dependency (repeatable)', collect)
    .option('-o, --outs <path>', 'output, cached (repeatable)', collect)
    .option('-O, --outs-no-cache <path>', 'output, not cached (repeatable)', collect)
    .option('--outs-persist <path>', 'output kept between runs (repeatable)', collect)
    .option('-m, --metrics <path>', 'metrics file, cached (repeatable)', collect)
    .option('-M, --metrics-no-cache <path>', 'metrics file, not cached (repeatable)', collect)
    .option('--plots <path>', 'plots file, cached (repeatable)', collect)
    .option('--plots-no-cache <path>', 'plots file, not cached (repeatable)', collect)
    .option('-w, --wdir <dir>', 'working directory of the command')
    .option('--desc <text>', 'description')
    .option('--always-changed', 'always run the stage')
    .option('-f, --force', 'overwrite a stage of the same name')
    .argument('<command...>', 'the command (quote it, or put it after --)')
    .action(
      from(
        () => import('./stage.js'),
        (m) => m.add,
      ),
    );
  stage
    .command('list')
    .description('the stages of the pipeline, with their outputs or description')
    .option('--name-only', 'only the names')
    .action(
      from(
        () => import('./stage.js'),
        (m) => m.list,
      ),
    );

  program
    .command('freeze')
    .description('freeze stages: repro never runs them and status never reports them')
    .argument('<stages...>', 'stage names')
    .action(
      from(
        () => import('./freeze.js'),
        (m) => m.freeze,
      ),
    );
  program
    .command('unfreeze')
    .description('unfreeze stages')
    .argument('<stages...>', 'stage names')
    .action(
      from(
        () => import('./freeze.js'),
        (m) => m.unfreeze,
      ),
    );

  program
    .command('add')
    .description("track data outside the pipeline: cache it, write <path>.dvc (DVC's format), git-ignore it")
    .argument('<paths...>', 'files or folders')
    .option('--wait [seconds]', 'wait for another lockstep holding the repository lock')
    .action(
      from(
        () => import('./data.js'),
        (m) => m.add,
      ),
    );
  program
    .command('commit')
    .description('record the current content of data tracked by .dvc files (all when no targets)')
    .argument('[targets...]', '.dvc files or the data they track')
    .option('--wait [seconds]', 'wait for another lockstep holding the repository lock')
    .action(
      from(
        () => import('./data.js'),
        (m) => m.commit,
      ),
    );
  program
    .command('remove')
    .description('stop tracking data: remove its .dvc file and .gitignore entry (the data stays)')
    .argument('<targets...>', '.dvc files or the data they track')
    .option('--wait [seconds]', 'wait for another lockstep holding the repository lock')
    .action(
      from(
        () => import('./data.js'),
        (m) => m.remove,
      ),
    );
  program
    .command('move')
    .description('move data tracked by a .dvc file, and the .dvc file with it')
    .argument('<src>', 'tracked data (or its .dvc file)')
    .argument('<dst>', 'new path (or an existing folder to move into)')
    .option('--wait [seconds]', 'wait for another lockstep holding the repository lock')
    .action(
      from(
        () => import('./data.js'),
        (m) => m.move,
      ),
    );
}
