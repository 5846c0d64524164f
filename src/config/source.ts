/**
 * YAML text -> a small tree of maps, sequences and scalars that remembers where every key and
 * value came from, so later checks (schema, interpolation, paths) can point at the source.
 */
import { parseDocument, isAlias, isMap, isPair, isScalar, isSeq, type Document, type Node as YamlNode } from 'yaml';
import type { Problems } from './diagnostics.js';

/** A place in a source file: offset and length of the text to underline. */
export interface Span {
  file: string;
  offset: number;
  length: number;
}

export type YNode = YMap | YSeq | YScalar;
export interface YMap {
  kind: 'map';
  entries: YEntry[];
  span: Span;
}
export interface YSeq {
  kind: 'seq';
  items: YNode[];
  span: Span;
}
export interface YScalar {
  kind: 'scalar';
  value: unknown;
  span: Span;
}
export interface YEntry {
  key: string;
  keySpan: Span;
  value: YNode;
}

/** Parse YAML; syntax errors are added to `problems` and yield `undefined`. */
export function parseYamlSource(file: string, text: string, problems: Problems): YNode | undefined {
  const doc = parseDocument(text, { merge: true, uniqueKeys: true, prettyErrors: false });
  if (doc.errors.length) {
    // After the first syntax error the parser's recovery reports mostly consequences of it (one missing
    // quote gave 51 "problems"); duplicate keys are independent mistakes and are all kept.
    const errors = doc.errors.filter((e, i) => i === 0 || e.code === 'DUPLICATE_KEY');
    for (const e of errors) {
      const [start, end] = e.pos;
      problems.add('yaml-syntax', firstLine(e.message), { file, offset: start, length: Math.max(1, end - start) });
    }
    return undefined;
  }
  if (doc.contents === null) return undefined;
  return convert(doc, doc.contents as YamlNode, file, 0);
}

function firstLine(message: string): string {
  // yaml's messages end with " at line L, column C" plus a code excerpt; the position is already ours.
  return (message.split('\n')[0] ?? message).replace(/ at line \d+, column \d+:?$/, '');
}

const MAX_ALIAS_DEPTH = 64;

function convert(doc: Document, node: unknown, file: string, depth: number): YNode {
  if (depth > MAX_ALIAS_DEPTH) throw new Error('YAML nesting too deep');
  if (isAlias(node)) {
    const target = node.resolve(doc);
    const aliasSpan = spanOf(node, file);
    const resolved = convert(doc, target, file, depth + 1);
    // Errors inside an alias point at the alias use, which is where the user looks.
    return reSpan(resolved, aliasSpan);
  }
  if (isMap(node)) {
    const entries: YEntry[] = [];
    const seen = new Set<string>();
    const merges: YNode[] = [];
    for (const pair of node.items) {
      if (!isPair(pair)) continue;
      const keyNode = pair.key;
      if (isMergeKey(keyNode)) {
        if (pair.value) merges.push(convert(doc, pair.value, file, depth + 1));
        continue;
      }
      const key = keyToString(keyNode);
      const keySpan = spanOf(keyNode, file);
      const value: YNode = pair.value
        ? convert(doc, pair.value, file, depth + 1)
        : { kind: 'scalar', value: null, span: { ...keySpan, offset: keySpan.offset + keySpan.length, length: 1 } };
      entries.push({ key, keySpan, value });
      seen.add(key);
    }
    // `<<: *base` adds the keys the map does not set itself (YAML merge keys, as ruamel does for DVC).
    for (const m of merges) {
      const sources = m.kind === 'seq' ? m.items : [m];
      for (const src of sources) {
        if (src.kind !== 'map') continue;
        for (const e of src.entries) {
          if (seen.has(e.key)) continue;
          seen.add(e.key);
          entries.push(e);
        }
      }
    }
    return { kind: 'map', entries, span: spanOf(node, file, 1) };
  }
  if (isSeq(node)) {
    return {
      kind: 'seq',
      items: node.items.map((it) => convert(doc, it, file, depth + 1)),
      span: spanOf(node, file, 1),
    };
  }
  if (isScalar(node)) return { kind: 'scalar', value: node.value, span: spanOf(node, file) };
  return { kind: 'scalar', value: null, span: { file, offset: 0, length: 1 } };
}

function isMergeKey(key: unknown): boolean {
  if (!isScalar(key)) return false;
  const v = key.value;
  return (typeof v === 'symbol' && v.description === '<<') || (v === '<<' && (!key.type || key.type === 'PLAIN'));
}

function keyToString(key: unknown): string {
  if (isScalar(key)) return key.value === null ? '' : String(key.value);
  return String(key);
}

function spanOf(node: unknown, file: string, maxLength?: number): Span {
  const range = (node as { range?: [number, number, number] } | null)?.range;
  if (!range) return { file, offset: 0, length: 1 };
  const length = Math.max(1, range[1] - range[0]);
  return { file, offset: range[0], length: maxLength ? Math.min(length, maxLength) : length };
}

function reSpan(node: YNode, span: Span): YNode {
  switch (node.kind) {
    case 'scalar':
      return { ...node, span };
    case 'seq':
      return { kind: 'seq', items: node.items.map((n) => reSpan(n, span)), span };
    case 'map':
      return {
        kind: 'map',
        entries: node.entries.map((e) => ({ key: e.key, keySpan: span, value: reSpan(e.value, span) })),
        span,
      };
  }
}

/** Plain JS value of a node (maps become null-prototype-free plain objects). */
export function toPlain(node: YNode): unknown {
  switch (node.kind) {
    case 'scalar':
      return node.value;
    case 'seq':
      return node.items.map(toPlain);
    case 'map': {
      const out: Record<string, unknown> = {};
      for (const e of node.entries) out[e.key] = toPlain(e.value);
      return out;
    }
  }
}

/** A node tree for a value produced by interpolation; every part points at the `${...}` it came from. */
export function fromPlain(value: unknown, span: Span): YNode {
  if (Array.isArray(value)) return { kind: 'seq', items: value.map((v) => fromPlain(v, span)), span };
  if (isPlainObject(value)) {
    return {
      kind: 'map',
      entries: Object.entries(value).map(([key, v]) => ({ key, keySpan: span, value: fromPlain(v, span) })),
      span,
    };
  }
  return { kind: 'scalar', value, span };
}

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof Date);
}

export function entry(map: YMap, key: string): YEntry | undefined {
  for (const e of map.entries) if (e.key === key) return e;
  return undefined;
}
