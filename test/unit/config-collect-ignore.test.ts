import { test } from 'node:test';
import assert from 'node:assert/strict';
import ignore from 'ignore';
import { IgnoreRules } from '../../src/config/collect.js';

// Lines of every kind: literal names (anchored, dir-only, nested, negated, other case), wildcards,
// escapes, comments, blanks, a non-ASCII name, and many literal outputs as a 500-stage project has.
const LINES = [
  '# outputs',
  '/o1.txt',
  'o2.txt',
  '/Data/',
  'build',
  '!build/keep',
  'sub/out.bin',
  '*.log',
  '!important.log',
  'cache/**',
  '!cache/keep/',
  'a?c',
  '[Bb]in/',
  '\\#hash',
  'trailing  ',
  '',
  'café',
  'K',
  'x/./y',
  'deep/er/name',
  '!deep/er/name',
  '/models',
  ...Array.from({ length: 60 }, (_, i) => `/gen/o${i}.txt`),
];

const PATHS = [
  'o1.txt',
  'O1.TXT',
  'x/o1.txt',
  'o2.txt',
  'a/b/o2.txt',
  'data',
  'Data',
  'data/sub',
  'build',
  'build/keep',
  'build/other',
  'src/build',
  'sub/out.bin',
  'other/sub/out.bin',
  'run.log',
  'important.log',
  'cache/x',
  'cache/keep',
  'abc',
  'a/abc',
  'bin',
  'Bin',
  '#hash',
  'trailing',
  'café',
  'CAFÉ',
  'k',
  '\u212a',
  'deep/er/name',
  'models',
  'models/m1',
  'x/models',
  'gen/o7.txt',
  'gen/o70.txt',
  'pipeline.yaml',
  'sub/dvc.yaml',
];

test('rules compiled per test from the lines that can match answer as the whole file does', () => {
  // every subset in order (the first k lines, and each line alone with the negations) and both kinds of path
  const texts = [LINES.join('\n'), LINES.slice().reverse().join('\n'), LINES.filter((_, i) => i % 2).join('\n')];
  for (const l of LINES) texts.push(`${l}\n!${l.replace(/^!/, '')}`, `!${l}\n${l}`);
  let compared = 0;
  for (const text of texts) {
    const whole = ignore().add(text);
    const rules = new IgnoreRules('', text);
    for (const p of PATHS)
      for (const dir of [false, true]) {
        const q = dir ? `${p}/` : p;
        assert.deepEqual(rules.test(p, dir), whole.test(q), `${JSON.stringify(text.slice(0, 60))} on ${q}`);
        compared++;
      }
  }
  assert.ok(compared > 5000);
});
