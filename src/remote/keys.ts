import type { Md5 } from '../hash/types.js';
import { asMd5 } from '../hash/types.js';

/** DVC 3's remote (and cache) layout for an object: `files/md5/<first 2>/<rest>`. */
export function objectKey(md5: Md5): string {
  return `files/md5/${md5.slice(0, 2)}/${md5.slice(2)}`;
}

export const OBJECTS_PREFIX = 'files/md5/';
export const RUNS_PREFIX = 'runs/';

const KEY_RE = /^files\/md5\/([0-9a-f]{2})\/([0-9a-f]{30}(?:\.dir)?)$/;

/** The hash a key names, or null for anything else under the prefix (temp files, stray names). */
export function md5FromKey(key: string): Md5 | null {
  const m = KEY_RE.exec(key);
  return m ? asMd5(`${m[1]}${m[2]}`) : null;
}

export { isMd5 } from '../hash/types.js';

/** Names the remotes give their in-flight uploads; skipped by listings of objects. */
export const isTempName = (key: string): boolean => /\.tmp$/.test(key) || key.split('/').some((p) => p.startsWith('.'));
