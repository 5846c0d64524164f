/**
 * Data tracked by `.dvc` files (`lockstep add`, or a DVC repository's) is git-ignored, so an isolated
 * experiment workspace, built from git's tracked files, lacks it. As `dvc exp run` does, it is checked
 * out there from the shared cache, by reflink or copy only: a stage writing into its input must never
 * change the cache through a hardlink or symlink.
 */
import path from 'node:path';
import { checkoutOutput, openObjectStore } from '../cache/index.js';
import type { LinkType } from '../cache/types.js';
import type { Pipeline } from '../config/types.js';
import { collectDvcFiles } from '../dvcfile/collect.js';
import type { DvcFile } from '../dvcfile/format.js';
import { LockstepError } from '../errors.js';

/** The project's link types reduced to the safe ones (reflink, copy), copy always last. */
export function safeLinkTypes(projectTypes: readonly LinkType[]): LinkType[] {
  const safe = projectTypes.filter((t) => t === 'reflink' || t === 'copy');
  const types: LinkType[] = safe.length ? safe : ['reflink'];
  if (!types.includes('copy')) types.push('copy');
  return types;
}

/** The `.dvc` files of a folder (stage outputs are never searched), those git tracks only when `tracked` is given. */
export async function trackedDataFiles(
  dir: string,
  pipeline: Pipeline,
  tracked?: readonly string[],
): Promise<DvcFile[]> {
  const outDirs = pipeline.stages.flatMap((s) => s.outs.map((o) => o.path));
  const files = await collectDvcFiles(dir, outDirs);
  if (!tracked) return files;
  const set = new Set(tracked);
  return files.filter((f) => set.has(f.file));
}

export interface DataCheckout {
  restored: string[];
  /** Paths whose objects are not in the cache (the stages that need them fail, naming the .dvc file). */
  missing: string[];
}

/** Check out every `.dvc`-tracked path of the workspace `dir` from the cache. */
export async function checkoutTrackedData(
  dir: string,
  pipeline: Pipeline,
  cacheDir: string,
  projectTypes: readonly LinkType[],
): Promise<DataCheckout> {
  const result: DataCheckout = { restored: [], missing: [] };
  const files = await trackedDataFiles(dir, pipeline);
  if (!files.length) return result;
  const store = openObjectStore(cacheDir);
  const types = safeLinkTypes(projectTypes);
  for (const f of files) {
    for (const o of f.outs) {
      if (!o.md5 || !o.cache) continue;
      const info = { md5: o.md5, size: o.size ?? 0, ...(o.nfiles !== undefined ? { nfiles: o.nfiles } : {}) };
      try {
        await checkoutOutput(store, info, path.join(dir, o.path), types, { displayRoot: dir });
        result.restored.push(o.path);
      } catch (e) {
        if (!(e instanceof LockstepError) || (e.reason !== 'missing-object' && e.reason !== 'corrupt-object')) throw e;
        result.missing.push(o.path);
      }
    }
  }
  return result;
}
