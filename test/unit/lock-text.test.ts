import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parseParamsText } from '../../src/config/params.js';
import { serializeLockFile } from '../../src/pipeline/lockfile.js';
import { dumpRuamel, pyFloatRepr } from '../../src/util/ruamel-yaml.js';
import { REPO_ROOT } from '../helpers/project.js';

test('YAML text as DVC (ruamel.yaml) writes it: quoting, folding at 80 columns, indentless lists, empty null', () => {
  const fixture = JSON.parse(readFileSync(path.join(REPO_ROOT, 'test/fixtures/ruamel-dump.json'), 'utf8'));
  assert.equal(dumpRuamel(fixture.input), fixture.expected);
});

test("floats as Python's repr writes them", () => {
  const cases: [number, string][] = [
    [1, '1.0'],
    [1e-5, '1e-05'],
    [1e-4, '0.0001'],
    [1e16, '1e+16'],
    [1e15, '1000000000000000.0'],
    [1.2345678901234568e17, '1.2345678901234568e+17'],
    [1 / 3, '0.3333333333333333'],
    [-3.75, '-3.75'],
    [Number.POSITIVE_INFINITY, '.inf'],
  ];
  for (const [x, want] of cases) assert.equal(pyFloatRepr(x), want, String(x));
});

test('lock params keep `1.0` as 1.0 (YAML, JSON and TOML params files), integers stay integers', () => {
  const files: Record<string, string> = {
    'params.yaml': 'train:\n  lr: 1.0\n  epochs: 3\n  big: 1e3\n  layers: [1, 2.0]\n',
    'p.json': '{"w": 2.0, "n": 2}',
    'p.toml': 'w = 3.0\nn = 3\n',
  };
  const floats = new Map<string, ReadonlySet<string>>();
  for (const [f, text] of Object.entries(files)) {
    const r = parseParamsText(f, text);
    assert.ok(r.ok);
    floats.set(f, r.floats);
  }
  const lock = {
    schema: '2.0' as const,
    stages: {
      s: {
        cmd: 'x',
        params: {
          'params.yaml': { train: { lr: 1, epochs: 3, big: 1000, layers: [1, 2] } },
          'p.json': { w: 2, n: 2 },
          'p.toml': { w: 3, n: 3 },
        },
      },
    },
  };
  const text = serializeLockFile(lock, ['s'], new Map(), (f) => floats.get(f));
  assert.equal(
    text,
    `schema: '2.0'
stages:
  s:
    cmd: x
    params:
      params.yaml:
        train:
          lr: 1.0
          epochs: 3
          big: 1000.0
          layers:
          - 1
          - 2.0
      p.json:
        n: 2
        w: 2.0
      p.toml:
        n: 3
        w: 3.0
`,
  );
});
