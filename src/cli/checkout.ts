import type { Command } from 'commander';
import { openLockedWorkspace } from '../pipeline/context.js';
import { checkoutFailure, checkoutWorkspace } from '../pipeline/checkout-workspace.js';
import { globals, parseWait } from './options.js';
import { out } from './render.js';

/** Restore workspace outputs from the cache, as the lock file records them. */
export async function run(
  targets: string[],
  flags: { force?: boolean; wait?: string | boolean },
  cmd: Command,
): Promise<number> {
  const g = globals(cmd);
  const { ws, release } = await openLockedWorkspace({ command: 'lockstep checkout', waitMs: parseWait(flags.wait) });
  let result: Awaited<ReturnType<typeof checkoutWorkspace>>;
  try {
    result = await checkoutWorkspace(ws, { targets, force: !!flags.force });
  } finally {
    await release();
  }
  if (!g.quiet) {
    for (const o of result.restored) out(`M\t${o.path}`);
    const notRestored = result.problems.length ? `, ${result.problems.length} not restored` : '';
    out(`${result.restored.length} outputs restored, ${result.unchanged.length} unchanged${notRestored}.`);
  }
  const failure = checkoutFailure(result);
  if (failure) throw failure;
  return 0;
}
