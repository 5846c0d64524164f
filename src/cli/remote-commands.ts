import { Option, type Command } from 'commander';
import { lazy } from './lazy.js';

/**
 * `remote add|list|modify|remove|default`, `push`, `fetch`, `pull`. Only commander is loaded here;
 * each verb's module (and ssh2 / the AWS SDK behind it) loads when the verb runs.
 */
export function registerRemoteCommands(program: Command): void {
  const remote = program
    .command('remote')
    .description('manage remote stores (config in .lockstep/config.yaml; --local: .lockstep/config.local.yaml)');
  const verb = (name: keyof typeof import('./remote.js')) =>
    lazy(async () => ({ run: (await import('./remote.js'))[name] }));
  remote
    .command('add')
    .description('add a remote: a folder path, ssh://user@host:port/path or s3://bucket/prefix')
    .argument('<name>')
    .argument('<url>')
    .option('-d, --default', 'make it the default remote (core.remote)')
    .option('-f, --force', 'replace an existing remote of that name')
    .option('--local', 'write to the git-ignored local config')
    .action(verb('add'));
  remote.command('list').description('list remotes').option('--json', 'print as JSON').action(verb('list'));
  remote
    .command('modify')
    .description(
      'set an option of a remote (url, jobs, keyfile, user, port, endpointurl, region, profile, access_key_id, …)',
    )
    .argument('<name>')
    .argument('<key>')
    .argument('[value]')
    .option('--unset', 'remove the option')
    .option('--local', 'write to the git-ignored local config (use this for credentials)')
    .action(verb('modify'));
  remote.command('remove').description('remove a remote').argument('<name>').action(verb('remove'));
  remote
    .command('default')
    .description('set the default remote')
    .argument('<name>')
    .option('--local', 'write to the local config')
    .action(verb('setDefault'));

  const transfer = (cmd: Command, what: string) =>
    cmd
      .argument('[targets...]', `stages whose outputs to ${what} (all by default)`)
      .option('-r, --remote <name>', "remote to use (default: core.remote; an output's own remote: wins)")
      .option('-j, --jobs <n>', 'parallel transfers')
      .option('--run-cache', 'also transfer the run-cache');
  transfer(program.command('push').description('upload cached outputs of pipeline.lock to a remote'), 'push').action(
    lazy(() => import('./push.js')),
  );
  transfer(
    program.command('fetch').description('download outputs of pipeline.lock from a remote into the cache'),
    'fetch',
  ).action(lazy(() => import('./fetch.js')));
  transfer(program.command('pull').description('fetch, then check the outputs out into the workspace'), 'pull')
    .addOption(new Option('-f, --force', 'overwrite modified outputs'))
    .action(lazy(() => import('./pull.js')));
}
