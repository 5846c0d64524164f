/** Registers the report verbs over recorded experiments: hard-examples. Code loads only when the verb runs. */
import type { Command } from 'commander';
import { lazy } from './lazy.js';
import { collect } from './options.js';

export function registerReportCommands(program: Command): void {
  program
    .command('hard-examples')
    .description('images the recorded experiments keep getting wrong: results/hard_examples.csv and .html')
    .option('--exp <name>', 'experiment to include (repeatable; default: every recorded experiment)', collect)
    .option('--rev <rev>', 'only the experiments of this baseline commit')
    .option('--min-rate <rate>', 'hard when missed in at least this share of runs (default 1.0)')
    .option('--min-runs <n>', '... over at least this many runs (default 2)')
    .option('--top <n>', 'images shown on the HTML page (default 48)')
    .option('-o, --out-dir <dir>', 'where to write the CSV and HTML (default <project>/results)')
    .option('--by-class', 'also print a per-class summary table')
    .option('--json', 'print the whole report as JSON')
    .action(lazy(() => import('./hard-examples.js')));
}
