/**
 * Python json.dumps(..., sort_keys=True) compatibility. Expected strings were printed by CPython 3.11:
 *   json.dumps([{"relpath": s, "md5": "0"*32}], sort_keys=True)
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compareCodePoints, manifestJson, pyJsonString } from '../../src/hash/pyjson.js';
import { asMd5 } from '../../src/hash/types.js';

test('escapes quote, backslash, control characters, DEL and non-ASCII exactly as Python', () => {
  const s = 'q"b\\s/\n\r\t\b\f\x01\x1f\x7f\x80 é 日 😀 \ue000 \uffff ~';
  const expected =
    '[{"md5": "00000000000000000000000000000000", "relpath": "q\\"b\\\\s/\\n\\r\\t\\b\\f\\u0001\\u001f\\u007f\\u0080 ' +
    '\\u00e9 \\u65e5 \\ud83d\\ude00 \\ue000 \\uffff ~"}]';
  assert.equal(manifestJson([{ relpath: s, md5: asMd5('0'.repeat(32)) }]), expected);
});

test('plain ASCII names are written as they are; the empty list is []', () => {
  assert.equal(pyJsonString('data/a b.txt'), '"data/a b.txt"');
  assert.equal(manifestJson([]), '[]');
  assert.equal(
    manifestJson([
      { relpath: 'a', md5: asMd5('1'.repeat(32)) },
      { relpath: 'b', md5: asMd5('2'.repeat(32)) },
    ]),
    `[{"md5": "${'1'.repeat(32)}", "relpath": "a"}, {"md5": "${'2'.repeat(32)}", "relpath": "b"}]`,
  );
});

test('sorts by code point like Python sorted(), not by UTF-16 code unit', () => {
  const input = ['\ud83d\ude00', 'a/x', '\uff46', 'a-b/x', 'ab', 'a.txt', '\ue000', 'A', 'a0', '\ud7ff', 'a'];
  // CPython: sorted(...) of the same strings
  const python = ['A', 'a', 'a-b/x', 'a.txt', 'a/x', 'a0', 'ab', '\ud7ff', '\ue000', '\uff46', '\ud83d\ude00'];
  assert.deepEqual([...input].sort(compareCodePoints), python);
  // and the plain JavaScript sort would have been wrong here
  assert.notDeepEqual([...input].sort(), python);
});
