/**
 * The `exp` section of `.lockstep/config.yaml`:
 *
 *   exp:
 *     choices:                                    # values checked before any stage runs, so a
 *       data: {values: [v1, v2, v3], join: '+'}   # sweep with a typo fails at once: a '+'-joined set
 *       train.model: [seed, bn]                   # of distinct values, or exactly one of a list
 *     link: [tools]                               # untracked folders workspaces link to (read-only
 *                                                 # use!), besides node_modules, .venv and venv
 *
 * Keys are params keys of params.yaml, or `file.yaml:key`. Without a declaration only the shape of
 * `--data` is checked and the stage that reads the value reports a bad one (the experiment is then
 * recorded as failed with its log).
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import { LockstepError } from '../errors.js';
import { CONFIG_FILE, LOCAL_CONFIG_FILE } from '../project.js';
import { DEFAULT_PARAMS_FILE, formatValue, type Assignment } from './sweep.js';

export interface Choice {
  values: string[];
  /** Values are sets of `values` joined by this separator (each at most once). */
  join?: string;
}

export type Choices = Record<string, Choice>;

function parseChoice(key: string, raw: unknown): Choice {
  if (Array.isArray(raw)) return { values: raw.map(String) };
  if (raw && typeof raw === 'object' && Array.isArray((raw as { values?: unknown }).values)) {
    const r = raw as { values: unknown[]; join?: unknown };
    return { values: r.values.map(String), ...(typeof r.join === 'string' && r.join ? { join: r.join } : {}) };
  }
  throw new LockstepError(
    'config',
    `${CONFIG_FILE}: exp.choices.${key} must be a list of values or {values: [...], join: '+'}`,
    'Fix exp.choices in the config.',
  );
}

export interface ExpConfig {
  choices: Choices;
  link: string[];
}

/** Read the exp section from the project config (the local config's entries win). */
export async function loadExpConfig(root: string): Promise<ExpConfig> {
  const out: ExpConfig = { choices: {}, link: [] };
  for (const file of [CONFIG_FILE, LOCAL_CONFIG_FILE]) {
    const text = await fs.readFile(path.join(root, file), 'utf8').catch(() => null);
    if (text === null) continue;
    let doc: unknown;
    try {
      doc = YAML.parse(text);
    } catch {
      continue; // openProject reports config syntax errors with positions
    }
    const exp = (doc as { exp?: { choices?: Record<string, unknown>; link?: unknown } } | null)?.exp;
    if (!exp || typeof exp !== 'object') continue;
    if (exp.choices && typeof exp.choices === 'object') {
      for (const [key, raw] of Object.entries(exp.choices))
        out.choices[key.includes(':') ? key : `${DEFAULT_PARAMS_FILE}:${key}`] = parseChoice(key, raw);
    }
    if (exp.link !== undefined) {
      if (!Array.isArray(exp.link))
        throw new LockstepError(
          'config',
          `${file}: exp.link must be a list of folder paths`,
          'E.g. exp: {link: [tools]}.',
        );
      out.link.push(...exp.link.map(String));
    }
  }
  return out;
}

/** Throw on the first assignment whose value the declared choices do not allow. */
export function checkChoices(assignments: Assignment[], choices: Choices): void {
  for (const a of assignments) {
    const choice = choices[`${a.file}:${a.key}`];
    if (!choice) continue;
    const value = formatValue(a.value);
    const parts = choice.join ? value.split(choice.join) : [value];
    const bad = parts.find((p) => !choice.values.includes(p));
    const label = a.file === DEFAULT_PARAMS_FILE ? a.key : `${a.file}:${a.key}`;
    if (bad !== undefined) {
      throw new LockstepError(
        'usage',
        `invalid value '${value}' for ${label}: '${bad}' is not one of ` +
          `${choice.values.join(', ')}${choice.join ? ` (joined by '${choice.join}')` : ''}`,
        `Pick from the values declared in ${CONFIG_FILE} exp.choices.${a.key}.`,
      );
    }
    const dup = parts.find((p, i) => parts.indexOf(p) !== i);
    if (dup !== undefined) {
      throw new LockstepError(
        'usage',
        `invalid value '${value}' for ${label}: '${dup}' appears twice`,
        `Name each value once, joined by '${choice.join}'.`,
      );
    }
  }
}
