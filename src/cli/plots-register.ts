/** Registers `lockstep plots show|diff` and `lockstep ui`; their code (and vega) loads only when they run. */
import type { Command } from 'commander';
import { lazy } from './lazy.js';

export function registerPlotsCommands(program: Command): void {
  const verb = (name: 'show' | 'diff') => lazy(async () => ({ run: (await import('./plots.js'))[name] }));
  const plots = program
    .command('plots')
    .description("draw the pipeline's plots (DVC's plot definitions and templates) as one HTML page");
  const common = (c: Command) =>
    c
      .option('-o, --out <dir>', "folder for index.html (default 'dvc_plots', as DVC)")
      .option('--json', "print the Vega-Lite specs with their data instead (DVC's --json shape)")
      .option('--open', 'open the page in the browser');
  common(
    plots
      .command('show')
      .description('plots of the workspace')
      .argument('[targets...]', 'plot ids, data files or folders (default: every plot the pipeline declares)'),
  ).action(verb('show'));
  common(
    plots
      .command('diff')
      .description('overlay the plots of several runs: workspace, git revisions, experiment names')
      .argument('[revs...]', 'runs to compare (none: workspace and HEAD; one: workspace and it)')
      .option('--targets <targets...>', 'only these plot ids, data files or folders'),
  ).action(verb('diff'));

  program
    .command('ui')
    .description("a local web page over the project's experiments: table, curves, confusion matrices, live runs")
    .option('--host <address>', 'address to listen on (default 127.0.0.1; any other needs the access token in the URL)')
    .option('--port <n>', 'port (default 0: a free one)')
    .option('--open', 'open the page in the browser')
    .action(lazy(() => import('./ui.js')));
}
