/**
 * Finding every pipeline file of a project, as DVC's `collect_files` (dvc/repo/index.py) does: a top-down
 * walk from the root that never enters `.git`, `.dvc`, `.lockstep`, `.cache`, `node_modules`, the cache
 * folder, a folder git or DVC ignores (`.gitignore`, `.git/info/exclude`, `.dvcignore`, each applying to its
 * own folder and below), nor the outputs of the pipeline files found above it. So a project whose data
 * folders hold 100,000 files costs a readdir of the folders that hold code, not a walk of its data.
 */
import { readdirSync, readFileSync, type Dirent } from 'node:fs';
import path from 'node:path';
import ignore, { type Ignore } from 'ignore';
import { PIPELINE_FILES } from '../project.js';

const SKIPPED_NAMES = new Set(['.git', '.dvc', '.lockstep', '.cache', 'node_modules']);
const IGNORE_FILES = ['.gitignore', '.dvcignore'];

/** One folder's ignore rules: patterns apply to paths relative to `base` (repo-relative, '' for the root). */
interface Rules {
  base: string;
  ig: Ignore;
}

export interface WalkOptions {
  /** Absolute folders never entered (the cache folder when it lies inside the project). */
  skipAbs?: readonly string[];
  /**
   * Called for each pipeline file found (repo-relative POSIX path), in walk order: a folder's file before
   * its subfolders, subfolders by name. Returns the repo-relative outputs it declares: never walked into.
   */
  visit: (file: string) => Promise<readonly string[]>;
}

/** Walk the project; returns the pipeline files visited, in walk order. */
export async function collectPipelineFiles(root: string, opts: WalkOptions): Promise<string[]> {
  const found: string[] = [];
  const outs = new Set<string>();
  const skipAbs = new Set((opts.skipAbs ?? []).map((p) => path.resolve(p)));
  const rootRules: Rules[] = [];
  const exclude = readText(path.join(root, '.git', 'info', 'exclude'));
  if (exclude) rootRules.push({ base: '', ig: ignore().add(exclude) });

  const walk = async (rel: string, inherited: Rules[]): Promise<void> => {
    const abs = rel ? path.join(root, rel) : root;
    // synchronous: a few hundred small listings cost less than as many trips through the thread pool
    let entries: Dirent[];
    try {
      entries = readdirSync(abs, { withFileTypes: true });
    } catch {
      return;
    }
    const rules = [...inherited];
    for (const name of IGNORE_FILES) {
      if (!entries.some((e) => e.name === name && e.isFile())) continue;
      const text = readText(path.join(abs, name));
      if (text?.trim()) rules.push({ base: rel, ig: ignore().add(text) });
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
function isIgnored(rules: readonly Rules[], rel: string, dir: boolean): boolean {
  let ignored = false;
  for (const r of rules) {
    const local = r.base ? rel.slice(r.base.length + 1) : rel;
    const t = r.ig.test(dir ? `${local}/` : local);
    if (t.ignored) ignored = true;
    else if (t.unignored) ignored = false;
  }
  return ignored;
}
