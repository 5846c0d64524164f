/** `lockstep init`: make the current folder a lockstep project (reusing a DVC repository's cache and remotes). */
import { initProject } from '../init.js';
import { out } from './options.js';

export async function run(flags: { force?: boolean; noDvc?: boolean; dvc?: boolean }): Promise<number> {
  const r = await initProject(process.cwd(), { force: !!flags.force, noDvc: flags.dvc === false });
  out(`Initialized lockstep project in ${r.root}`);
  for (const f of r.created) out(`  wrote ${f}`);
  if (r.dvc) {
    out(`  DVC repository found: cache ${r.dvc.cacheDir}, remotes ${r.dvc.remotes.join(', ') || '(none)'}`);
    if (r.dvc.defaultRemote) out(`  default remote: ${r.dvc.defaultRemote}`);
  }
  return 0;
}
