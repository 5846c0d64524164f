/** `lockstep freeze` / `unfreeze`: a frozen stage is never run by repro and never reported stale. */
import { setFrozen } from '../config/edit.js';
import { openProject } from '../project.js';
import { out } from './options.js';

export async function freeze(stages: string[]): Promise<number> {
  const file = await setFrozen((await openProject()).root, stages, true);
  for (const s of stages) out(`Modified stage '${s}' in '${file}'`);
  return 0;
}

export async function unfreeze(stages: string[]): Promise<number> {
  const file = await setFrozen((await openProject()).root, stages, false);
  for (const s of stages) out(`Modified stage '${s}' in '${file}'`);
  return 0;
}
