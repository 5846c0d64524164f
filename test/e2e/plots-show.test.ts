import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { launchBrowser, maybeScreenshot, NO_CHROMIUM, offlinePage, readCharts } from '../helpers/browser.js';
import { PARAMS_YAML, plotsProject } from './plots-fixture.js';

test('plots show: one offline HTML page; each declared plot drawn with its series, points and axis titles', {
  skip: NO_CHROMIUM,
}, async () => {
  const p = await plotsProject();
  const r = await p.run(['plots', 'show']);
  assert.equal(r.exitCode, 0, r.all);
  const file = path.join(p.dir, 'dvc_plots', 'index.html');
  assert.equal(r.stdout.trim(), pathToFileURL(file).href);

  const browser = await launchBrowser();
  const blocked: string[] = [];
  const page = await offlinePage(browser, blocked);
  await page.goto(pathToFileURL(file).href);
  const charts = await readCharts(page);
  await maybeScreenshot(page, 'plots-show');
  assert.deepEqual(blocked, [], 'the page asked for nothing from the network');
  assert.deepEqual(
    charts.map((c) => c.title),
    ['Loss per epoch', 'F1 per class', 'Accuracy per epoch', 'confusion'],
  );
  const [loss, f1, acc, cm] = charts as [
    (typeof charts)[0],
    (typeof charts)[0],
    (typeof charts)[0],
    (typeof charts)[0],
  ];
  // 4 epochs, two fields: two lines with a point per epoch
  assert.equal(loss.lines, 2);
  assert.equal(loss.symbols, 8);
  assert.deepEqual(loss.axisTitles, ['epoch', 'cross-entropy']);
  assert.deepEqual(loss.legend, ['loss', 'val_loss']);
  assert.equal(acc.lines, 2);
  assert.deepEqual(acc.legend, ['accuracy', 'val_acc']);
  assert.equal(f1.rects, 3, 'one bar per class');
  assert.deepEqual(f1.axisTitles, ['f1', 'class']);
  // 30 images of 3 classes: the cells' counts add up to 30
  assert.deepEqual(cm.axisTitles, ['true class', 'predicted class']);
  assert.equal(
    cm.texts.map(Number).reduce((a, b) => a + b, 0),
    30,
  );
  assert.equal(cm.rects, cm.texts.length);
});

test(`plots diff: workspace against HEAD (cached outputs read from the cache) and an experiment, overlaid in one \
chart per plot`, {
  skip: NO_CHROMIUM,
}, async () => {
  const p = await plotsProject();
  await p.write('params.yaml', PARAMS_YAML.replace('epochs: 4', 'epochs: 6'));
  assert.equal((await p.run(['repro'])).exitCode, 0);
  const r = await p.run(['plots', 'diff', '-o', 'out']);
  assert.equal(r.exitCode, 0, r.all);
  const browser = await launchBrowser();
  const blocked: string[] = [];
  const page = await offlinePage(browser, blocked);
  await page.goto(pathToFileURL(path.join(p.dir, 'out', 'index.html')).href);
  const charts = await readCharts(page);
  await maybeScreenshot(page, 'plots-diff');
  const loss = charts.find((c) => c.title === 'Loss per epoch');
  assert.ok(loss);
  assert.equal(loss.lines, 4, 'two fields in two runs');
  assert.equal(loss.symbols, 6 * 2 + 4 * 2);
  assert.deepEqual(loss.legend, ['workspace: loss', 'workspace: val_loss', 'HEAD: loss', 'HEAD: val_loss']);
  const f1 = charts.find((c) => c.title === 'F1 per class');
  assert.equal(f1?.rects, 6, 'a bar per class and run');
  const cm = charts.find((c) => c.title === 'confusion');
  // results/pred.csv is a cached output: HEAD's copy came from the cache through HEAD's pipeline.lock
  assert.equal(
    cm?.texts.map(Number).reduce((a, b) => a + b, 0),
    60,
  );

  // an experiment by name, in DVC's --json shape
  const e = await p.run(['exp', 'run', '-S', 'epochs=2', '-n', 'short']);
  assert.equal(e.exitCode, 0, e.all);
  const j = await p.run(['plots', 'diff', 'HEAD', 'short', '--json', '--targets', 'plots/train.json']);
  assert.equal(j.exitCode, 0, j.all);
  const json = JSON.parse(j.stdout) as Record<
    string,
    Array<{ type: string; revs: string[]; content: { data: { values: Array<{ rev: string }> } } }>
  >;
  // the target selects every plot drawn from that file: its own, and the named plot 'accuracy'
  assert.deepEqual(Object.keys(json), ['plots/train.json', 'accuracy']);
  const entry = json['plots/train.json']?.[0];
  assert.deepEqual(entry?.revs, ['HEAD', 'short']);
  const perRev = (rev: string) => entry?.content.data.values.filter((v) => v.rev === rev).length;
  assert.equal(perRev('HEAD'), 8);
  assert.equal(perRev('short'), 4);
});

test('plots: an unknown revision or target is one line with a hint; a broken data file is a warning', async () => {
  const p = await plotsProject();
  const r = await p.run(['plots', 'diff', 'no-such-rev']);
  assert.equal(r.exitCode, 2);
  assert.match(r.stderr, /^lockstep: 'no-such-rev' is neither a git revision nor an experiment of .*\. Give a branch/);
  assert.equal(r.stderr.trim().split('\n').length, 1);
  const t = await p.run(['plots', 'show', 'nothing.csv']);
  assert.equal(t.exitCode, 2);
  assert.match(t.stderr, /^lockstep: no plot or plot file 'nothing.csv' in workspace\./);
  await fs.writeFile(path.join(p.dir, 'plots', 'per_class.json'), '{"oops": ');
  const w = await p.run(['plots', 'show', '--json']);
  assert.equal(w.exitCode, 0, w.all);
  assert.match(w.stderr, /lockstep: warning: workspace: plots\/per_class.json: not valid JSON/);
  assert.ok(!('plots/per_class.json' in JSON.parse(w.stdout)));
});
