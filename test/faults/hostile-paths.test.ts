/**
 * Issue 12, items 1-3: a pipeline that names the project's own files, leaves the project (through
 * `..`, an absolute path, `wdir`, `${}` or a symlinked folder), or reads and writes one path in one
 * stage is refused when it is loaded: exit 2, `file:line:col`, and nothing is touched.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { assertOneLine, changed, ownFiles, sandbox, snapshot } from './sandbox.js';

const CONTROL_HINT =
  "Outputs may not be the project's own files (.git, .lockstep, the cache, pipeline, lock and params files); rename " +
  'the output.';
const OUTSIDE_HINT = 'Outputs must live inside the repository; move the path or make it a dependency.';
const OVERLAP_HINT = 'A stage may not read what it deletes and rewrites; give the output another path.';

/** Runs `args` on a project made of `files` and checks exit 2, the exact message, and that nothing changed. */
async function refused(
  files: Record<string, string>,
  message: string | RegExp,
  prepare?: (base: string, proj: string) => Promise<void>,
  args: string[] = ['repro'],
): Promise<void> {
  const sb = await sandbox({ 'params.yaml': 'lr: 1\n', ...files });
  await prepare?.(sb.base, sb.proj);
  const beforeIn = await snapshot(sb.proj, ownFiles);
  const beforeOut = await snapshot(sb.outside);
  for (const cmd of [args]) {
    const r = await sb.run(cmd);
    assert.equal(r.exitCode, 2, `${cmd.join(' ')}: ${r.all}`);
    assertOneLine(r, cmd.join(' '));
    if (typeof message === 'string') assert.equal(r.stderr.trimEnd(), `lockstep: ${message}`);
    else assert.match(r.stderr.trimEnd(), message);
  }
  assert.deepEqual(changed(beforeIn, await snapshot(sb.proj, ownFiles)), [], 'nothing in the project changed');
  assert.deepEqual(changed(beforeOut, await snapshot(sb.outside)), [], 'nothing outside the project changed');
}

const stage = (outs: string, extra = '') => `stages:\n  s:\n    cmd: echo hi > out.txt\n${extra}    outs: [${outs}]\n`;

test('an output naming .git, or anything inside it, is refused before anything runs', async () => {
  await refused(
    { 'pipeline.yaml': stage('.git') },
    `pipeline.yaml:4:12: stage 's': output '.git' is git's folder '.git'. ${CONTROL_HINT}`,
  );
  await refused(
    { 'pipeline.yaml': stage('.git/hooks') },
    `pipeline.yaml:4:12: stage 's': output '.git/hooks' lies inside '.git'. ${CONTROL_HINT}`,
  );
  await refused(
    { 'pipeline.yaml': stage('vendor/lib/.GIT/config') },
    `pipeline.yaml:4:12: stage 's': output 'vendor/lib/.GIT/config' lies inside '.git'. ${CONTROL_HINT}`,
  );
});

test(`an output naming .lockstep, the cache (default or configured), the pipeline, lock or a params file is \
refused`, async () => {
  const cases: [Record<string, string>, string][] = [
    [{ 'pipeline.yaml': stage('.lockstep') }, "output '.lockstep' is the project's folder '.lockstep'"],
    [
      { 'pipeline.yaml': stage('.lockstep/config.yaml') },
      "output '.lockstep/config.yaml' lies inside the project's folder '.lockstep'",
    ],
    [{ 'pipeline.yaml': stage('.cache') }, "output '.cache' is the project's folder '.cache'"],
    [{ 'pipeline.yaml': stage('pipeline.yaml') }, "output 'pipeline.yaml' is the project's file 'pipeline.yaml'"],
    [{ 'pipeline.yaml': stage('pipeline.lock') }, "output 'pipeline.lock' is the project's file 'pipeline.lock'"],
    [{ 'pipeline.yaml': stage('dvc.yaml') }, "output 'dvc.yaml' is the project's file 'dvc.yaml'"],
    [{ 'pipeline.yaml': stage('params.yaml') }, "output 'params.yaml' is the project's file 'params.yaml'"],
    [
      { 'pipeline.yaml': stage('conf', '    params: [{conf/train.yaml: [lr]}]\n'), 'conf/train.yaml': 'lr: 2\n' },
      "output 'conf' contains the project's file 'conf/train.yaml'",
    ],
  ];
  for (const [files, what] of cases) {
    const line = files['pipeline.yaml']?.includes('params:') ? 5 : 4;
    await refused(files, `pipeline.yaml:${line}:12: stage 's': ${what}. ${CONTROL_HINT}`);
  }
  // The configured cache folder, and an output holding it.
  await refused(
    { 'pipeline.yaml': stage('data'), '.lockstep/config.yaml': 'cache:\n  dir: data/cache\n' },
    `pipeline.yaml:4:12: stage 's': output 'data' contains the project's folder 'data/cache'. ${CONTROL_HINT}`,
  );
  // A vars file is a params file too.
  await refused(
    { 'pipeline.yaml': `vars: [conf.yaml]\n${stage('conf.yaml')}`, 'conf.yaml': 'x: 1\n' },
    `pipeline.yaml:5:12: stage 's': output 'conf.yaml' is the project's file 'conf.yaml'. ${CONTROL_HINT}`,
  );
});

test('an output reaching a control path through a symlinked folder inside the project is refused', async () => {
  await refused(
    { 'pipeline.yaml': stage('meta/HEAD') },
    `pipeline.yaml:4:12: stage 's': output 'meta/HEAD' lies inside '.git' (through a symlink it is '.git/HEAD'). ` +
      `${CONTROL_HINT}`,
    async (_b, proj) => fs.symlink('.git', path.join(proj, 'meta')),
  );
});

test('wdir: .. and paths that leave the project (.., absolute, ${}) are refused; \
the outside file survives', async () => {
  await refused(
    { 'pipeline.yaml': 'stages:\n  s:\n    cmd: echo hi > victim.txt\n    wdir: ..\n    outs: [outside/victim.txt]\n' },
    `pipeline.yaml:4:11: stage 's': wdir '..' is outside the repository. ${OUTSIDE_HINT}`,
  );
  await refused(
    { 'pipeline.yaml': 'stages:\n  s:\n    cmd: echo hi\n    wdir: sub/../..\n    outs: [x]\n' },
    `pipeline.yaml:4:11: stage 's': wdir 'sub/../..' is outside the repository. ${OUTSIDE_HINT}`,
  );
  await refused(
    { 'pipeline.yaml': 'stages:\n  s:\n    cmd: echo hi\n    wdir: sub\n    outs: [../../outside/victim.txt]\n' },
    `pipeline.yaml:5:12: stage 's': output '../../outside/victim.txt' is outside the repository. ${OUTSIDE_HINT}`,
  );
  await refused(
    {
      'pipeline.yaml': "stages:\n  s:\n    cmd: echo hi\n    outs: ['${where}/victim.txt']\n",
      'params.yaml': 'where: ../outside\n',
    },
    `pipeline.yaml:4:12: stage 's': output '../outside/victim.txt' is outside the repository. ${OUTSIDE_HINT}`,
  );
  await refused(
    { 'pipeline.yaml': 'stages:\n  s:\n    cmd: cat x\n    deps: [/etc/hostname]\n    outs: [x]\n' },
    `pipeline.yaml:4:12: stage 's': dependency '/etc/hostname' is outside the repository. ${OUTSIDE_HINT}`,
  );
  await refused(
    { 'pipeline.yaml': 'stages:\n  s:\n    cmd: echo\n    params: [{../outside/p.yaml: [lr]}]\n    outs: [x]\n' },
    `pipeline.yaml:4:15: stage 's': params file '../outside/p.yaml' is outside the repository. ${OUTSIDE_HINT}`,
  );
  await refused(
    { 'pipeline.yaml': 'vars: [../outside/v.yaml]\nstages:\n  s:\n    cmd: echo\n    outs: [x]\n' },
    `pipeline.yaml:1:8: vars[0]: vars file '../outside/v.yaml' is outside the repository. ${OUTSIDE_HINT}`,
  );
});

test(`a symlinked folder inside the project that points outside counts as outside, for every kind of \
path`, async () => {
  const link = async (base: string, proj: string) => fs.symlink(path.join(base, 'outside'), path.join(proj, 'ext'));
  const real = async (sbBase: string) => fs.realpath(path.join(sbBase, 'outside'));
  for (const [pipeline, what] of [
    ['stages:\n  s:\n    cmd: echo hi\n    outs: [ext/victim.txt]\n', "4:12: stage 's': output 'ext/victim.txt'"],
    ['stages:\n  s:\n    cmd: echo hi\n    deps: [ext]\n    outs: [x]\n', "4:12: stage 's': dependency 'ext'"],
    ['stages:\n  s:\n    cmd: echo hi\n    wdir: ext\n    outs: [x]\n', "4:11: stage 's': wdir 'ext'"],
  ] as const) {
    let realOutside = '';
    const sbPrepare = async (base: string, proj: string) => {
      await link(base, proj);
      realOutside = await real(base);
    };
    // The message names the real folder, known only once the sandbox exists: check it by pattern.
    const sb = await sandbox({ 'params.yaml': 'lr: 1\n', 'pipeline.yaml': pipeline });
    await sbPrepare(sb.base, sb.proj);
    const before = await snapshot(sb.outside);
    const r = await sb.run(['repro']);
    assert.equal(r.exitCode, 2, r.all);
    assertOneLine(r, 'repro');
    const how = what.includes('output')
      ? `its folder 'ext' resolves to ${realOutside} through a symlink`
      : `it is a symlink to ${realOutside}`;
    assert.equal(
      r.stderr.trimEnd(),
      `lockstep: pipeline.yaml:${what} is outside the repository (${how}). ${OUTSIDE_HINT}`,
    );
    assert.deepEqual(changed(before, await snapshot(sb.outside)), []);
  }
});

test(`a path that is both a dep and an out of one stage (or nested in one) is refused; the input \
survives`, async () => {
  await refused(
    {
      'pipeline.yaml':
        'stages:\n  s:\n    cmd: sort data.csv -o data.csv\n    deps: [data.csv]\n    outs: [data.csv]\n',
      'data.csv': 'b\na\n',
    },
    `pipeline.yaml:5:12: stage 's': 'data.csv' is both a dependency and an output of this stage. ${OVERLAP_HINT}`,
  );
  await refused(
    {
      'pipeline.yaml': 'stages:\n  s:\n    cmd: echo\n    deps: [data]\n    outs: [data/clean.csv]\n',
      'data/raw.csv': 'a\n',
    },
    `pipeline.yaml:5:12: stage 's': output 'data/clean.csv' is inside its own dependency 'data'. ${OVERLAP_HINT}`,
  );
  await refused(
    {
      'pipeline.yaml': 'stages:\n  s:\n    cmd: echo\n    deps: [models/base.bin]\n    metrics: [models]\n',
      'models/base.bin': 'w\n',
    },
    `pipeline.yaml:5:15: stage 's': dependency 'models/base.bin' is inside its own output 'models'. ${OVERLAP_HINT}`,
  );
});

test(`a path too long for the file system (a 300-byte name, a 4,500-byte path) is refused at load, not an internal \
ENAMETOOLONG (found by the property test in status)`, async () => {
  const name = 'x'.repeat(300);
  const deep = Array.from({ length: 500 }, () => 'abcdefgh').join('/');
  const LONG_HINT = 'Fix the pipeline file and run again.';
  const tooLongName = (shown: string) =>
    `pipeline.yaml:4:12: stage 's': output '${shown}...' has a name of 300 bytes: the file system takes at most ` +
    `255. ${LONG_HINT}`;
  for (const args of [['status'], ['repro'], ['checkout', '-f'], ['gc', '-w']])
    await refused({ 'pipeline.yaml': stage(name) }, tooLongName('x'.repeat(117)), undefined, args);
  await refused({ 'pipeline.yaml': stage(`d/${name}/f`) }, tooLongName(`d/${'x'.repeat(115)}`), undefined, ['status']);
  // the project's own location adds to the length
  await refused(
    { 'pipeline.yaml': `stages:\n  s:\n    cmd: echo hi\n    deps: [${deep}]\n` },
    new RegExp(
      /^lockstep: pipeline\.yaml:4:12: stage 's': dependency 'abcdefgh\/abcdefgh\/[a-h/]*\.\.\.' is \d{4} bytes /
        .source +
        /long in the project: the file system takes at most 4095\. Fix the pipeline file and run again\.$/.source,
    ),
    undefined,
    ['status'],
  );
});
