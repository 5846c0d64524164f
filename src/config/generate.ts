/**
 * foreach/matrix expansion, named as DVC names generated stages: `name@<value>` for a list of
 * scalars, `name@<index>` when any item is a list or dict, `name@<key>` for a dict, and
 * `name@<v1>-<v2>` for a matrix (an axis value that is a list or dict contributes `<axis><index>`).
 */
import { scalarToString, typeName } from './format.js';
import { isPlainObject } from './source.js';

export interface Generated {
  /** The part after `@`. */
  suffix: string;
  /** Names `${...}` sees in this instance: `item` (and `key` for dicts). */
  vars: Record<string, unknown>;
}

const isComposite = (v: unknown) => Array.isArray(v) || isPlainObject(v);

export function expandForeach(iterable: unknown): Generated[] | { error: string } {
  if (isPlainObject(iterable)) {
    return Object.entries(iterable).map(([key, item]) => ({ suffix: key, vars: { item, key } }));
  }
  if (!Array.isArray(iterable)) return { error: `'foreach' must be a list or a dict, got ${typeName(iterable)}` };
  const byIndex = iterable.some(isComposite);
  // DVC keys the generated stages by name, so a repeated scalar yields one stage (the last wins).
  const out = new Map<string, Generated>();
  iterable.forEach((item, i) => {
    const suffix = byIndex ? String(i) : (scalarToString(item) ?? String(i));
    out.set(suffix, { suffix, vars: { item } });
  });
  return [...out.values()];
}

export function expandMatrix(axes: Record<string, unknown[]>): Generated[] {
  const names = Object.keys(axes);
  let combos: { fragments: string[]; item: Record<string, unknown> }[] = [{ fragments: [], item: {} }];
  for (const axis of names) {
    const values = axes[axis] ?? [];
    const next: typeof combos = [];
    for (const c of combos) {
      values.forEach((v, i) => {
        next.push({
          fragments: [...c.fragments, isComposite(v) ? `${axis}${i}` : (scalarToString(v) ?? String(i))],
          item: { ...c.item, [axis]: v },
        });
      });
    }
    combos = next;
  }
  const out = new Map<string, Generated>();
  for (const c of combos) {
    const suffix = c.fragments.join('-');
    // DVC's matrix sets `key` to the generated name's suffix too (`train@lr1-relu` -> `${key}` is `lr1-relu`).
    out.set(suffix, { suffix, vars: { item: c.item, key: suffix } });
  }
  return [...out.values()];
}
