/**
 * scripts/tfjs-node-from-registries.sh's choice of libtensorflow (LOCKSTEP_TF_JAVA): an unknown version is refused
 * in one line, before anything is downloaded or changed; and its patch to the binding source
 * (scripts/tfjs-node-binding-lists.mjs) on a small stand-in for tfjs_backend.cc. The builds themselves run in
 * .ci/run (the default, 1.1.0) and by hand for 0.5.0 (stages/TRAIN.md).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const SCRIPT = path.join(ROOT, 'scripts/tfjs-node-from-registries.sh');

test('tfjs-node-from-registries: an unknown LOCKSTEP_TF_JAVA is one line and exit 2, nothing else runs', () => {
  const r = spawnSync('bash', [SCRIPT], {
    env: { ...process.env, LOCKSTEP_TF_JAVA: '0.9.9', LOCKSTEP_TFJS_CACHE: '/nonexistent/never-made' },
    encoding: 'utf8',
  });
  assert.equal(r.status, 2, r.stderr);
  assert.equal(r.stdout, '');
  assert.equal(
    r.stderr,
    'tfjs-node-from-registries: LOCKSTEP_TF_JAVA=0.9.9 is not a version this script knows; use 0.5.0 or 1.1.0\n',
  );
});

const PATCH = path.join(ROOT, 'scripts/tfjs-node-binding-lists.mjs');

test('tfjs-node-binding-lists: adds list cases to the binding source once; an unknown source: one line, exit 1', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'binding-'));
  try {
    const file = path.join(dir, 'tfjs_backend.cc');
    const source = [
      'void AssignOpAttr() {',
      '  switch (tf_attr_type) {',
      '    case TF_ATTR_STRING: {',
      '      std::string str_value;',
      '    }',
      '    case TF_ATTR_TYPE: {',
      '      TF_DataType tf_data_type;',
      '    }',
      '  }',
      '}',
      '',
    ].join('\n');
    writeFileSync(file, source);
    const run = () => spawnSync(process.execPath, [PATCH, file], { encoding: 'utf8' });
    const first = run();
    assert.equal(first.status, 0, first.stderr);
    const patched = readFileSync(file, 'utf8');
    assert.match(patched, /case TF_ATTR_STRING: \{\n {6}\/\/ lockstep: list-valued attributes[\s\S]*SetAttrStringList/);
    assert.match(patched, /case TF_ATTR_TYPE: \{\n {6}\/\/ lockstep: a list of types[\s\S]*TFE_OpSetAttrTypeList/);
    assert.ok(patched.includes('      std::string str_value;') && patched.includes('      TF_DataType tf_data_type;'));
    const again = run();
    assert.equal(again.status, 0, again.stderr);
    assert.equal(readFileSync(file, 'utf8'), patched, 'a second run changes nothing');

    writeFileSync(file, 'void Other() {}\n');
    const unknown = run();
    assert.equal(unknown.status, 1);
    assert.equal(unknown.stderr.trim().split('\n').length, 1, unknown.stderr);
    assert.match(unknown.stderr, /no single "case TF_ATTR_STRING: \{"; this tfjs-node is not the one the patch knows/);
    assert.equal(readFileSync(file, 'utf8'), 'void Other() {}\n', 'left as it was');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
