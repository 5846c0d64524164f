/**
 * A directory's listing kept in the stat cache (with its directory record), so a warm walk can skip
 * readdir: the folder stamps that say it still holds (see walk.ts), and its checks when read back.
 */

/** The names below a directory as a walk listed them, and the stamps that say they are still current. */
export interface TreeListing {
  /** Every folder of the tree ('' is the root, then relpaths): [relpath, ino, mtimeMs] when listed. */
  dirs: [string, number, number][];
  /** The files' relpaths in walk order, joined by NUL. */
  files: string;
  /** Indexes (in `files`) of the symlinks to files: their targets are stat'ed through the link. */
  links: number[];
  /** The largest folder mtime plus its racy window: the listing is not trusted from a time before it. */
  racyUntil: number;
}

/** The JSON form kept in a segment's directory records. */
export function listingJson(l: TreeListing): unknown[] {
  return [l.dirs, l.files, l.links, l.racyUntil];
}

/** Whether two listings say the same (an undefined second one: nothing new to keep). */
export function sameListing(a: TreeListing | undefined, b: TreeListing | undefined): boolean {
  if (a === b) return true;
  if (a === undefined || b === undefined) return b === undefined; // a record keeps its listing until a new one
  if (a.files !== b.files || a.dirs.length !== b.dirs.length || a.links.length !== b.links.length) return false;
  for (let i = 0; i < a.dirs.length; i++) {
    const [ra, ia, ma] = a.dirs[i]!;
    const [rb, ib, mb] = b.dirs[i]!;
    if (ra !== rb || ia !== ib || ma !== mb) return false;
  }
  return a.links.every((l, i) => l === b.links[i]);
}

/** A part (between '/' and NUL, or an end) that is empty, '.' or '..'. */
const BAD_PART = /(?:^|[\0/])\.{0,2}(?:[\0/]|$)/;

/**
 * Whether NUL-joined relpaths are all plain relpaths below a folder: no part (between '/' and NUL)
 * empty, '.' or '..'. One regex scan: a loop over the characters took ~10 ms on 60,000 relpaths.
 */
export function safeRelpaths(joined: string): boolean {
  return joined !== '' && !BAD_PART.test(joined);
}

/**
 * A listing read from a segment, checked: a damaged or hostile one (a relpath leaving its folder, a
 * link index out of range) is dropped, and so is one listed within its folders' racy window.
 */
export function parseListing(raw: unknown, writtenAtMs: number): TreeListing | undefined {
  if (!Array.isArray(raw) || raw.length !== 4) return undefined;
  const [dirs, files, links, racyUntil] = raw as unknown[];
  if (typeof files !== 'string' || typeof racyUntil !== 'number' || !(racyUntil < writtenAtMs)) return undefined;
  if (!Array.isArray(dirs) || !Array.isArray(links) || dirs.length === 0) return undefined;
  const stamps: [string, number, number][] = [];
  for (const d of dirs as unknown[]) {
    if (!Array.isArray(d) || d.length !== 3) return undefined;
    const [rel, ino, mtimeMs] = d as unknown[];
    if (typeof rel !== 'string' || typeof ino !== 'number' || typeof mtimeMs !== 'number') return undefined;
    if (rel !== '' && (rel.includes('\0') || !safeRelpaths(rel))) return undefined;
    stamps.push([rel, ino, mtimeMs]);
  }
  if (stamps[0]![0] !== '' || (files !== '' && !safeRelpaths(files))) return undefined;
  let count = files === '' ? 0 : 1;
  for (let i = files.indexOf('\0'); i >= 0; i = files.indexOf('\0', i + 1)) count++;
  if (!links.every((l) => Number.isInteger(l) && (l as number) >= 0 && (l as number) < count)) return undefined;
  return { dirs: stamps, files, links: links as number[], racyUntil };
}
