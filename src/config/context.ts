/**
 * The variables `${...}` can see: params.yaml (loaded first, as DVC does), then top-level `vars`,
 * then a stage's own `vars`, then `item`/`key` for foreach/matrix. Remembers which params file each
 * leaf came from, so the values a stage interpolates can be reported like DVC's tracked vars.
 */
import { isPlainObject } from './source.js';

export type Segment = string | number;

export class Context {
  constructor(
    readonly data: Record<string, unknown> = {},
    /** Dotted leaf key -> the file (repo-relative) or `vars[i]` it came from. */
    readonly origin: Map<string, string> = new Map(),
    /** Sources that are params files (their leaves are tracked when used). */
    readonly fileSources: Set<string> = new Set(),
    /** Top-level names set by foreach/matrix (`item`, `key`): never params, never tracked. */
    readonly overridden: ReadonlySet<string> = new Set(),
    /** Expression -> its params-file source (null: not from a file), shared while origins are. */
    readonly sourceMemo: Map<string, string | null> = new Map(),
  ) {}

  /** A copy that can take new vars without touching this one (deep copy only when merging). */
  cloneForMerge(): Context {
    return new Context(structuredClone(this.data), new Map(this.origin), new Set(this.fileSources), this.overridden);
  }

  /** A cheap copy with top-level names overridden (foreach `item` / `key`). */
  withOverrides(values: Record<string, unknown>): Context {
    const overridden = new Set([...this.overridden, ...Object.keys(values)]);
    return new Context({ ...this.data, ...values }, this.origin, this.fileSources, overridden, this.sourceMemo);
  }

  /** The params file a scalar at `segments` came from, if any (for tracked vars). */
  fileSourceOf(segments: Segment[], expr: string): string | undefined {
    if (typeof segments[0] === 'string' && this.overridden.has(segments[0])) return undefined;
    const memo = this.sourceMemo.get(expr);
    if (memo !== undefined) return memo ?? undefined;
    // Origins are recorded per dict leaf; a list element belongs to its list's key.
    let source: string | null = null;
    let dotted = '';
    const prefixes: string[] = [];
    for (const s of segments) {
      if (typeof s === 'number') break;
      dotted = dotted ? `${dotted}.${s}` : s;
      prefixes.push(dotted);
    }
    for (let n = prefixes.length - 1; n >= 0; n--) {
      const origin = this.origin.get(prefixes[n] as string);
      if (origin === undefined) continue;
      source = this.fileSources.has(origin) ? origin : null;
      break;
    }
    this.sourceMemo.set(expr, source);
    return source ?? undefined;
  }

  /**
   * Merge `src` in, DVC style: nested dicts merge, redefining a leaf is an error.
   * Returns the conflict message, or undefined on success.
   */
  merge(src: Record<string, unknown>, source: string, isFile: boolean): string | undefined {
    if (isFile) this.fileSources.add(source);
    return mergeInto(this.data, src, source, '', this.origin);
  }
}

function mergeInto(
  into: Record<string, unknown>,
  src: Record<string, unknown>,
  source: string,
  prefix: string,
  origin: Map<string, string>,
): string | undefined {
  for (const [key, value] of Object.entries(src)) {
    const dotted = prefix ? `${prefix}.${key}` : key;
    const existing = into[key];
    if (isPlainObject(existing) && isPlainObject(value)) {
      const e = mergeInto(existing, value, source, dotted, origin);
      if (e) return e;
      continue;
    }
    if (Object.hasOwn(into, key)) {
      const where = originOf(origin, dotted) ?? 'an earlier source';
      return `cannot redefine '${dotted}' from '${source}' as it already exists in '${where}'`;
    }
    into[key] = isPlainObject(value) ? structuredClone(value) : value;
    recordOrigin(value, dotted, source, origin);
  }
  return undefined;
}

function recordOrigin(value: unknown, dotted: string, source: string, origin: Map<string, string>): void {
  if (isPlainObject(value)) {
    for (const [k, v] of Object.entries(value)) recordOrigin(v, `${dotted}.${k}`, source, origin);
  } else {
    origin.set(dotted, source);
  }
}

function originOf(origin: Map<string, string>, dotted: string): string | undefined {
  const direct = origin.get(dotted);
  if (direct) return direct;
  const prefix = `${dotted}.`;
  for (const [k, v] of origin) if (k.startsWith(prefix)) return v;
  return undefined;
}

/** Parse the inside of `${...}`: `a.b[0].c`. Returns undefined when malformed. */
export function parseExpression(inner: string): Segment[] | undefined {
  const text = inner.trim();
  if (!text) return undefined;
  const segments: Segment[] = [];
  let i = 0;
  let expectName = true;
  while (i < text.length) {
    const ch = text[i];
    if (ch === '[') {
      const close = text.indexOf(']', i);
      if (close === -1) return undefined;
      const idx = text.slice(i + 1, close).trim();
      if (!/^\d+$/.test(idx)) return undefined;
      segments.push(Number(idx));
      i = close + 1;
      expectName = false;
      continue;
    }
    if (ch === '.') {
      if (expectName) return undefined;
      expectName = true;
      i++;
      continue;
    }
    if (!expectName) return undefined;
    const m = /^[^.[\]\s]+/.exec(text.slice(i));
    if (!m) return undefined;
    segments.push(m[0]);
    i += m[0].length;
    expectName = false;
  }
  return expectName ? undefined : segments;
}

export function formatSegments(segments: Segment[]): string {
  let out = '';
  for (const s of segments) out += typeof s === 'number' ? `[${s}]` : out ? `.${s}` : s;
  return out;
}

export type Selection = { found: true; value: unknown } | { found: false; missingAt: number };

export function select(data: unknown, segments: Segment[]): Selection {
  let cur: unknown = data;
  for (let i = 0; i < segments.length; i++) {
    const seg = segments[i] as Segment;
    if (typeof seg === 'number') {
      if (!Array.isArray(cur) || seg >= cur.length) return { found: false, missingAt: i };
      cur = cur[seg];
    } else if (isPlainObject(cur) && Object.hasOwn(cur, seg)) {
      cur = cur[seg];
    } else if (Array.isArray(cur) && /^\d+$/.test(seg) && Number(seg) < cur.length) {
      cur = cur[Number(seg)];
    } else {
      return { found: false, missingAt: i };
    }
  }
  return { found: true, value: cur };
}
