import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execa, type ResultPromise } from 'execa';
import type { Page } from 'puppeteer-core';
import { launchBrowser, maybeScreenshot, NO_CHROMIUM, offlinePage, readCharts } from '../helpers/browser.js';
import { CLI } from '../helpers/project.js';
import { waitFor } from '../helpers/wait.js';
import { plotsProject } from './plots-fixture.js';

/** Start `lockstep ui` in `dir`; resolves with its printed URL. Stopped when the test ends. */
async function startUi(dir: string, args: string[] = []): Promise<{ url: string; proc: ResultPromise }> {
  const proc = execa(process.execPath, [CLI, 'ui', ...args], { cwd: dir, reject: false, env: { NO_COLOR: '1' } });
  const url = await new Promise<string>((resolve, reject) => {
    let buf = '';
    proc.stdout?.on('data', (b: Buffer) => {
      buf += b.toString();
      const line = buf.split('\n').find((l) => l.startsWith('http'));
      if (line) resolve(line.trim());
    });
    void proc.then((r) => reject(new Error(`lockstep ui exited: ${r.all ?? r.stderr}`)));
  });
  return { url, proc };
}

const rowsShown = (page: Page) => page.$$eval('#exp-table tbody tr', (trs) => trs.map((tr) => tr.textContent ?? ''));

test(`ui: the experiments table (sort, filter, grouped mean ± std), curves of selected runs, a run with its confusion \
matrix`, {
  skip: NO_CHROMIUM,
}, async (t) => {
  const p = await plotsProject();
  const sweep = await p.run(['exp', 'run', '--seed', '1,2', '--data', 'v1,v1+v2', '-j', '2']);
  assert.equal(sweep.exitCode, 0, sweep.all);
  const { url, proc } = await startUi(p.dir);
  t.after(() => proc.kill('SIGTERM'));
  assert.match(url, /^http:\/\/127\.0\.0\.1:\d+\/$/);

  const browser = await launchBrowser();
  const blocked: string[] = [];
  const page = await offlinePage(browser, blocked);
  await page.goto(url);
  await page.evaluate('window.lockstepReady');
  assert.equal((await rowsShown(page)).length, 4);
  const headers = await page.$$eval('#exp-table th', (ths) => ths.map((th) => th.textContent));
  for (const h of ['Experiment', 'seed', 'data', 'accuracy']) assert.ok(headers.includes(h), `${h} in ${headers}`);

  // sort by accuracy, descending: the v1+v2 runs with seed 2 first
  await page.click('th[data-col="metric:metrics/eval.json:accuracy"]');
  const sorted = await rowsShown(page);
  assert.match(sorted[0] ?? '', /v1\+v2.*0\.652/);
  await page.type('#filter', 'v1+v2');
  assert.equal((await rowsShown(page)).length, 2);
  await page.click('#filter', { count: 3 });
  await page.keyboard.press('Backspace');
  await page.click('#group');
  const grouped = await rowsShown(page);
  assert.equal(grouped.length, 2, 'one row per data value');
  assert.ok(
    // 0.651 and 0.652 over seeds 1 and 2: mean 0.6515, sample std 0.000707
    grouped.some((r) => /v1\+v2.*0\.6515 ± 0\.0007071/.test(r)),
    grouped.join('\n'),
  );
  await page.click('#group');

  // select two runs: their curves overlaid, two fields each
  const boxes = await page.$$('#exp-table tbody input[type=checkbox]');
  await boxes[0]?.click();
  await boxes[1]?.click();
  await page.waitForFunction("document.querySelectorAll('#compare .vega svg.marks').length >= 2", { timeout: 20_000 });
  // the second click redraws the chart: read until it has settled on both runs (or time out and report)
  let compare = (await readCharts(page)).filter((c) => c.title === 'Loss per epoch');
  const settled = async () => {
    compare = (await readCharts(page)).filter((c) => c.title === 'Loss per epoch');
    return compare[0]?.lines === 4;
  };
  await waitFor(settled, { timeoutMs: 20_000, everyMs: 200 }).catch(() => {}); // the assertion says what was drawn
  assert.equal(compare[0]?.lines, 4);
  assert.equal(compare[0]?.legend.length, 4);

  // a run's own page: params, metrics, the confusion matrix with axis titles, per-class bars
  await page.click('#exp-table tbody a.run');
  await page.waitForFunction("document.querySelectorAll('#run .vega svg.marks').length >= 4", { timeout: 20_000 });
  const runCharts = await page.$$eval('#run .vega svg.marks', (svgs) =>
    svgs.map((s) => [...s.querySelectorAll('.role-axis-title text')].map((x) => x.textContent).join('|')),
  );
  assert.ok(runCharts.includes('true class|predicted class'), runCharts.join('\n'));
  assert.match(await page.$eval('#run', (e) => e.textContent ?? ''), /metrics\/eval\.json: accuracy/);
  await maybeScreenshot(page, 'ui');
  assert.deepEqual(blocked, []);
});

test('ui: a running experiment appears and its curves grow as epochs end, without a reload', {
  skip: NO_CHROMIUM,
}, async (t) => {
  const p = await plotsProject();
  const { url, proc } = await startUi(p.dir);
  t.after(() => proc.kill('SIGTERM'));
  const browser = await launchBrowser();
  const page = await offlinePage(browser, []);
  await page.goto(url);
  await page.evaluate('window.lockstepReady');
  await page.evaluate('window.notReloaded = true');
  // a fake training run: 6 epochs, one every 1.5 s, each written to plots/train.json in its workspace
  const run = p.run(['exp', 'run', '-S', 'epochs=6', '-n', 'live', '--no-run-cache'], {
    env: { FAKE_EPOCH_MS: '1500' },
  });
  // points of one of the two series of the running experiment's loss chart (-1: no chart yet)
  const points = () =>
    page.evaluate(`(() => {
      const svg = document.querySelector('[data-running="live"] [data-plot-id="plots/train.json"] svg.marks');
      return svg ? svg.querySelectorAll('.mark-symbol.role-mark path').length / 2 : -1;
    })()`) as Promise<number>;
  const seen: number[] = [];
  const grown = async () => {
    const n = await points();
    if (n > 0 && n !== seen.at(-1)) seen.push(n);
    // the workspace starts with the committed curves (4 epochs); the run rewrites them from epoch 1 on
    const fresh = seen.slice(seen.indexOf(Math.min(...seen)));
    return n >= 3 && fresh.length >= 2;
  };
  await waitFor(grown, { timeoutMs: 60_000, everyMs: 200 }).catch(() => {}); // the assertions say what was seen
  if (process.env.LOCKSTEP_SCREENSHOTS) await maybeScreenshot(page, 'ui-live');
  const fresh = seen.slice(seen.indexOf(Math.min(...seen)));
  assert.ok(fresh.length >= 2, `the curve grew while the page stayed open (epochs seen: ${seen.join(', ')})`);
  assert.ok(
    fresh.every((n, k) => k === 0 || n > (fresh[k - 1] ?? 0)),
    seen.join(', '),
  );
  assert.equal(await page.evaluate('window.notReloaded'), true);
  const r = await run;
  assert.equal(r.exitCode, 0, r.all);
  // when the run ends its card goes away and its record joins the table, still without a reload
  await page.waitForFunction('!document.querySelector(\'[data-running="live"]\')', { timeout: 20_000 });
  await page.waitForFunction(
    "[...document.querySelectorAll('#exp-table a.run')].some((a) => a.textContent === 'live')",
    {
      timeout: 20_000,
    },
  );
  assert.equal(await page.evaluate('window.notReloaded'), true);
});

test('ui: read-only; bound beyond the loopback it needs the token of its URL; a foreign Host is refused', async (t) => {
  const p = await plotsProject();
  const open = await startUi(p.dir, ['--host', '0.0.0.0']);
  t.after(() => open.proc.kill('SIGTERM'));
  const m = /^http:\/\/0\.0\.0\.0:(\d+)\/\?token=([\w-]{20,})$/.exec(open.url);
  assert.ok(m, open.url);
  const base = `http://127.0.0.1:${m[1]}`;
  assert.equal((await fetch(`${base}/api/experiments`)).status, 403);
  assert.equal((await fetch(`${base}/api/experiments?token=wrong${m[2]}`)).status, 403);
  const ok = await fetch(`${base}/api/experiments?token=${m[2]}`);
  assert.equal(ok.status, 200);
  assert.deepEqual(((await ok.json()) as { table: { rows: unknown[] } }).table.rows, []);
  assert.equal((await fetch(`${base}/?token=${m[2]}`, { method: 'POST' })).status, 405);

  const local = await startUi(p.dir);
  t.after(() => local.proc.kill('SIGTERM'));
  assert.equal((await fetch(`${local.url}api/running`)).status, 200);
  const port = new URL(local.url).port;
  const { request } = await import('node:http');
  const status = await new Promise<number>((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: '/', headers: { host: `evil.example:${port}` } }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', reject);
    req.end();
  });
  assert.equal(status, 403, 'DNS rebinding: a page of another site cannot read the experiments');
});
