/**
 * Shortcuts for paths that are already normal, checked with one regular expression each: path.resolve
 * normalizes segment by segment and reads the working folder, and a no-op `repro` of 500 stages calls it
 * thousands of times. Each function returns exactly what path.resolve would (test/unit/normal-path.test.ts);
 * anything unusual (Windows, `.`/`..`/empty segments, a trailing slash, the root folder) takes path.resolve.
 */
import path from 'node:path';

/** A relative POSIX path without `.`, `..` or empty segments, backslashes or a trailing slash. */
const NORMAL_REL_RE = /^(?!\.\.?(?:\/|$))[^/\\]+(?:\/(?!\.\.?(?:\/|$))[^/\\]+)*$/;
/** A `.`, `..` or empty segment, or a trailing slash, in an absolute POSIX path. */
const NOT_NORMAL_ABS_RE = /\/(?:\.\.?)?(?:\/|$)/;

/** A relative POSIX path path.resolve joins as it is: no `.`, `..` or empty segment, backslash or trailing slash. */
export function isNormalRel(p: string): boolean {
  return NORMAL_REL_RE.test(p);
}

/** An absolute path that path.resolve returns unchanged. */
export function isNormalAbs(p: string): boolean {
  return path.sep === '/' && p.length > 1 && p.startsWith('/') && !NOT_NORMAL_ABS_RE.test(p);
}

/** path.resolve(root, rel) for an absolute `root`, by concatenation when both are normal. */
export function resolveUnder(root: string, rel: string): string {
  return isNormalAbs(root) && isNormalRel(rel) ? `${root}/${rel}` : path.resolve(root, rel);
}
