import { isDirHash, type Md5 } from '../hash/types.js';
import type { Project } from '../project.js';
import { readTrackedOutputs, selectOutputs } from './objects.js';
import { defaultJobs, openRemote, remoteKindOf, resolveRemote } from './open.js';
import { fetchObjectsFrom, localHas, remoteHas, type LocalObjects, type TransferEvent } from './transfer.js';

/** DVC's words: new = only in the cache, deleted = only on the remote, missing = in neither. */
export interface OutputCloudStatus {
  stage: string;
  path: string;
  md5: Md5;
  remote: string;
  /** `push: false` outputs are listed but not expected on the remote. */
  push: boolean;
  ok: number;
  new: string[];
  deleted: string[];
  missing: string[];
}

export interface CloudStatus {
  outputs: OutputCloudStatus[];
  /** True when every pushable object is on its remote and in the cache. */
  inSync: boolean;
}

export interface CloudStatusOptions {
  targets?: string[];
  remote?: string;
  jobs?: number;
  onEvent?: (e: TransferEvent) => void;
}

interface Obj {
  md5: Md5;
  /** relpath inside a directory output, or '' for the output itself */
  name: string;
}

/**
 * Compare the cache with the remote for the lock file's outputs. A directory whose manifest only
 * the remote has is described by fetching that manifest (verified) into the cache.
 * Usage from `lockstep status --cloud`: `cloudStatus(project, { targets, remote: opts.remote, jobs })`.
 */
export async function cloudStatus(project: Project, opts: CloudStatusOptions = {}): Promise<CloudStatus> {
  const { lock, flags } = await readTrackedOutputs(project.root);
  const outs = selectOutputs(lock, opts.targets ?? [], flags);
  const { openObjectStore } = await import('../cache/index.js');
  const store = openObjectStore(project.cacheDir);
  const groups = new Map<string | undefined, typeof outs>();
  for (const o of outs) groups.set(o.remote ?? opts.remote, [...(groups.get(o.remote ?? opts.remote) ?? []), o]);
  const result: OutputCloudStatus[] = [];
  for (const [name, group] of groups) {
    const resolved = resolveRemote(project, name);
    const jobs = opts.jobs ?? defaultJobs(remoteKindOf(resolved.config.url), resolved.config.jobs);
    const remote = await openRemote(project, resolved, jobs);
    try {
      const topt = { jobs, onEvent: opts.onEvent };
      const dirs = [...new Set(group.map((o) => o.md5).filter(isDirHash))];
      const remoteDirs = await remoteHas(remote, dirs, topt);
      // a manifest only the remote has: fetch it (verified) so its files can be named
      const onlyRemote: Md5[] = [];
      for (const d of remoteDirs) if (!(await store.has(d))) onlyRemote.push(d);
      if (onlyRemote.length) await fetchManifestsOnly(store, remote, onlyRemote, topt);
      const objects = new Map<string, Obj[]>();
      const queried = new Set<Md5>();
      for (const o of group) {
        const list: Obj[] = [{ md5: o.md5, name: '' }];
        if (isDirHash(o.md5) && (await store.has(o.md5))) {
          for (const e of await store.readManifest(o.md5)) {
            list.push({ md5: e.md5, name: e.relpath });
            // a .dir on the remote vouches for nothing: files can be deleted behind it
            queried.add(e.md5);
          }
        }
        if (!isDirHash(o.md5)) queried.add(o.md5);
        objects.set(`${o.stage}\0${o.path}`, list);
      }
      const onRemote = await remoteHas(remote, [...queried], topt);
      for (const d of remoteDirs) onRemote.add(d);
      const local = await localHas(store, new Set<Md5>([...objects.values()].flatMap((l) => l.map((x) => x.md5))));
      for (const o of group) {
        const st: OutputCloudStatus = {
          stage: o.stage,
          path: o.path,
          md5: o.md5,
          remote: remote.name,
          push: o.push,
          ok: 0,
          new: [],
          deleted: [],
          missing: [],
        };
        for (const x of objects.get(`${o.stage}\0${o.path}`) ?? []) {
          const label = x.name ? `${o.path}/${x.name}` : isDirHash(x.md5) ? `${o.path}/ (manifest)` : o.path;
          const r = onRemote.has(x.md5);
          const l = local.has(x.md5);
          if (r && l) st.ok++;
          else if (l) st.new.push(label);
          else if (r) st.deleted.push(label);
          else st.missing.push(label);
        }
        result.push(st);
      }
    } finally {
      await remote.close();
    }
  }
  const inSync = result.every(
    (s) => !s.push || (s.new.length === 0 && s.deleted.length === 0 && s.missing.length === 0),
  );
  return { outputs: result, inSync };
}

async function fetchManifestsOnly(
  store: LocalObjects,
  remote: Parameters<typeof fetchObjectsFrom>[1],
  dirs: Md5[],
  opts: { jobs: number },
): Promise<void> {
  // fetchObjectsFrom would also fetch the files; manifests alone go through the same verified path
  const manifestsOnly: LocalObjects = {
    root: store.root,
    objectPath: (h) => store.objectPath(h),
    has: (h) => store.has(h),
    addFile: (src, h, o) => store.addFile(src, h, o),
    readManifest: async () => [],
  };
  await fetchObjectsFrom(manifestsOnly, remote, dirs, opts);
}
