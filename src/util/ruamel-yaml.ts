/**
 * YAML text byte-identical to what DVC writes (ruamel.yaml's round-trip dumper with
 * `default_flow_style = False`, width 80): indentless sequences under mapping keys, `null` as an
 * empty value, Python's float repr (`1.0` stays `1.0`, `1e-05`), and ruamel's choice of plain,
 * single- or double-quoted scalars with its line folding. Used for dvc.lock / pipeline.lock and
 * `.dvc` files so a team mixing DVC and lockstep sees no diff churn.
 */

/** A number written as a float even when integral (a params value that was `1.0` in its file). */
export class PyFloat {
  constructor(readonly value: number) {}
}

const BEST_WIDTH = 80;
const BREAKS = '\n\x85\u2028\u2029';
const WHITESPACE = '\0 \t\r\n\x85\u2028\u2029';

/** Python's `repr(float)`: the shortest round-trip digits, exponent form below 1e-4 and from 1e16. */
export function pyFloatRepr(x: number): string {
  if (Number.isNaN(x)) return '.nan';
  if (!Number.isFinite(x)) return x > 0 ? '.inf' : '-.inf';
  if (x === 0) return Object.is(x, -0) ? '-0.0' : '0.0';
  const [mant = '', e = '0'] = x.toExponential().split('e');
  const sign = mant.startsWith('-') ? '-' : '';
  const digits = mant.replace('-', '').replace('.', '');
  const exp = Number(e);
  if (exp < -4 || exp >= 16) {
    const m = digits.length > 1 ? `${digits[0]}.${digits.slice(1)}` : digits;
    return `${sign}${m}e${exp < 0 ? '-' : '+'}${String(Math.abs(exp)).padStart(2, '0')}`;
  }
  if (exp < 0) return `${sign}0.${'0'.repeat(-exp - 1)}${digits}`;
  const int = digits.slice(0, exp + 1).padEnd(exp + 1, '0');
  return `${sign}${int}.${digits.slice(exp + 1) || '0'}`;
}

// YAML 1.2 implicit types (ruamel's resolver): a string that reads as one of these must be quoted.
const IMPLICIT = [
  /^(?:true|True|TRUE|false|False|FALSE)$/,
  /^(?:~|null|Null|NULL)$/,
  /^[-+]?[0-9_]+$/,
  /^0o?[0-7_]+$/,
  /^0x[0-9a-fA-F_]+$/,
  /^0b[0-1_]+$/,
  /^[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+]?[0-9]+)?$/,
  /^[-+]?(?:[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)$/,
  /^\.[0-9_]+(?:[eE][-+][0-9]+)?$/,
  /^[-+]?\.(?:inf|Inf|INF)$/,
  /^\.(?:nan|NaN|NAN)$/,
  /^<<$/,
  /^=$/,
  /^$/,
];

interface Analysis {
  empty: boolean;
  multiline: boolean;
  allowBlockPlain: boolean;
  allowSingle: boolean;
}

function analyze(s: string): Analysis {
  if (!s) return { empty: true, multiline: false, allowBlockPlain: true, allowSingle: true };
  let blockIndicators = s.startsWith('---') || s.startsWith('...');
  let lineBreaks = false;
  let special = false;
  let leadingSpace = false;
  let leadingBreak = false;
  let trailingSpace = false;
  let trailingBreak = false;
  let breakSpace = false;
  let spaceBreak = false;
  let precededByWs = true;
  let followedByWs = s.length === 1 || WHITESPACE.includes(s[1]!);
  let prevSpace = false;
  let prevBreak = false;
  const chars = [...s];
  for (let i = 0; i < chars.length; i++) {
    const ch = chars[i]!;
    if (i === 0) {
      if ('#,[]{}&*!|>\'"%@`'.includes(ch)) blockIndicators = true;
      if ('?:'.includes(ch) && followedByWs) blockIndicators = true;
      if (ch === '-' && followedByWs) blockIndicators = true;
    } else {
      if (ch === ':' && followedByWs) blockIndicators = true;
      if (ch === '#' && precededByWs) blockIndicators = true;
    }
    if (BREAKS.includes(ch)) lineBreaks = true;
    const code = ch.codePointAt(0)!;
    if (!(ch === '\n' || (code >= 0x20 && code <= 0x7e))) {
      const printable =
        (code === 0x85 || (code >= 0xa0 && code <= 0xd7ff) || (code >= 0xe000 && code <= 0xfffd) || code >= 0x10000) &&
        code !== 0xfeff;
      if (!printable) special = true;
    }
    if (ch === ' ') {
      if (i === 0) leadingSpace = true;
      if (i === chars.length - 1) trailingSpace = true;
      if (prevBreak) breakSpace = true;
      prevSpace = true;
      prevBreak = false;
    } else if (BREAKS.includes(ch)) {
      if (i === 0) leadingBreak = true;
      if (i === chars.length - 1) trailingBreak = true;
      if (prevSpace) spaceBreak = true;
      prevSpace = false;
      prevBreak = true;
    } else {
      prevSpace = false;
      prevBreak = false;
    }
    precededByWs = WHITESPACE.includes(ch);
    followedByWs = i + 2 >= chars.length || WHITESPACE.includes(chars[i + 2]!);
  }
  let allowBlockPlain = true;
  let allowSingle = true;
  if (leadingSpace || leadingBreak || trailingSpace || trailingBreak) allowBlockPlain = false;
  if (breakSpace) allowBlockPlain = allowSingle = false;
  if (special || spaceBreak) allowBlockPlain = allowSingle = false;
  if (lineBreaks || blockIndicators) allowBlockPlain = false;
  return { empty: false, multiline: lineBreaks, allowBlockPlain, allowSingle };
}

const ESCAPES: Record<string, string> = {
  '\0': '0',
  '\x07': 'a',
  '\x08': 'b',
  '\t': 't',
  '\n': 'n',
  '\x0b': 'v',
  '\x0c': 'f',
  '\r': 'r',
  '\x1b': 'e',
  '"': '"',
  '\\': '\\',
  '\x85': 'N',
  '\xa0': '_',
  '\u2028': 'L',
  '\u2029': 'P',
};

/** The writer state of ruamel's Emitter that its scalar writers depend on. */
class Emitter {
  out = '';
  column = 0;
  indent = 0;
  whitespace = true;
  indention = true;

  write(data: string): void {
    this.out += data;
    this.column += [...data].length;
  }

  lineBreak(): void {
    this.out += '\n';
    this.column = 0;
    this.whitespace = true;
    this.indention = true;
  }

  writeIndent(): void {
    if (!this.indention || this.column > this.indent || (this.column === this.indent && !this.whitespace))
      this.lineBreak();
    if (this.column < this.indent) {
      this.whitespace = true;
      this.out += ' '.repeat(this.indent - this.column);
      this.column = this.indent;
    }
  }

  indicator(ind: string, needWhitespace: boolean, whitespace = false, indention = false): void {
    const data = this.whitespace || !needWhitespace ? ind : ` ${ind}`;
    this.whitespace = whitespace;
    this.indention = this.indention && indention;
    this.write(data);
  }

  /** A scalar at the current position; `split` is false for mapping keys. */
  scalar(text: string, implicitPlain: boolean, split: boolean): void {
    const a = analyze(text);
    if (implicitPlain && !(!split && (a.empty || a.multiline)) && a.allowBlockPlain) this.plain(text, split);
    else if (text.includes("'") || text.includes('\n')) this.doubleQuoted(text, split);
    else if (a.allowSingle && !(!split && a.multiline)) this.singleQuoted(text, split);
    else this.doubleQuoted(text, split);
  }

  plain(text: string, split: boolean): void {
    if (!text) return;
    if (!this.whitespace) this.write(' ');
    this.whitespace = false;
    this.indention = false;
    const t = [...text];
    let spaces = false;
    let breaks = false;
    let start = 0;
    for (let end = 0; end <= t.length; end++) {
      const ch = end < t.length ? t[end] : undefined;
      if (spaces) {
        if (ch !== ' ') {
          if (start + 1 === end && this.column >= BEST_WIDTH && split) {
            this.writeIndent();
            this.whitespace = false;
            this.indention = false;
          } else this.write(t.slice(start, end).join(''));
          start = end;
        }
      } else if (breaks) {
        if (ch === undefined || !BREAKS.includes(ch)) {
          if (t[start] === '\n') this.lineBreak();
          for (let i = start; i < end; i++) this.lineBreak();
          this.writeIndent();
          this.whitespace = false;
          this.indention = false;
          start = end;
        }
      } else if (ch === undefined || ` ${BREAKS}`.includes(ch)) {
        const data = t.slice(start, end).join('');
        if (data.length + this.column > BEST_WIDTH && this.column > this.indent) this.writeIndent();
        this.write(data);
        start = end;
      }
      if (ch !== undefined) {
        spaces = ch === ' ';
        breaks = BREAKS.includes(ch);
      }
    }
  }

  singleQuoted(text: string, split: boolean): void {
    this.indicator("'", true);
    const t = [...text];
    let spaces = false;
    let breaks = false;
    let start = 0;
    for (let end = 0; end <= t.length; end++) {
      const ch = end < t.length ? t[end] : undefined;
      if (spaces) {
        if (ch === undefined || ch !== ' ') {
          if (start + 1 === end && this.column > BEST_WIDTH && split && start !== 0 && end !== t.length)
            this.writeIndent();
          else this.write(t.slice(start, end).join(''));
          start = end;
        }
      } else if (breaks) {
        if (ch === undefined || !BREAKS.includes(ch)) {
          if (t[start] === '\n') this.lineBreak();
          for (let i = start; i < end; i++) this.lineBreak();
          this.writeIndent();
          start = end;
        }
      } else if (ch === undefined || ` ${BREAKS}`.includes(ch) || ch === "'") {
        if (start < end) {
          this.write(t.slice(start, end).join(''));
          start = end;
        }
      }
      if (ch === "'") {
        this.write("''");
        start = end + 1;
      }
      if (ch !== undefined) {
        spaces = ch === ' ';
        breaks = BREAKS.includes(ch);
      }
    }
    this.indicator("'", false);
  }

  doubleQuoted(text: string, split: boolean): void {
    this.indicator('"', true);
    const t = [...text];
    let start = 0;
    for (let end = 0; end <= t.length; end++) {
      const ch = end < t.length ? t[end] : undefined;
      const code = ch?.codePointAt(0) ?? 0;
      if (
        ch === undefined ||
        '"\\\x85\u2028\u2029\ufeff'.includes(ch) ||
        !(
          (code >= 0x20 && code <= 0x7e) ||
          (code >= 0xa0 && code <= 0xd7ff) ||
          (code >= 0xe000 && code <= 0xfffd) ||
          code >= 0x10000
        )
      ) {
        if (start < end) {
          this.write(t.slice(start, end).join(''));
          start = end;
        }
        if (ch !== undefined) {
          const esc = ESCAPES[ch];
          const hex = code.toString(16).toUpperCase();
          this.write(
            esc !== undefined
              ? `\\${esc}`
              : code <= 0xff
                ? `\\x${hex.padStart(2, '0')}`
                : code <= 0xffff
                  ? `\\u${hex.padStart(4, '0')}`
                  : `\\U${hex.padStart(8, '0')}`,
          );
          start = end + 1;
        }
      }
      if (
        0 < end &&
        end < t.length - 1 &&
        (ch === ' ' || start >= end) &&
        this.column + (end - start) > BEST_WIDTH &&
        split
      ) {
        let needBackslash = true;
        const rest = t.slice(end).join('');
        let spacePos = rest.indexOf(' ');
        if (spacePos !== -1) {
          const nl = rest.slice(0, spacePos).indexOf('\n');
          if (nl !== -1) spacePos = nl;
          const abs = end + spacePos;
          const word = t.slice(end, abs).join('');
          if (t[abs] === '\n' && t[abs + 1] !== ' ') {
            // keep the backslash
          } else if (
            t[abs + 1] !== undefined &&
            !word.includes('"') &&
            !word.includes("'") &&
            !' \n'.includes(t[abs + 1]!) &&
            t.slice(end - 1, end + 1).join('') !== '  ' &&
            start !== end
          ) {
            needBackslash = false;
          }
        }
        this.write(t.slice(start, end).join('') + (needBackslash ? '\\' : ''));
        if (start < end) start = end;
        this.writeIndent();
        this.whitespace = false;
        this.indention = false;
        if (t[start] === ' ') {
          if (!needBackslash) start += 1;
          this.write(needBackslash ? '\\' : '');
        }
      }
    }
    this.indicator('"', false);
  }
}

type Value = unknown;
const isMap = (v: Value): v is Record<string, Value> =>
  typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof PyFloat);

function scalarText(v: Value): { text: string; implicit: boolean } {
  if (v === null || v === undefined) return { text: '', implicit: true };
  if (v instanceof PyFloat) return { text: pyFloatRepr(v.value), implicit: true };
  if (typeof v === 'number') return { text: Number.isInteger(v) ? String(v) : pyFloatRepr(v), implicit: true };
  if (typeof v === 'bigint') return { text: String(v), implicit: true };
  if (typeof v === 'boolean') return { text: v ? 'true' : 'false', implicit: true };
  const s = String(v);
  return { text: s, implicit: !IMPLICIT.some((re) => re.test(s)) };
}

/** Dump a mapping as DVC does (`dump_yaml`): block style, keys in the object's order. */
export function dumpRuamel(doc: Record<string, Value>): string {
  const e = new Emitter();
  const key = (k: string) => {
    const { text, implicit } = scalarText(k);
    e.scalar(text, implicit, false);
    e.indicator(':', false);
  };
  const value = (v: Value, indent: number) => {
    e.indent = indent;
    if (v === null || v === undefined) return;
    if (Array.isArray(v) && v.length === 0) e.indicator('[]', true);
    else if (isMap(v) && Object.keys(v).length === 0) e.indicator('{}', true);
    else {
      const { text, implicit } = scalarText(v);
      e.scalar(text, implicit, true);
    }
  };
  const map = (m: Record<string, Value>, indent: number, inline: boolean) => {
    let first = inline;
    for (const [k, v] of Object.entries(m)) {
      if (!first) {
        e.indent = indent;
        e.writeIndent();
      }
      first = false;
      key(k);
      node(v, indent, 'map');
    }
  };
  const seq = (items: Value[], indent: number, inline: boolean) => {
    let first = inline;
    for (const item of items) {
      if (!first) {
        e.indent = indent;
        e.writeIndent();
      }
      first = false;
      e.indicator('-', true, true, true);
      e.write(' ');
      e.whitespace = true;
      if (isMap(item) && Object.keys(item).length) map(item, indent + 2, true);
      else if (Array.isArray(item) && item.length) seq(item, indent + 2, true);
      else value(item, indent + 2);
    }
  };
  // a value after `key:`; `indent` is the key's column
  const node = (v: Value, indent: number, _in: 'map') => {
    if (isMap(v) && Object.keys(v).length) {
      e.lineBreak();
      map(v, indent + 2, false);
    } else if (Array.isArray(v) && v.length) {
      e.lineBreak();
      seq(v, indent, false);
    } else value(v, indent + 2);
  };
  map(doc, 0, true);
  e.lineBreak();
  return e.out;
}
