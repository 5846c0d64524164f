import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tempProject } from '../helpers/project.js';

const PIPELINE = `# the pipeline
stages:
  # trains
  train:
    cmd: cp params.yaml used.yaml
    params:
      - train
    outs:
      - used.yaml
    metrics:
      - scores.json:
          cache: false
metrics:
  - extra.yaml
`;

async function project() {
  return tempProject({
    'dvc.yaml': PIPELINE,
    'params.yaml': 'train:\n  lr: 1.0\n  epochs: 3\nseed: 1\n',
    'scores.json': '{"acc": 0.5, "nested": {"loss": 0.25}}\n',
    'extra.yaml': 'f1: 0.3\n',
  });
}

test('metrics show / diff: stage metrics and the top-level metrics section, as DVC prints them', async () => {
  const p = await project();
  const show = await p.run(['metrics', 'show']);
  assert.equal(show.exitCode, 0, show.all);
  assert.equal(
    show.stdout,
    'Path         acc    f1    nested.loss\nextra.yaml   -      0.3   -\nscores.json  0.5    -     0.25',
  );
  await p.write('scores.json', '{"acc": 0.753456789, "nested": {"loss": 0.25}}\n');
  const diff = await p.run(['metrics', 'diff']);
  assert.equal(
    diff.stdout,
    'Path         Metric    HEAD    workspace    Change\nscores.json  acc       0.5     0.75346      0.25346',
  );
  const md = await p.run(['metrics', 'diff', '--md', '--all']);
  assert.match(md.stdout, /^\| Path {8}\| Metric {6}\| HEAD {3}\| workspace {3}\| Change {3}\|\n\|-+\|/);
  assert.match(md.stdout, /\| extra\.yaml {2}\| f1 {10}\| 0\.3 {4}\| 0\.3 {9}\| 0 {8}\|/);
  const json = JSON.parse((await p.run(['metrics', 'show', '--json'])).stdout);
  assert.deepEqual(json[''].data['scores.json'].data, { acc: 0.753456789, nested: { loss: 0.25 } });
  const bad = await p.run(['metrics', 'diff', 'nosuchrev']);
  assert.equal(bad.exitCode, 2);
  assert.match(bad.stderr, /^lockstep: unknown revision 'nosuchrev'/);
});

test('params diff: only what changed (1.0 stays 1.0), --all for every key, revisions as arguments', async () => {
  const p = await project();
  assert.equal((await p.run(['params', 'diff'])).stdout, '');
  await p.write('params.yaml', 'train:\n  lr: 2.0\n  epochs: 3\nseed: 1\n');
  const r = await p.run(['params', 'diff']);
  assert.equal(r.stdout, 'Path         Param     HEAD    workspace\nparams.yaml  train.lr  1.0     2.0');
  const all = await p.run(['params', 'diff', '--all']);
  assert.match(all.stdout, /params\.yaml {2}seed {10}1 {7}1/);
  await p.git('commit', '-qam', 'lr 2');
  const between = await p.run(['params', 'diff', 'HEAD~1', 'HEAD']);
  assert.match(between.stdout, /Path {9}Param {5}HEAD~1 {4}HEAD\nparams\.yaml {2}train\.lr {2}1\.0 {7}2\.0$/);
});

test('stage add writes the stage in DVC layout keeping comments; stage list; freeze/unfreeze', async () => {
  const p = await project();
  const add = await p.run([
    'stage',
    'add',
    '-n',
    'report',
    '-d',
    'used.yaml',
    '-o',
    'report.txt',
    '-M',
    'r.json',
    '--plots',
    'p.csv',
    'wc -l used.yaml > report.txt',
  ]);
  assert.equal(add.exitCode, 0, add.all);
  const text = await p.read('dvc.yaml');
  assert.ok(text.startsWith('# the pipeline\nstages:\n  # trains\n  train:\n'), text);
  assert.match(
    text,
    // the file indents its lists, so the new stage does too (DVC's indentless style otherwise)
    new RegExp(
      / {2}report:\n {4}cmd: wc -l used.yaml > report.txt\n {4}deps:\n {6}- used.yaml\n {4}outs:\n {6}- /.source +
        /report.txt\n {4}metrics:\n {6}- r.json:\n {10}cache: false\n {4}plots:\n {6}- p.csv\nmetrics:\n/.source,
    ),
  );
  assert.match(await p.read('.gitignore'), /^\/report\.txt$/m);
  const again = await p.run(['stage', 'add', '-n', 'report', 'true']);
  assert.equal(again.exitCode, 2);
  assert.match(again.stderr, /stage 'report' already exists in 'dvc.yaml'. Use --force/);
  const list = await p.run(['stage', 'list']);
  assert.equal(
    list.stdout,
    'train   Outputs used.yaml; Reports scores.json\nreport  Outputs report.txt; Reports r.json, p.csv',
  );
  assert.equal((await p.run(['freeze', 'train'])).exitCode, 0);
  assert.match(await p.read('dvc.yaml'), /cache: false\n {4}frozen: true\n/);
  const st = await p.run(['status']);
  assert.doesNotMatch(st.stdout, /^train:/m, 'a frozen stage is not reported');
  assert.equal((await p.run(['unfreeze', 'train'])).exitCode, 0);
  assert.doesNotMatch(await p.read('dvc.yaml'), /frozen/);
  const unknown = await p.run(['freeze', 'nosuch']);
  assert.equal(unknown.exitCode, 2);
  assert.match(unknown.stderr, /no stage 'nosuch' in dvc.yaml/);
});

test('stage add that would break the pipeline is rolled back', async () => {
  const p = await project();
  const before = await p.read('dvc.yaml');
  const r = await p.run(['stage', 'add', '-n', 'dup', '-o', 'used.yaml', 'true']);
  assert.notEqual(r.exitCode, 0);
  assert.equal(await p.read('dvc.yaml'), before);
});

test(`init: .lockstep/ with config and .gitignore, the cache git-ignored; a DVC repository reuses .dvc/cache and \
remotes`, async () => {
  const p = await tempProject({ README: 'x\n' });
  const r = await p.run(['init']);
  assert.equal(r.exitCode, 0, r.all);
  assert.equal(await p.read('.lockstep/.gitignore'), '/tmp/\n/config.local.yaml\n');
  assert.match(await p.read('.gitignore'), /^\/\.cache\/$/m);
  assert.equal((await p.run(['init'])).exitCode, 2, 'a second init refuses');
  const d = await tempProject({
    '.dvc/config': '[core]\n    remote = store\n[\'remote "store"\']\n    url = /tmp/somewhere\n',
    '.dvc/config.local': '[\'remote "store"\']\n    password = secret\n',
  });
  assert.equal((await d.run(['init'])).exitCode, 0);
  const cfg = await d.read('.lockstep/config.yaml');
  assert.match(cfg, /cache:\n {2}dir: \.dvc\/cache\n/);
  assert.match(cfg, /remote:\n {2}store:\n {4}url: \/tmp\/somewhere\n/);
  assert.match(cfg, /core:\n {2}remote: store\n/);
  assert.doesNotMatch(cfg, /secret/);
  assert.match(await d.read('.lockstep/config.local.yaml'), /password: secret/);
});
