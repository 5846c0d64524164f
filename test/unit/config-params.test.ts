import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tempProject } from '../helpers/project.js';
import { flattenParams, getParam, ParamsCache, readParamsFile, resolveStageParams } from '../../src/config/index.js';
import type { StageDef } from '../../src/config/index.js';
import type { LockstepError } from '../../src/errors.js';

const stage = (params: StageDef['params'], name = 'train'): StageDef => ({
  name,
  cmd: ['true'],
  wdir: '.',
  deps: [],
  params,
  outs: [],
  frozen: false,
  alwaysChanged: false,
  pos: { file: 'pipeline.yaml', line: 1, col: 1 },
});

test('readParamsFile reads YAML, JSON and TOML by extension', async () => {
  const p = await tempProject(
    {
      'params.yaml': 'train:\n  lr: 0.001\n  layers: [32, 64]\n',
      'conf.json': '{"batch": 64, "opt": {"name": "adam"}}',
      'conf.toml': 'seed = 7\n[model]\ndepth = 3\nname = "cnn"\n',
    },
    { git: false },
  );
  assert.deepEqual(await readParamsFile(p.dir, 'params.yaml'), { train: { lr: 0.001, layers: [32, 64] } });
  assert.deepEqual(await readParamsFile(p.dir, 'conf.json'), { batch: 64, opt: { name: 'adam' } });
  assert.deepEqual(await readParamsFile(p.dir, 'conf.toml'), { seed: 7, model: { depth: 3, name: 'cnn' } });
});

test('readParamsFile: missing file and syntax errors name the file and position', async () => {
  const p = await tempProject(
    {
      'bad.yaml': 'a: 1\nb: [1, 2\n',
      'bad.json': '{"a": 1,\n "b": }',
      'bad.toml': 'a = 1\nb = = 2\n',
      'list.yaml': '- 1\n- 2\n',
      'p.ini': 'a=1',
    },
    { git: false },
  );
  await assert.rejects(readParamsFile(p.dir, 'nope.yaml'), (e: LockstepError) => {
    assert.equal(e.reason, 'missing-param');
    assert.equal(e.message, "params file 'nope.yaml' not found");
    return true;
  });
  await assert.rejects(
    readParamsFile(p.dir, 'bad.yaml'),
    (e: LockstepError) => e.reason === 'yaml-syntax' && /^bad\.yaml:\d+:\d+: /.test(e.message),
  );
  await assert.rejects(
    readParamsFile(p.dir, 'bad.json'),
    (e: LockstepError) => e.reason === 'yaml-syntax' && e.message.startsWith('bad.json:2:7: '),
  );
  await assert.rejects(
    readParamsFile(p.dir, 'bad.toml'),
    (e: LockstepError) => e.reason === 'yaml-syntax' && e.message.startsWith('bad.toml:2:'),
  );
  await assert.rejects(
    readParamsFile(p.dir, 'list.yaml'),
    /list\.yaml:1:1: a params file must hold a mapping at the top level/,
  );
  await assert.rejects(readParamsFile(p.dir, 'p.ini'), /unsupported params file type '\.ini'/);
});

test('getParam walks dotted keys, list indices and keys containing dots', () => {
  const obj = { train: { lr: 0.1, layers: [32, 64], opt: null }, 'a.b': { c: 1 }, flag: false };
  assert.deepEqual(getParam(obj, 'train.lr'), { found: true, value: 0.1 });
  assert.deepEqual(getParam(obj, 'train.layers.1'), { found: true, value: 64 });
  assert.deepEqual(getParam(obj, 'train.layers[0]'), { found: true, value: 32 });
  assert.deepEqual(getParam(obj, 'train.opt'), { found: true, value: null });
  assert.deepEqual(getParam(obj, 'a.b.c'), { found: true, value: 1 });
  assert.deepEqual(getParam(obj, 'flag'), { found: true, value: false });
  assert.equal(getParam(obj, 'train.momentum').found, false);
  assert.equal(getParam(obj, 'train.layers.2').found, false);
  assert.equal(getParam(obj, 'train.lr.x').found, false);
});

test('flattenParams gives dotted leaf keys; lists are leaves, empty dicts vanish', () => {
  assert.deepEqual(flattenParams({ train: { lr: 0.1, layers: [1, 2], opt: { name: 'sgd' } }, seed: 1, empty: {} }), {
    'train.lr': 0.1,
    'train.layers': [1, 2],
    'train.opt.name': 'sgd',
    seed: 1,
  });
});

test('resolveStageParams returns the values dvc.lock records', async () => {
  const p = await tempProject(
    {
      'params.yaml': 'train:\n  lr: 0.001\n  epochs: 3\nseed: 42\n',
      'conf.toml': 'batch = 64\n[aug]\nflip = true\n',
      'sub/params.yaml': 'x: 1\n',
    },
    { git: false },
  );
  const got = await resolveStageParams(
    p.dir,
    stage([
      { file: 'params.yaml', keys: ['train.lr', 'seed', 'train'] },
      { file: 'conf.toml', keys: null },
      { file: 'sub/params.yaml', keys: ['x'] },
    ]),
  );
  assert.deepEqual(got, {
    'params.yaml': { 'train.lr': 0.001, seed: 42, train: { lr: 0.001, epochs: 3 } },
    'conf.toml': { batch: 64, aug: { flip: true } },
    'sub/params.yaml': { x: 1 },
  });
});

test('resolveStageParams: a missing key or file is a missing-param error naming stage, key and file', async () => {
  const p = await tempProject({ 'params.yaml': 'train:\n  lr: 0.001\n' }, { git: false });
  await assert.rejects(
    resolveStageParams(p.dir, stage([{ file: 'params.yaml', keys: ['train.lr', 'train.momentum'] }])),
    (e: LockstepError) => {
      assert.equal(e.reason, 'missing-param');
      assert.equal(e.message, "stage 'train': param 'train.momentum' not found in params.yaml");
      assert.equal(e.hint, "Add 'train.momentum' to params.yaml or remove it from the params of stage 'train'.");
      return true;
    },
  );
  await assert.rejects(
    resolveStageParams(p.dir, stage([{ file: 'other.yaml', keys: null }], 'eval')),
    (e: LockstepError) => {
      assert.equal(e.reason, 'missing-param');
      assert.equal(e.message, "stage 'eval': params file 'other.yaml' not found");
      return true;
    },
  );
});

test('ParamsCache reads each file once across stages', async () => {
  const p = await tempProject({ 'params.yaml': 'a: 1\n' }, { git: false });
  const cache = new ParamsCache(p.dir);
  const first = await resolveStageParams(p.dir, stage([{ file: 'params.yaml', keys: ['a'] }]), cache);
  await p.write('params.yaml', 'a: 2\n');
  const second = await resolveStageParams(p.dir, stage([{ file: 'params.yaml', keys: ['a'] }]), cache);
  assert.deepEqual(second, first, 'same cache -> same read');
  const fresh = await resolveStageParams(p.dir, stage([{ file: 'params.yaml', keys: ['a'] }]));
  assert.deepEqual(fresh, { 'params.yaml': { a: 2 } });
});
