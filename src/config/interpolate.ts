/**
 * `${...}` substitution over a stage definition, DVC style: a value that is exactly `${x}` keeps
 * x's type (a list for foreach, a number for a param); `${x}` inside a longer string must be a
 * scalar, except in `cmd` where a dict unwraps to `--key value` arguments. `\${` escapes.
 */
import { closest, distance } from 'fastest-levenshtein';
import type { Problems, SourceFile } from './diagnostics.js';
import { type Context, formatSegments, parseExpression, select, type Segment } from './context.js';
import { dictToArgs, scalarToString, typeName } from './format.js';
import { fromPlain, isPlainObject, type Span, type YEntry, type YNode } from './source.js';

// Same as DVC's KEYCRE: `${` not preceded by a backslash, up to the first `}` on the line.
const KEY_RE = /(?<!\\)\$\{([^}\n]*)\}/g;

export interface ResolveEnv {
  ctx: Context;
  problems: Problems;
  sources: Map<string, SourceFile>;
  /** Prefix for messages, e.g. `stage 'train'`. */
  where: string;
  /** Params-file values the stage interpolated: file -> key -> value (DVC's tracked vars). */
  tracked?: Map<string, Record<string, unknown>>;
  /** The default params file when it does not exist: an unknown variable then names it. */
  missingParamsFile?: string;
}

/**
 * Resolve every `${...}` in a node tree. `field` is the top-level stage field being resolved
 * (`cmd` enables dict unwrapping). Problems are reported to env; the failing value is kept as is.
 */
export function resolveNode(node: YNode, env: ResolveEnv, field: string): YNode {
  switch (node.kind) {
    case 'scalar':
      if (typeof node.value !== 'string' || !node.value.includes('${')) return node;
      return resolveString(node.value, node.span, env, field === 'cmd' ? 'cmd' : 'value');
    case 'seq': {
      let changed = false;
      const items = node.items.map((it) => {
        const r = resolveNode(it, env, field);
        if (r !== it) changed = true;
        return r;
      });
      return changed ? { ...node, items } : node;
    }
    case 'map': {
      let changed = false;
      const entries: YEntry[] = node.entries.map((e) => {
        let key = e.key;
        if (key.includes('${')) {
          const k = resolveString(key, e.keySpan, env, 'string');
          if (k.kind === 'scalar' && typeof k.value === 'string') key = k.value;
        }
        const value = resolveNode(e.value, env, field);
        if (key !== e.key || value !== e.value) changed = true;
        return { key, keySpan: e.keySpan, value };
      });
      return changed ? { ...node, entries } : node;
    }
  }
}

/** Resolve one string; `mode` 'value' keeps the type of an exact `${x}`, 'string' always yields text. */
export function resolveString(text: string, span: Span, env: ResolveEnv, mode: 'value' | 'string' | 'cmd'): YNode {
  const matches = [...text.matchAll(KEY_RE)];
  if (matches.length === 0) return { kind: 'scalar', value: text, span };
  const first = matches[0];
  if (mode === 'value' && matches.length === 1 && first && first[0] === text) {
    const value = lookup(first, text, span, env);
    return value.ok ? fromPlain(value.value, span) : { kind: 'scalar', value: text, span };
  }
  let out = '';
  let last = 0;
  let failed = false;
  for (const m of matches) {
    const start = m.index ?? 0;
    out += text.slice(last, start);
    last = start + m[0].length;
    const found = lookup(m, text, span, env);
    if (!found.ok) {
      failed = true;
      continue;
    }
    const v = found.value;
    let piece = scalarToString(v);
    if (piece === undefined && mode === 'cmd' && isPlainObject(v)) {
      const args = dictToArgs(v);
      if ('error' in args) {
        report(env, 'interpolation', `${m[0]}: ${args.error}`, m, text, span);
        failed = true;
        continue;
      }
      piece = args.text;
    }
    if (piece === undefined) {
      const extra = mode === 'cmd' ? ' (only a dict unwraps to arguments in cmd)' : '';
      report(
        env,
        'interpolation',
        `cannot interpolate '${m[0]}' of type ${typeName(v)} into a string${extra}`,
        m,
        text,
        span,
      );
      failed = true;
      continue;
    }
    out += piece;
  }
  out += text.slice(last);
  if (failed) return { kind: 'scalar', value: text, span };
  // Like DVC, `\${` becomes a literal `${` only in strings that were interpolated.
  return { kind: 'scalar', value: out.replaceAll('\\${', '${'), span };
}

type Lookup = { ok: true; value: unknown } | { ok: false };

function lookup(m: RegExpMatchArray, text: string, span: Span, env: ResolveEnv): Lookup {
  const segments = parseExpression(m[1] ?? '');
  if (!segments) {
    report(
      env,
      'interpolation',
      `malformed expression '${m[0]}' (expected a name like 'train.lr' or 'items[0]')`,
      m,
      text,
      span,
    );
    return { ok: false };
  }
  const sel = select(env.ctx.data, segments);
  if (!sel.found && env.missingParamsFile && sel.missingAt === 0) {
    report(
      env,
      'missing-param',
      `params file ${env.missingParamsFile} (used by ${env.where}) does not exist, so '${m[0]}' is unknown`,
      m,
      text,
      span,
    );
    return { ok: false };
  }
  if (!sel.found) {
    report(
      env,
      'interpolation',
      `unknown variable '${m[0]}'${suggest(env.ctx.data, segments, sel.missingAt)}`,
      m,
      text,
      span,
    );
    return { ok: false };
  }
  track(env, segments, sel.value);
  return { ok: true, value: sel.value };
}

function suggest(data: Record<string, unknown>, segments: Segment[], missingAt: number): string {
  const missing = segments[missingAt];
  if (typeof missing !== 'string') return '';
  const parent = select(data, segments.slice(0, missingAt));
  if (!parent.found || !isPlainObject(parent.value)) return '';
  const keys = Object.keys(parent.value);
  if (!keys.length) return '';
  const best = closest(missing, keys);
  if (distance(missing, best) > Math.max(2, Math.floor(missing.length / 3))) return '';
  return ` (did you mean '${formatSegments([...segments.slice(0, missingAt), best])}'?)`;
}

function track(env: ResolveEnv, segments: Segment[], value: unknown): void {
  if (!env.tracked || isPlainObject(value) || Array.isArray(value)) return;
  const expr = formatSegments(segments);
  const source = env.ctx.fileSourceOf(segments, expr);
  if (source === undefined) return;
  let rec = env.tracked.get(source);
  if (!rec) {
    rec = {};
    env.tracked.set(source, rec);
  }
  rec[expr] = value;
}

function report(
  env: ResolveEnv,
  reason: 'interpolation' | 'missing-param',
  message: string,
  m: RegExpMatchArray,
  text: string,
  span: Span,
): void {
  env.problems.add(reason, `${env.where}: ${message}`, locate(env, span, text, m));
}

/** Point at the `${...}` itself when the scalar's source text contains it verbatim. */
function locate(env: ResolveEnv, span: Span, text: string, m: RegExpMatchArray): Span {
  const src = env.sources.get(span.file);
  if (src) {
    const raw = src.text.slice(span.offset, span.offset + span.length);
    const before = text.slice(0, m.index ?? 0);
    const occurrence = before.split(m[0]).length - 1;
    let idx = -1;
    for (let i = 0; i <= occurrence; i++) idx = raw.indexOf(m[0], idx + 1);
    if (idx !== -1) return { file: span.file, offset: span.offset + idx, length: m[0].length };
  }
  return span;
}
