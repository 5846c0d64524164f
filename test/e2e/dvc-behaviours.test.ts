import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tempProject } from '../helpers/project.js';

test("stage commands run with the user's $SHELL as DVC does (bash syntax works), /bin/sh without it", async () => {
  const p = await tempProject({
    'dvc.yaml': `stages:
  bashy:
    cmd: if [[ -n "$BASH_VERSION" ]]; then echo "$0" > shell.txt; fi
    outs:
      - shell.txt
`,
  });
  const r = await p.run(['repro'], { env: { SHELL: '/bin/bash' } });
  assert.equal(r.exitCode, 0, r.all);
  assert.equal(await p.read('shell.txt'), '/bin/bash\n');
  const sh = await p.run(['repro', '-f'], { env: { SHELL: '' } });
  assert.notEqual(sh.exitCode, 0, 'under /bin/sh (dash) `[[` is not a command');
});

test('${key} inside a matrix stage is the generated name (DVC test_matrix_key_present)', async () => {
  const p = await tempProject({
    'dvc.yaml': `stages:
  build:
    matrix:
      os: [linux, mac]
      arch: [x64]
    cmd: echo \${key} > \${item.os}.txt
    outs:
      - \${item.os}.txt
`,
  });
  const r = await p.run(['repro']);
  assert.equal(r.exitCode, 0, r.all);
  assert.equal(await p.read('linux.txt'), 'linux-x64\n');
  assert.equal(await p.read('mac.txt'), 'mac-x64\n');
});

test('dvc.lock keeps 1.0 as 1.0 and lists indentless, as DVC writes it', async () => {
  const p = await tempProject({
    'params.yaml': 'lr: 1.0\nepochs: 2\n',
    'dvc.yaml':
      'stages:\n  s:\n    cmd: echo x > o.txt\n    params:\n      - lr\n      - epochs\n    outs:\n      - o.txt\n',
  });
  const r = await p.run(['repro']);
  assert.equal(r.exitCode, 0, r.all);
  const lock = await p.read('dvc.lock');
  assert.match(lock, /\n {8}epochs: 2\n {8}lr: 1\.0\n {4}outs:\n {4}- path: o\.txt\n {6}hash: md5\n/);
});

test('status names the changed key when a stage tracks a whole params section', async () => {
  const p = await tempProject({
    'params.yaml': 'train:\n  lr: 0.001\n  epochs: 3\n  big: [1, 2, 3]\n',
    'dvc.yaml': 'stages:\n  s:\n    cmd: echo x > o.txt\n    params:\n      - train\n    outs:\n      - o.txt\n',
  });
  assert.equal((await p.run(['repro'])).exitCode, 0);
  await p.write('params.yaml', 'train:\n  lr: 0.002\n  epochs: 3\n  big: [1, 2, 3]\n');
  const r = await p.run(['status']);
  assert.equal(r.stdout, 's:\n\tparams changed: train.lr 0.001 -> 0.002');
});
