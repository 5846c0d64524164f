/**
 * Finding every pipeline file of a project, as DVC's `collect_files` (dvc/repo/index.py) does: a top-down
 * walk from the root that never enters `.git`, `.dvc`, `.lockstep`, `.cache`, `node_modules`, the cache
 * folder, a folder git or DVC ignores (`.gitignore`, `.git/info/exclude`, `.dvcignore`, each applying to its
 * own folder and below), nor the outputs of the pipeline files found above it, nor a folder that is a
 * repository of its own (a `.git`, `.dvc/` or `.lockstep/` in it: a nested clone or a DVC subrepo, as DVC
 * skips subrepos). So a project whose data folders hold 100,000 files costs a readdir of the folders that
 * hold code, not a walk of its data.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import ignore, { type Ignore } from 'ignore';
import { PIPELINE_FILES } from '../project.js';
import { type DirListings, type EntryKind, type ListedEntry, listDir, ownRepository } from '../util/dir-listings.js';

const SKIPPED_NAMES = new Set(['.git', '.dvc', '.lockstep', '.cache', 'node_modules']);
const IGNORE_FILES = ['.gitignore', '.dvcignore'];

/** The files of a folder this walk reads by name (for DirListings' memo: it keeps subfolders anyway). */
export const pipelineWalkReads = (name: string, kind: EntryKind): boolean =>
  kind === 'file' && ((PIPELINE_FILES as readonly string[]).includes(name) || IGNORE_FILES.includes(name));

/**
 * One ignore file's rules: patterns apply to paths relative to `base` (repo-relative, '' for the root).
 * A project's .gitignore lists every output (`/out/o17.txt`, one line each: 500 lines for 500 stages), and
 * the `ignore` package compiles a regex per line, ~0.1 ms each. Most lines are literal names that cannot
 * match the path tested, so each test compiles only the lines that can: every line with a wildcard,
 * escape or space, and the literal lines whose last name is one of the tested path's names. Lines that
 * cannot match change no result, whatever their order (a `!` line included), so the answer is the same.
 */
export class IgnoreRules {
  private readonly lines: { text: string; name: string | null }[];
  private readonly compiled = new Map<string, Ignore>();

  constructor(
    readonly base: string,
    text: string,
  ) {
    this.lines = text.split(/\r?\n/).map((line) => ({ text: line, name: literalName(line) }));
  }

  test(local: string, dir: boolean): { ignored: boolean; unignored: boolean } {
    // the `ignore` package compares without case and checks every parent folder of the path too
    const names = new Set(local.toLowerCase().split('/'));
    const kept: number[] = [];
    this.lines.forEach((l, i) => {
      if (l.name === null || names.has(l.name)) kept.push(i);
    });
    const key = kept.join(',');
    let ig = this.compiled.get(key);
    if (!ig) {
      ig = ignore().add(kept.map((i) => this.lines[i]!.text).join('\n'));
      this.compiled.set(key, ig);
    }
    return ig.test(dir ? `${local}/` : local);
  }
}

/**
 * The one name a gitignore line without wildcards can match (its last path name, lower case), or null for
 * a line that is always compiled: wildcards, escapes, spaces, comments, non-ASCII (case folding of such
 * names is the regex engine's business) or `.`/`..`.
 */
function literalName(line: string): string | null {
  if (!/^[\x21-\x7e]+$/.test(line) || /[*?[\]\\#]/.test(line)) return null;
  const bare = line.replace(/^!/, '').replace(/^\/+/, '').replace(/\/+$/, '');
  const name = bare.slice(bare.lastIndexOf('/') + 1);
  return name === '' || name === '.' || name === '..' ? null : name.toLowerCase();
}

export interface WalkOptions {
  /** Absolute folders never entered (the cache folder when it lies inside the project). */
  skipAbs?: readonly string[];
  /**
   * Called for each pipeline file found (repo-relative POSIX path), in walk order: a folder's file before
   * its subfolders, subfolders by name. Returns the repo-relative outputs it declares: never walked into.
   */
  visit: (file: string) => Promise<readonly string[]>;
  /** Listings shared with the command's other walks (the `.dvc` collection). */
  listings?: DirListings;
}

/** Walk the project; returns the pipeline files visited, in walk order. */
export async function collectPipelineFiles(root: string, opts: WalkOptions): Promise<string[]> {
  const found: string[] = [];
  const outs = new Set<string>();
  const skipAbs = new Set((opts.skipAbs ?? []).map((p) => path.resolve(p)));
  const rootRules: IgnoreRules[] = [];
  const exclude = readText(path.join(root, '.git', 'info', 'exclude'));
  if (exclude) rootRules.push(new IgnoreRules('', exclude));

  const walk = async (rel: string, inherited: IgnoreRules[]): Promise<void> => {
    const abs = rel ? path.join(root, rel) : root;
    // synchronous: a few hundred small listings cost less than as many trips through the thread pool
    let entries: ListedEntry[];
    try {
      entries = listDir(abs, opts.listings);
    } catch {
      return;
    }
    if (rel !== '' && ownRepository(entries)) return; // another project's, with its own pipeline and lock
    const rules = [...inherited];
    for (const name of IGNORE_FILES) {
      if (!entries.some((e) => e.name === name && e.isFile())) continue;
      const text = readText(path.join(abs, name));
      if (text?.trim()) rules.push(new IgnoreRules(rel, text));
    }
    const join = (name: string) => (rel ? `${rel}/${name}` : name);
    const file = PIPELINE_FILES.find((f) => entries.some((e) => e.name === f && e.isFile()));
    if (file && !isIgnored(rules, join(file), false)) {
      const p = join(file);
      found.push(p);
      for (const o of await opts.visit(p)) outs.add(o);
    }
    const dirs = entries
      .filter((e) => e.isDirectory() && !SKIPPED_NAMES.has(e.name))
      .map((e) => e.name)
      .sort();
    for (const name of dirs) {
      const sub = join(name);
      if (outs.has(sub) || skipAbs.has(path.join(root, sub)) || isIgnored(rules, sub, true)) continue;
      await walk(sub, rules);
    }
  };
  await walk('', rootRules);
  return found;
}

function readText(file: string): string | null {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return null;
  }
}

/** Git's precedence: the deepest file that matches decides (a `!pattern` below re-includes). */
function isIgnored(rules: readonly IgnoreRules[], rel: string, dir: boolean): boolean {
  let ignored = false;
  for (const r of rules) {
    const local = r.base ? rel.slice(r.base.length + 1) : rel;
    const t = r.test(local, dir);
    if (t.ignored) ignored = true;
    else if (t.unignored) ignored = false;
  }
  return ignored;
}
