/**
 * A walk's file names as one NUL-joined string and where each starts, instead of an array of a string per
 * file. A warm walk of 120,000 files used to split its kept listing into 120,000 strings that lived through
 * the walk (copied by each young-generation collection, then promoted); now a path is sliced out only for its
 * stat, dies young, and the array of names is made only when a manifest needs them. The starts live in shared
 * memory, so the stat thread reads them without a copy.
 */
export class Relpaths {
  private constructor(
    /** The relpaths in walk order, joined by NUL (what a kept listing stores). */
    readonly joined: string,
    /** starts[i]: where relpath i begins in `joined`; starts[count] is joined.length + 1. */
    readonly starts: Uint32Array,
    readonly count: number,
    /** The names as strings when the walk made them anyway (it read the folders). */
    private array?: readonly string[],
  ) {}

  static fromJoined(joined: string): Relpaths {
    if (joined === '') return new Relpaths('', new Uint32Array(new SharedArrayBuffer(4)).fill(1), 0);
    let count = 1;
    for (let i = joined.indexOf('\0'); i >= 0; i = joined.indexOf('\0', i + 1)) count++;
    const starts = new Uint32Array(new SharedArrayBuffer(4 * (count + 1)));
    let k = 1;
    for (let i = joined.indexOf('\0'); i >= 0; i = joined.indexOf('\0', i + 1)) starts[k++] = i + 1;
    starts[count] = joined.length + 1;
    return new Relpaths(joined, starts, count);
  }

  static fromArray(relpaths: readonly string[]): Relpaths {
    const { joined, starts, count } = Relpaths.fromJoined(relpaths.join('\0'));
    return new Relpaths(joined, starts, count, relpaths);
  }

  /** Relpath i. */
  at(i: number): string {
    return this.joined.slice(this.starts[i], this.starts[i + 1]! - 1);
  }

  /** Every relpath, in order (a manifest's entries need them as strings); not to be changed. */
  all(): readonly string[] {
    this.array ??= this.count === 0 ? [] : this.joined.split('\0');
    return this.array;
  }
}
