import type { Command } from 'commander';
import { LockstepError } from '../errors.js';
import { openProject } from '../project.js';
import { globals } from './options.js';
import { addRemote, listRemotes, modifyRemote, removeRemote, setDefaultRemote } from '../remote/config-edit.js';

const quiet = (cmd: Command) => globals(cmd).quiet;

export async function add(
  name: string,
  url: string,
  opts: { default?: boolean; force?: boolean; local?: boolean },
  cmd: Command,
): Promise<number> {
  const project = await openProject();
  await addRemote(project, name, url, {
    default: opts.default,
    force: opts.force,
    level: opts.local ? 'local' : 'project',
  });
  if (!quiet(cmd)) process.stdout.write(`added remote '${name}'${opts.default ? ' (default)' : ''}\n`);
  return 0;
}

export async function list(opts: { json?: boolean }): Promise<number> {
  const remotes = listRemotes(await openProject());
  if (opts.json) process.stdout.write(`${JSON.stringify(remotes, null, 2)}\n`);
  else for (const r of remotes) process.stdout.write(`${r.name}\t${r.url}${r.isDefault ? '\t(default)' : ''}\n`);
  return 0;
}

export async function modify(
  name: string,
  key: string,
  value: string | undefined,
  opts: { unset?: boolean; local?: boolean },
): Promise<number> {
  if (!opts.unset && value === undefined)
    throw new LockstepError(
      'usage',
      `remote modify ${name} ${key}: no value given`,
      'Pass a value, or --unset to remove the option.',
    );
  await modifyRemote(await openProject(), name, key, opts.unset ? undefined : value, opts.local ? 'local' : 'project');
  return 0;
}

export async function remove(name: string): Promise<number> {
  await removeRemote(await openProject(), name);
  return 0;
}

export async function setDefault(name: string, opts: { local?: boolean }): Promise<number> {
  await setDefaultRemote(await openProject(), name, opts.local ? 'local' : 'project');
  return 0;
}
