/**
 * Issue 12, item 12: a symlink to a directory inside a dependency or output directory was silently
 * left out of the hash (as DVC does), so a change behind it never made the stage stale. lockstep now
 * refuses it with one line naming the link, before the stage runs (dep) or before it is recorded (out).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, promises as fs } from 'node:fs';
import path from 'node:path';
import { sandbox } from './sandbox.js';

const HINT =
  'Replace the link with the folder (or a copy of it), or declare the folder it points to as its own dependency or ' +
  'output.';
const message = (link: string, dir: string) =>
  `'${link}' is a symlink to a directory inside '${dir}': its files would be left out of the hash`;
const refusal = (link: string, dir: string) => `${message(link, dir)}. ${HINT}`;
/** repro reports it as the stage's failure, with its own words around the message and the hint. */
const reported = (all: string, link: string, dir: string) => all.includes(message(link, dir)) && all.includes(HINT);

test(`a symlinked folder inside a dependency folder is refused by status and repro; the stage does not \
run`, async () => {
  const sb = await sandbox({
    'pipeline.yaml': 'stages:\n  s:\n    cmd: ls -R data > listing.txt\n    deps: [data]\n    outs: [listing.txt]\n',
    'data/a.txt': 'a\n',
    'shared/b.txt': 'behind the link\n',
  });
  await fs.symlink('../shared', path.join(sb.proj, 'data', 'more'));
  const link = path.join(sb.proj, 'data', 'more');
  const data = path.join(sb.proj, 'data');

  const status = await sb.run(['status']);
  assert.equal(status.exitCode, 1, status.all);
  assert.equal(status.stderr.trimEnd(), `lockstep: ${refusal(link, data)}`);

  const repro = await sb.run(['repro']);
  assert.notEqual(repro.exitCode, 0, repro.all);
  assert.ok(reported(repro.all, link, data), repro.all);
  assert.ok(!/^\s+at /m.test(repro.all), `no stack trace: ${repro.all}`);
  assert.equal(existsSync(path.join(sb.proj, 'listing.txt')), false, 'the stage did not run');
  assert.equal(existsSync(path.join(sb.proj, 'pipeline.lock')), false, 'nothing recorded as fresh');
});

test('a symlinked folder inside an output folder is refused after the run; the stage is not recorded', async () => {
  const sb = await sandbox({
    'pipeline.yaml':
      'stages:\n  s:\n    cmd: mkdir -p out && echo x > out/x.txt && ln -s ../shared out/more\n    outs: [out]\n',
    'shared/b.txt': 'behind the link\n',
  });
  const repro = await sb.run(['repro']);
  assert.notEqual(repro.exitCode, 0, repro.all);
  assert.ok(reported(repro.all, path.join(sb.proj, 'out', 'more'), path.join(sb.proj, 'out')), repro.all);
  assert.ok(!/^\s+at /m.test(repro.all), `no stack trace: ${repro.all}`);
  const lock = existsSync(path.join(sb.proj, 'pipeline.lock'))
    ? await fs.readFile(path.join(sb.proj, 'pipeline.lock'), 'utf8')
    : '';
  assert.ok(!lock.includes('out'), `the stage is not recorded: ${lock}`);
  assert.equal(await fs.readFile(path.join(sb.proj, 'shared', 'b.txt'), 'utf8'), 'behind the link\n');
});

test(`a symlink to a file inside a dependency folder is hashed through: a change behind it makes the stage \
stale`, async () => {
  const sb = await sandbox({
    'pipeline.yaml': 'stages:\n  s:\n    cmd: cat data/* > all.txt\n    deps: [data]\n    outs: [all.txt]\n',
    'data/a.txt': 'a\n',
    'shared/b.txt': 'one\n',
  });
  await fs.symlink('../shared/b.txt', path.join(sb.proj, 'data', 'b.txt'));
  assert.equal((await sb.run(['repro'])).exitCode, 0);
  const t = new Date(Date.now() + 5000); // a different mtime whatever the clock's resolution
  await fs.writeFile(path.join(sb.proj, 'shared', 'b.txt'), 'two\n');
  await fs.utimes(path.join(sb.proj, 'shared', 'b.txt'), t, t);
  const status = await sb.run(['status', '--json']);
  assert.ok(Object.keys(JSON.parse(status.stdout)).includes('s'), status.all);
});
