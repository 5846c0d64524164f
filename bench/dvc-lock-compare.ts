/**
 * Do lockstep and DVC record the same hashes? Used by bench/dvc-compare.sh, run by hand:
 *   node dist/bench/dvc-lock-compare.js <dvc.lock from DVC> <dvc.lock from lockstep> [focus path ...]
 * Compares md5 / size / nfiles of every dep and out of every stage present in both files; each focus
 * path (e.g. `data`, the 60k-file directory) gets its own PASS/FAIL line with both hashes. Exit 0 when
 * everything agrees, 1 otherwise.
 */
import { readFileSync } from 'node:fs';
import YAML from 'yaml';

interface Entry {
  path: string;
  md5?: string;
  size?: number;
  nfiles?: number;
}
interface Stage {
  deps?: Entry[];
  outs?: Entry[];
}
interface Lock {
  schema?: string;
  stages?: Record<string, Stage>;
}

function readLock(file: string): Lock {
  return (YAML.parse(readFileSync(file, 'utf8')) ?? {}) as Lock;
}

/** `stage/deps/path` -> the entry, for every dep and out. */
function entries(lock: Lock): Map<string, Entry> {
  const m = new Map<string, Entry>();
  for (const [name, stage] of Object.entries(lock.stages ?? {})) {
    for (const section of ['deps', 'outs'] as const) {
      for (const e of stage[section] ?? []) m.set(`${name}/${section}/${e.path}`, e);
    }
  }
  return m;
}

const show = (e: Entry | undefined) => (e ? `md5=${e.md5} size=${e.size} nfiles=${e.nfiles ?? '-'}` : 'absent');
const same = (a: Entry, b: Entry) => a.md5 === b.md5 && a.size === b.size && a.nfiles === b.nfiles;

function main(): number {
  const [dvcFile, lockstepFile, ...focus] = process.argv.slice(2);
  if (!dvcFile || !lockstepFile) {
    console.error('usage: dvc-lock-compare <dvc.lock from DVC> <dvc.lock from lockstep> [focus path ...]');
    return 2;
  }
  const dvc = readLock(dvcFile);
  const ours = readLock(lockstepFile);
  const a = entries(dvc);
  const b = entries(ours);
  let failures = 0;
  if (dvc.schema !== ours.schema) {
    console.log(`FAIL schema: DVC '${dvc.schema}' lockstep '${ours.schema}'`);
    failures++;
  }
  for (const p of focus) {
    const key = [...a.keys()].find((k) => k.endsWith(`/deps/${p}`));
    const x = key ? a.get(key) : undefined;
    const y = key ? b.get(key) : undefined;
    const ok = x !== undefined && y !== undefined && same(x, y);
    console.log(`${ok ? 'PASS' : 'FAIL'} ${p}: DVC ${show(x)} | lockstep ${show(y)}`);
    if (!key) failures++; // otherwise the loop below counts it
  }
  let compared = 0;
  for (const [key, x] of a) {
    const y = b.get(key);
    compared++;
    if (!y || !same(x, y)) {
      failures++;
      if (failures <= 10) console.log(`  differs ${key}: DVC ${show(x)} | lockstep ${show(y)}`);
    }
  }
  for (const key of b.keys()) {
    if (!a.has(key)) {
      failures++;
      if (failures <= 10) console.log(`  only in lockstep: ${key}`);
    }
  }
  console.log(`${failures === 0 ? 'PASS' : 'FAIL'} all entries: ${compared} deps/outs compared, ${failures} differ`);
  return failures === 0 ? 0 : 1;
}

process.exitCode = main();
