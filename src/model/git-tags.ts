/**
 * Reading and writing the registry's annotated tags with git. A tag is created only if its name is
 * free (git's ref lock makes that atomic), which is the compare-and-swap the registry relies on: two
 * challengers that both saw assignment counter N race for the tag `NAME#STAGE#N`, and only one wins.
 */
import { catFileBatch, gitMaybe } from '../exp/git.js';
import type { TagRecord } from './tags.js';

const SEP = '\u0001';
const END = '\u0002';

/** Every annotated or lightweight tag with the commit it points at (peeled), its date and message. */
export async function readTags(root: string): Promise<TagRecord[]> {
  const format = [
    '%(refname:strip=2)',
    '%(objecttype)',
    '%(objectname)',
    '%(*objectname)',
    '%(creatordate:iso-strict)',
    `%(contents)${END}`,
  ].join(SEP);
  const out = await gitMaybe(root, ['for-each-ref', `--format=${format}`, 'refs/tags']);
  if (out === null) return [];
  const records: TagRecord[] = [];
  for (const chunk of out.split(`${END}\n`)) {
    if (!chunk.trim()) continue;
    const [tag, type, obj, peeled, created, ...rest] = chunk.split(SEP);
    if (!tag || !obj) continue;
    records.push({
      tag,
      commit: type === 'tag' ? (peeled ?? obj) : obj,
      created: created ?? '',
      message: rest.join(SEP).replace(new RegExp(`${END}$`), ''),
    });
  }
  return records;
}

const identityEnv = (): Record<string, string> => ({
  GIT_COMMITTER_NAME: process.env.GIT_COMMITTER_NAME ?? 'lockstep',
  GIT_COMMITTER_EMAIL: process.env.GIT_COMMITTER_EMAIL ?? 'lockstep@localhost',
});

/**
 * Create an annotated tag at `commit`; false when the name is already taken (someone else won the
 * race), so callers re-read the registry and decide again.
 */
export async function createTag(root: string, name: string, commit: string, message: string): Promise<boolean> {
  const ok = await gitMaybe(root, ['tag', '-a', name, commit, '-F', '-'], { input: message, env: identityEnv() });
  return ok !== null;
}

/** The full sha of a revision's commit, or null. */
export async function resolveCommit(root: string, rev: string): Promise<string | null> {
  const out = await gitMaybe(root, ['rev-parse', '--verify', '--quiet', `${rev}^{commit}`]);
  return out === null ? null : out.trim();
}

/** A file's bytes at a commit, or null when it is not there. */
export async function fileAt(root: string, commit: string, rel: string): Promise<Buffer | null> {
  const [r] = await catFileBatch(root, [`${commit}:${rel}`]);
  return r && r.type === 'blob' ? Buffer.from(r.content) : null;
}
