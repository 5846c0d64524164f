/** Registers `lockstep exp queue <verb>` and `lockstep worker`; their code loads when they run. */
import type { Command } from 'commander';
import { lazy } from './lazy.js';

type Verb = 'list' | 'status' | 'logs' | 'remove' | 'kill' | 'clear' | 'worker';

export function registerQueueCommands(program: Command): void {
  const verb = (name: Verb) => lazy(async () => ({ run: (await import('./queue.js'))[name] }));
  const exp = program.commands.find((c) => c.name() === 'exp');
  if (exp) {
    const queue = exp
      .command('queue')
      .description('experiments queued with `exp run --queue` for `lockstep worker`s (BullMQ on Redis, or local)');
    queue
      .command('list')
      .alias('ls')
      .description('every queued, running, finished and failed job')
      .option('--json', 'print JSON')
      .action((opts) => verb('list')(opts));
    queue
      .command('status')
      .description('how many jobs wait, run, finished or failed, and which workers run them')
      .option('--json', 'print JSON')
      .action((opts) => verb('status')(opts));
    queue
      .command('logs')
      .description("a job's log (what its worker printed)")
      .argument('<name>', 'experiment name')
      .action((name) => verb('logs')(name));
    queue
      .command('remove')
      .alias('rm')
      .description('remove jobs that are not running')
      .argument('<names...>', 'experiment names')
      .action((names) => verb('remove')(names));
    queue
      .command('kill')
      .description('stop running jobs (their workers record them as cancelled)')
      .argument('<names...>', 'experiment names')
      .action((names) => verb('kill')(names));
    queue
      .command('clear')
      .description('remove every job that is not running')
      .action(() => verb('clear')());
  }
  program
    .command('worker')
    .description('run queued experiments (exp run --queue) from this clone, pushing their results')
    .option('-c, --concurrency <n>', 'jobs at once', '1')
    .option('--name <name>', 'worker name shown in exp queue list (default host:pid)')
    .option('--until-empty', 'stop when no job is waiting or running')
    .action((opts) => verb('worker')(opts));
}
