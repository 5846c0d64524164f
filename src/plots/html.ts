/**
 * One self-contained HTML page: vega, vega-lite and vega-embed inlined from their npm packages (no
 * network), each plot's Vega-Lite spec with its data, images as data: URLs.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import type { PlotResult } from './show.js';

const require = createRequire(import.meta.url);

/** The browser bundle of an npm package, found next to the file its entry point resolves to. */
function bundle(pkg: string, file: string): string {
  const text = readFileSync(path.join(path.dirname(require.resolve(pkg)), file), 'utf8');
  // a literal </script> inside would end the inline script early
  return text.replaceAll('</script', '<\\/script');
}

let scripts: string | undefined;
/** The three libraries as inline <script> elements (read once per process). */
export function vegaScripts(): string {
  scripts ??= [
    bundle('vega', 'vega.min.js'),
    bundle('vega-lite', 'vega-lite.min.js'),
    bundle('vega-embed', 'vega-embed.min.js'),
  ]
    .map((s) => `<script>${s}</script>`)
    .join('\n');
  return scripts;
}

export const escapeHtml = (s: string) =>
  s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] as string);

/** JSON safe inside a <script> element. */
export const scriptJson = (v: unknown) =>
  JSON.stringify(v).replaceAll('<', '\\u003c').replaceAll('\u2028', '\\u2028').replaceAll('\u2029', '\\u2029');

export const PAGE_STYLE = `body{font-family:system-ui,sans-serif;margin:24px;color:#222}
h1{font-size:20px}h2{font-size:15px;margin:0 0 6px}
.plots{display:flex;flex-wrap:wrap;gap:24px}
.plot{border:1px solid #ddd;border-radius:6px;padding:12px;background:#fff}
.images{display:flex;gap:12px;flex-wrap:wrap}.images figure{margin:0}
.images img{max-width:520px;image-rendering:pixelated}figcaption{font-size:12px;color:#555}
.warn{color:#a40}`;

export function renderHtml(plots: PlotResult[], opts: { title: string; warnings?: string[] }): string {
  const specs: Record<string, unknown> = {};
  const blocks = plots.map((p, i) => {
    const id = `plot-${i}`;
    if (p.kind === 'vega') {
      specs[id] = p.built.spec;
      return `<div class="plot" data-plot-id="${escapeHtml(p.id)}"><div id="${id}" class="vega"></div></div>`;
    }
    const figs = p.images
      .map(
        (im) =>
          `<figure><img alt="${escapeHtml(`${p.id} (${im.rev})`)}" ` +
          `src="data:${im.mime};base64,${im.data.toString('base64')}">` +
          `<figcaption>${escapeHtml(im.rev)}</figcaption></figure>`,
      )
      .join('');
    return (
      `<div class="plot" data-plot-id="${escapeHtml(p.id)}"><h2>${escapeHtml(p.id)}</h2><div ` +
      `class="images">${figs}</div></div>`
    );
  });
  const warnings = (opts.warnings ?? []).map((w) => `<p class="warn">${escapeHtml(w)}</p>`).join('\n');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(opts.title)}</title>
<style>${PAGE_STYLE}</style>
${vegaScripts()}
</head><body>
<h1>${escapeHtml(opts.title)}</h1>
${warnings}
<div class="plots">
${blocks.join('\n')}
</div>
<script>
const specs = ${scriptJson(specs)};
window.lockstepViews = {};
window.lockstepReady = Promise.all(Object.entries(specs).map(([id, spec]) =>
  vegaEmbed('#' + id, spec, {
    renderer: 'svg',
    actions: { export: true, source: true, compiled: false, editor: false },
  })
    .then((r) => { window.lockstepViews[id] = r.view; })));
</script>
</body></html>
`;
}
