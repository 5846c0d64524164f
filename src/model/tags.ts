/**
 * The model registry's git tags, in GTO's format (DVC's model registry), so that `gto show` reads a
 * registry lockstep wrote and the other way round:
 *
 *   NAME@v1.2.3          register version v1.2.3 (the tag points at the commit that holds the artifact)
 *   NAME@v1.2.3!         deregister (deprecate) that version
 *   NAME#STAGE#N         assign STAGE to the version registered at the tag's commit (N counts the
 *                        artifact's assignment tags, so every assignment is a new tag)
 *   NAME#STAGE!#N        unassign STAGE from that version
 *   NAME@deprecated      deprecate the whole artifact
 *
 * Pure functions over tag names and their commits: parsing, and the registry state they add up to.
 */

export const NAME_RE = /^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/;
export const VERSION_RE = /^v(\d+)\.(\d+)\.(\d+)$/;
export const STAGE_RE = /^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/;

export type ParsedTag =
  | { kind: 'register'; artifact: string; version: string }
  | { kind: 'deregister'; artifact: string; version: string; counter?: number }
  | { kind: 'assign'; artifact: string; stage: string; counter?: number }
  | { kind: 'unassign'; artifact: string; stage: string; counter?: number }
  | { kind: 'deprecate'; artifact: string; counter?: number };

/** A tag as read from git: its name, the commit it points at, when it was made and its message. */
export interface TagRecord {
  tag: string;
  commit: string;
  created: string;
  message: string;
}

export type RegistryEvent = ParsedTag & TagRecord;

const counterOf = (s: string | undefined): number | undefined => (s === undefined ? undefined : Number(s));

/** Parse a tag name; null when it is not a registry tag (ordinary release tags are left alone). */
export function parseTag(tag: string): ParsedTag | null {
  let m = /^([a-z0-9-]+)@(v\d+\.\d+\.\d+)$/.exec(tag);
  if (m && NAME_RE.test(m[1]!)) return { kind: 'register', artifact: m[1]!, version: m[2]! };
  m = /^([a-z0-9-]+)@(v\d+\.\d+\.\d+)!(?:#(\d+))?$/.exec(tag);
  if (m && NAME_RE.test(m[1]!))
    return { kind: 'deregister', artifact: m[1]!, version: m[2]!, counter: counterOf(m[3]) };
  m = /^([a-z0-9-]+)@deprecated(?:#(\d+))?$/.exec(tag);
  if (m && NAME_RE.test(m[1]!)) return { kind: 'deprecate', artifact: m[1]!, counter: counterOf(m[2]) };
  m = /^([a-z0-9-]+)#([a-z0-9-]+)(!)?(?:#(\d+))?$/.exec(tag);
  if (m && NAME_RE.test(m[1]!) && STAGE_RE.test(m[2]!)) {
    return m[3]
      ? { kind: 'unassign', artifact: m[1]!, stage: m[2]!, counter: counterOf(m[4]) }
      : { kind: 'assign', artifact: m[1]!, stage: m[2]!, counter: counterOf(m[4]) };
  }
  return null;
}

export const registerTagName = (artifact: string, version: string): string => `${artifact}@${version}`;
export const deregisterTagName = (artifact: string, version: string): string => `${artifact}@${version}!`;
export const assignTagName = (artifact: string, stage: string, counter: number): string =>
  `${artifact}#${stage}#${counter}`;
export const unassignTagName = (artifact: string, stage: string, counter: number): string =>
  `${artifact}#${stage}!#${counter}`;
export const deprecateTagName = (artifact: string): string => `${artifact}@deprecated`;

/** GTO's tag messages (the first line; lockstep adds its metadata below a blank line). */
export function tagSubject(t: ParsedTag, version?: string): string {
  switch (t.kind) {
    case 'register':
      return `Registering artifact ${t.artifact} version ${t.version}`;
    case 'deregister':
      return `Deregistering artifact ${t.artifact} version ${t.version}`;
    case 'assign':
      return `Assigning stage ${t.stage} to artifact ${t.artifact} version ${version ?? '?'}`;
    case 'unassign':
      return `Unassigning stage ${t.stage} to artifact ${t.artifact} version ${version ?? '?'}`;
    case 'deprecate':
      return `Deprecating artifact '${t.artifact}'`;
  }
}

export function compareVersions(a: string, b: string): number {
  const pa = VERSION_RE.exec(a);
  const pb = VERSION_RE.exec(b);
  if (!pa || !pb) return a.localeCompare(b);
  for (let i = 1; i <= 3; i++) {
    const d = Number(pa[i]) - Number(pb[i]);
    if (d !== 0) return d;
  }
  return 0;
}

/** The next version after the highest one: a minor bump (v0.1.0 first), as `gto register` does. */
export function nextVersion(existing: readonly string[], bump: 'major' | 'minor' | 'patch' = 'minor'): string {
  const sorted = [...existing].filter((v) => VERSION_RE.test(v)).sort(compareVersions);
  const top = sorted.at(-1);
  if (!top) return 'v0.1.0';
  const [, ma, mi, pa] = VERSION_RE.exec(top)!.map(Number) as [number, number, number, number];
  if (bump === 'major') return `v${ma + 1}.0.0`;
  if (bump === 'patch') return `v${ma}.${mi}.${pa + 1}`;
  return `v${ma}.${mi + 1}.0`;
}

export interface VersionState {
  version: string;
  commit: string;
  created: string;
  /** Registration tag name and its message (lockstep's metadata lives there). */
  tag: string;
  message: string;
  deregistered: boolean;
  /** Stages this version holds now. */
  stages: string[];
}

export interface ArtifactState {
  name: string;
  deprecated: boolean;
  /** Newest first. */
  versions: VersionState[];
  /** stage -> version holding it now. */
  stages: Record<string, string>;
  /** The counter the next assignment tag takes (one more than the highest so far). */
  nextCounter: number;
  /** Every event, oldest first. */
  history: RegistryEvent[];
}

/**
 * Fold tags into the registry: versions (by commit), and which version holds each stage. A stage
 * belongs to the version named by its latest assignment (by counter, then date); an unassignment of
 * that version clears it. Deregistered versions hold no stage.
 */
export function registryState(records: readonly TagRecord[]): Map<string, ArtifactState> {
  const events: RegistryEvent[] = [];
  for (const r of records) {
    const p = parseTag(r.tag);
    if (p) events.push({ ...p, ...r });
  }
  // In order of record: by date, then by GTO's counter (tags made in the same second).
  const counter = (e: RegistryEvent): number => ('counter' in e ? (e.counter ?? Infinity) : Infinity);
  events.sort((x, y) => x.created.localeCompare(y.created) || Math.sign(counter(x) - counter(y) || 0));
  const out = new Map<string, ArtifactState>();
  const art = (name: string): ArtifactState => {
    let a = out.get(name);
    if (!a) {
      a = { name, deprecated: false, versions: [], stages: {}, nextCounter: 1, history: [] };
      out.set(name, a);
    }
    return a;
  };
  for (const e of events) {
    const a = art(e.artifact);
    a.history.push(e);
    if ('counter' in e && e.counter !== undefined) a.nextCounter = Math.max(a.nextCounter, e.counter + 1);
    if (e.kind === 'register') {
      a.versions.push({
        version: e.version,
        commit: e.commit,
        created: e.created,
        tag: e.tag,
        message: e.message,
        deregistered: false,
        stages: [],
      });
    }
  }
  for (const a of out.values()) {
    const byVersion = new Map(a.versions.map((v) => [v.version, v]));
    const atCommit = (commit: string): VersionState | undefined =>
      [...a.versions].reverse().find((v) => v.commit === commit && !v.deregistered);
    const ordered = a.history;
    for (const e of ordered) {
      if (e.kind === 'deregister') {
        const v = byVersion.get(e.version);
        if (v) v.deregistered = true;
        for (const [stage, holder] of Object.entries(a.stages)) if (holder === e.version) delete a.stages[stage];
      } else if (e.kind === 'deprecate') {
        a.deprecated = true;
      } else if (e.kind === 'assign') {
        const v = atCommit(e.commit);
        if (v) a.stages[e.stage] = v.version;
      } else if (e.kind === 'unassign') {
        const v = atCommit(e.commit);
        if (v && a.stages[e.stage] === v.version) delete a.stages[e.stage];
      }
    }
    for (const v of a.versions) v.stages = Object.keys(a.stages).filter((s) => a.stages[s] === v.version);
    a.versions.sort((x, y) => compareVersions(y.version, x.version));
  }
  return out;
}
