/**
 * Typed access to params.yaml for the data stages, with errors that point at the offending line:
 * `params.yaml:9:9: pull.md5 must be 32 hex digits, got "abc"`.
 */
import { promises as fs } from 'node:fs';
import { LineCounter, parseDocument, isMap, isScalar, type Document } from 'yaml';
import { StageError, errorText } from './stage.js';

export class ParamsFile {
  private constructor(
    readonly file: string,
    private readonly doc: Document,
    private readonly lines: LineCounter,
  ) {}

  static async load(file = 'params.yaml'): Promise<ParamsFile> {
    let text: string;
    try {
      text = await fs.readFile(file, 'utf8');
    } catch (e) {
      throw new StageError(
        `cannot read ${file}: ${errorText(e)}`,
        'Run the stage from the project root, where params.yaml is.',
      );
    }
    return ParamsFile.parse(text, file);
  }

  static parse(text: string, file = 'params.yaml'): ParamsFile {
    const lines = new LineCounter();
    const doc = parseDocument(text, { lineCounter: lines });
    const first = doc.errors[0];
    if (first) {
      const pos = lines.linePos(first.pos[0]);
      throw new StageError(`${file}:${pos.line}:${pos.col}: ${first.message.split('\n')[0]}`, 'Fix the YAML syntax.');
    }
    if (doc.contents !== null && !isMap(doc.contents)) throw new StageError(`${file}: the top level must be a mapping`);
    return new ParamsFile(file, doc, lines);
  }

  /** `params.yaml:LINE:COL` of the value at a dotted path, or of its closest existing parent. */
  where(path: string): string {
    const keys = path.split('.');
    for (let n = keys.length; n > 0; n--) {
      const node = this.doc.getIn(keys.slice(0, n), true) as { range?: [number, number, number] } | undefined;
      if (node && typeof node === 'object' && node.range) {
        const pos = this.lines.linePos(node.range[0]);
        return `${this.file}:${pos.line}:${pos.col}`;
      }
    }
    return this.file;
  }

  has(path: string): boolean {
    return this.doc.hasIn(path.split('.'));
  }

  /** The plain JS value at a dotted path (undefined when absent). */
  value(path: string): unknown {
    const v = this.doc.getIn(path.split('.'), true);
    if (v === undefined || v === null) return undefined;
    if (isScalar(v)) return v.value ?? undefined;
    return (v as { toJSON(): unknown }).toJSON();
  }

  fail(path: string, problem: string, hint?: string): never {
    throw new StageError(`${this.where(path)}: ${path} ${problem}`, hint);
  }

  private required(path: string): unknown {
    const v = this.value(path);
    if (v === undefined)
      throw new StageError(`${this.where(path)}: missing param ${path}`, `Add ${path} to ${this.file}.`);
    return v;
  }

  string(path: string, fallback?: string): string {
    const v = fallback !== undefined && !this.has(path) ? fallback : this.required(path);
    if (typeof v !== 'string' || v === '') this.fail(path, `must be a non-empty string, got ${JSON.stringify(v)}`);
    return v;
  }

  int(path: string, range: { min?: number; max?: number } = {}, fallback?: number): number {
    const v = fallback !== undefined && !this.has(path) ? fallback : this.required(path);
    if (typeof v !== 'number' || !Number.isSafeInteger(v))
      this.fail(path, `must be an integer, got ${JSON.stringify(v)}`);
    if (range.min !== undefined && v < range.min) this.fail(path, `must be at least ${range.min}, got ${v}`);
    if (range.max !== undefined && v > range.max) this.fail(path, `must be at most ${range.max}, got ${v}`);
    return v;
  }

  oneOf<T extends string>(path: string, choices: readonly T[]): T {
    const v = this.string(path);
    if (!(choices as readonly string[]).includes(v))
      this.fail(path, `must be one of ${choices.join(', ')}, got ${JSON.stringify(v)}`);
    return v as T;
  }
}
