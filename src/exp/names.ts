/** Experiment names: readable adjective-noun pairs (as DVC makes them) and ref-name validation. */
import { LockstepError } from '../errors.js';

const ADJECTIVES = [
  'agile',
  'amber',
  'ample',
  'azure',
  'bold',
  'brave',
  'brisk',
  'calm',
  'civic',
  'clear',
  'coral',
  'cosy',
  'crisp',
  'curly',
  'dapper',
  'deft',
  'eager',
  'early',
  'fancy',
  'fiery',
  'fleet',
  'fluid',
  'frank',
  'fresh',
  'gentle',
  'giddy',
  'glad',
  'grand',
  'happy',
  'hardy',
  'hazel',
  'humid',
  'icy',
  'jolly',
  'keen',
  'kind',
  'lanky',
  'lemon',
  'lucid',
  'lunar',
  'mellow',
  'merry',
  'misty',
  'modal',
  'neat',
  'nifty',
  'noble',
  'oaken',
  'olive',
  'peppy',
  'plush',
  'polar',
  'proud',
  'quick',
  'quiet',
  'rapid',
  'regal',
  'rosy',
  'rustic',
  'sandy',
  'sharp',
  'shiny',
  'silky',
  'sleek',
  'snowy',
  'solar',
  'spry',
  'stout',
  'sunny',
  'swift',
  'tidal',
  'tidy',
  'vivid',
  'warm',
  'wiry',
  'witty',
  'zesty',
];

const NOUNS = [
  'acorn',
  'alder',
  'anvil',
  'aspen',
  'badge',
  'basil',
  'birch',
  'bison',
  'brook',
  'cabin',
  'cedar',
  'chard',
  'cider',
  'cliff',
  'comet',
  'crane',
  'delta',
  'dingo',
  'drum',
  'eagle',
  'ember',
  'fable',
  'ferry',
  'finch',
  'fjord',
  'flute',
  'gecko',
  'grove',
  'hatch',
  'heron',
  'igloo',
  'iris',
  'jetty',
  'kayak',
  'koala',
  'larch',
  'lemur',
  'lotus',
  'lynx',
  'maple',
  'mango',
  'marsh',
  'moose',
  'nexus',
  'oasis',
  'orbit',
  'otter',
  'panda',
  'pearl',
  'pilot',
  'plaza',
  'quail',
  'raven',
  'reef',
  'ridge',
  'robin',
  'sable',
  'shard',
  'sloth',
  'spire',
  'stoat',
  'tapir',
  'thyme',
  'tulip',
  'umbra',
  'vale',
  'vireo',
  'wharf',
  'willow',
  'yacht',
  'yucca',
  'zebra',
];

/**
 * A fresh name not in `taken`. `random` returns [0,1) (injectable for tests). Past a few collisions
 * a numeric suffix keeps names unique however many experiments a baseline has.
 */
export function generateName(taken: ReadonlySet<string>, random: () => number = Math.random): string {
  const pick = <T>(list: readonly T[]): T => list[Math.floor(random() * list.length)] as T;
  for (let attempt = 0; attempt < 20; attempt++) {
    const name = `${pick(ADJECTIVES)}-${pick(NOUNS)}`;
    if (!taken.has(name)) return name;
  }
  const base = `${pick(ADJECTIVES)}-${pick(NOUNS)}`;
  for (let i = 2; ; i++) if (!taken.has(`${base}-${i}`)) return `${base}-${i}`;
}

/**
 * Why `name` cannot be one component of refs/exps/<baseline>/<name>, or null when it can.
 * Mirrors `git check-ref-format` for a single component (no '/' since the name is one level).
 */
export function refNameProblem(name: string): string | null {
  if (name === '') return 'it is empty';
  if (name.includes('/')) return "it contains '/'";
  if (name.startsWith('.')) return "it starts with '.'";
  if (name.startsWith('-')) return "it starts with '-'";
  if (name.endsWith('.')) return "it ends with '.'";
  if (name.endsWith('.lock')) return "it ends with '.lock'";
  if (name.includes('..')) return "it contains '..'";
  if (name.includes('@{')) return "it contains '@{'";
  if (name === '@') return "it is '@'";
  // git's refname rules forbid control characters: matching them is the point
  // biome-ignore lint/suspicious/noControlCharactersInRegex: git refuses control characters in ref names
  const bad = /[\x00-\x20\x7f~^:?*[\\]/.exec(name);
  if (bad) return `it contains ${JSON.stringify(bad[0])}`;
  if (/^[0-9a-f]{40}$/i.test(name)) return 'it looks like a commit sha';
  return null;
}

export function assertValidName(name: string): void {
  const problem = refNameProblem(name);
  if (problem) {
    throw new LockstepError(
      'usage',
      `invalid experiment name '${name}': ${problem}`,
      "Use letters, digits, '-', '_' and '.', e.g. -n lr-sweep.",
    );
  }
}

/**
 * Names for `count` experiments: `-n base` for one, `base-1 … base-N` for a sweep, generated ones
 * otherwise. Throws when a name is taken.
 */
export function planNames(
  count: number,
  base: string | undefined,
  taken: ReadonlySet<string>,
  random: () => number = Math.random,
): string[] {
  if (base !== undefined) {
    assertValidName(base);
    const names = count === 1 ? [base] : Array.from({ length: count }, (_, i) => `${base}-${i + 1}`);
    for (const n of names) {
      assertValidName(n);
      if (taken.has(n)) {
        throw new LockstepError(
          'exp',
          `experiment name '${n}' is already taken on this baseline`,
          'Pick another name with -n, or remove the old one with `lockstep exp remove`.',
        );
      }
    }
    return names;
  }
  const used = new Set(taken);
  const names: string[] = [];
  for (let i = 0; i < count; i++) {
    const n = generateName(used, random);
    used.add(n);
    names.push(n);
  }
  return names;
}
