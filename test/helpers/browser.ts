/**
 * Debian's chromium, headless, driven by puppeteer-core (never a downloaded browser): a fresh profile
 * per launch, closed when the test file ends. Tests skip when chromium is not installed.
 */
import { existsSync, promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after } from 'node:test';
import type { Browser, Page } from 'puppeteer-core';

export const CHROMIUM = ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((f) => existsSync(f));
export const NO_CHROMIUM = CHROMIUM ? false : 'chromium is not installed (apt-get install -y chromium)';

export async function launchBrowser(): Promise<Browser> {
  const { default: puppeteer } = await import('puppeteer-core');
  const profile = await fs.mkdtemp(path.join(os.tmpdir(), 'lockstep-chromium-'));
  const browser = await puppeteer.launch({
    executablePath: CHROMIUM as string,
    headless: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
      '--disable-dev-shm-usage',
      `--user-data-dir=${profile}`,
    ],
  });
  after(async () => {
    await browser.close().catch(() => {});
    await fs.rm(profile, { recursive: true, force: true }).catch(() => {});
  });
  return browser;
}

/** A page that fails the test on any request leaving the machine (the pages must need no network). */
export async function offlinePage(browser: Browser, blocked: string[]): Promise<Page> {
  const page = await browser.newPage();
  await page.setViewport({ width: 1280, height: 900 });
  await page.setRequestInterception(true);
  page.on('request', (req) => {
    const url = req.url();
    if (url.startsWith('file:') || url.startsWith('data:') || /^https?:\/\/127\.0\.0\.1[:/]/.test(url)) {
      void req.continue();
    } else {
      blocked.push(url);
      void req.abort();
    }
  });
  return page;
}

/** With LOCKSTEP_SCREENSHOTS=<dir> set, save a screenshot there (the README's pictures); otherwise nothing. */
export async function maybeScreenshot(page: Page, name: string): Promise<void> {
  const dir = process.env.LOCKSTEP_SCREENSHOTS;
  if (!dir) return;
  await fs.mkdir(dir, { recursive: true });
  await page.screenshot({ path: path.join(path.resolve(dir), `${name}.png`) as `${string}.png`, fullPage: true });
}

/** What a person sees in each Vega chart of the page: title, axis titles, legend entries, marks. */
export interface ChartView {
  title: string;
  axisTitles: string[];
  legend: string[];
  lines: number;
  symbols: number;
  rects: number;
  texts: string[];
}

export async function readCharts(page: Page): Promise<ChartView[]> {
  await page.waitForFunction('window.lockstepReady !== undefined', { timeout: 20_000 });
  await page.evaluate('window.lockstepReady');
  return page.$$eval('.vega svg.marks', (svgs) =>
    svgs.map((svg) => {
      const texts = (sel: string) => [...svg.querySelectorAll(sel)].map((t) => t.textContent ?? '');
      return {
        // the chart's title is the largest title text (facet headers are title texts too)
        title:
          [...svg.querySelectorAll('.role-title-text text')]
            .map((t) => ({ text: t.textContent ?? '', size: Number.parseFloat(t.getAttribute('font-size') ?? '0') }))
            .sort((a, b) => b.size - a.size)[0]?.text ?? '',
        axisTitles: texts('.role-axis-title text'),
        legend: texts('.role-legend-label text'),
        lines: svg.querySelectorAll('.mark-line.role-mark path').length,
        symbols: svg.querySelectorAll('.mark-symbol.role-mark path').length,
        rects: svg.querySelectorAll('.mark-rect.role-mark path').length,
        texts: texts('.mark-text.role-mark text'),
      };
    }),
  );
}
