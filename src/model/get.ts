/**
 * `model get`: place a registered version's artifact in a folder, from the local cache, or from the
 * remote when the cache lacks it. Files are independent copies: a consumer editing them can never
 * change the cache.
 */
import { existsSync, promises as fs } from 'node:fs';
import path from 'node:path';
import { checkoutOutput, openObjectStore } from '../cache/index.js';
import { LockstepError } from '../errors.js';
import { asMd5, type HashInfo } from '../hash/types.js';
import type { Project } from '../project.js';
import { loadRegistryConfig } from './config.js';
import { resolveSpec } from './registry.js';
import { lockAt, lockedEntry, type VersionMeta } from './versions.js';

export interface GetResult {
  name: string;
  version: string;
  md5: string;
  out: string;
  fetched: boolean;
}

/** The artifact's hash info: from lockstep's record in the tag, else from the lock at the tag's commit. */
async function artifactInfo(
  project: Project,
  name: string,
  commit: string,
  meta: VersionMeta | null,
): Promise<HashInfo & { path: string }> {
  if (meta)
    return {
      path: meta.path,
      md5: asMd5(meta.md5),
      size: meta.size,
      ...(meta.nfiles !== undefined ? { nfiles: meta.nfiles } : {}),
    };
  // A version registered by GTO itself: the artifact path comes from the config.
  const model = (await loadRegistryConfig(project.root)).models[name];
  const lock = await lockAt(project.root, commit);
  const entry = model?.path && lock ? lockedEntry(lock.lock, model.path) : null;
  if (!entry)
    throw new LockstepError(
      'usage',
      `cannot tell which output is ${name}'s artifact at ${commit.slice(0, 7)}`,
      `Set models.${name}.path in .lockstep/config.yaml.`,
    );
  return {
    path: entry.path,
    md5: asMd5(entry.md5),
    size: entry.size,
    ...(entry.nfiles !== undefined ? { nfiles: entry.nfiles } : {}),
  };
}

export async function getArtifact(
  project: Project,
  spec: string,
  opts: { out?: string; cwd?: string; remote?: string; force?: boolean } = {},
): Promise<GetResult> {
  const { artifact, version } = await resolveSpec(project.root, spec);
  const info = await artifactInfo(project, artifact.name, version.commit, version.meta);
  const out = path.resolve(opts.cwd ?? process.cwd(), opts.out ?? `${artifact.name}@${version.version}`);
  const isControl = ['.git', '.lockstep'].some(
    (c) => out === path.join(project.root, c) || out.startsWith(path.join(project.root, c) + path.sep),
  );
  if (isControl || out === project.cacheDir || out.startsWith(project.cacheDir + path.sep) || out === project.root)
    throw new LockstepError('usage', `refusing to write the model into ${out}`, 'Give another folder with -o.');
  if (existsSync(out) && !opts.force) {
    const st = await fs.lstat(out);
    const empty = st.isDirectory() && (await fs.readdir(out)).length === 0;
    if (!empty)
      throw new LockstepError(
        'usage',
        `${out} already exists`,
        'Give another folder with -o, or --force to replace it.',
      );
  }
  const store = openObjectStore(project.cacheDir);
  let fetched = false;
  const complete = async (): Promise<boolean> => {
    if (!(await store.has(info.md5))) return false;
    if (!info.md5.endsWith('.dir')) return true;
    for (const e of await store.readManifest(info.md5)) if (!(await store.has(e.md5))) return false;
    return true;
  };
  if (!(await complete())) {
    const { fetchObjects } = await import('../remote/index.js');
    await fetchObjects(project, [info.md5], opts.remote ? { remote: opts.remote } : {});
    fetched = true;
    if (!(await complete()))
      throw new LockstepError(
        'missing-object',
        `${artifact.name}@${version.version} (${info.md5}) is neither in the cache nor on the remote`,
        'Push it from the machine that trained it (`lockstep push` or `lockstep exp push`).',
      );
  }
  if (opts.force && existsSync(out)) await fs.rm(out, { recursive: true, force: true });
  // The artifact goes to out/<basename of its path>, as `dvc get` places a path under -o.
  const target = info.md5.endsWith('.dir') ? out : path.join(out, path.basename(info.path));
  await fs.mkdir(out, { recursive: true });
  await checkoutOutput(store, info, target, ['copy']);
  return { name: artifact.name, version: version.version, md5: info.md5, out: target, fetched };
}
