import type { HardExamplesReport, ImageStats } from './types.js';

/** Side of the upscaled thumbnails, in CSS pixels (CIFAR images are 32 px: 4x). */
export const THUMB_PX = 128;

const escapeHtml = (s: string): string =>
  s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] as string);

const pct = (x: number): string => `${(x * 100).toFixed(0)}%`;
const num = (x: number): string => x.toFixed(3);

export interface HtmlImage {
  /** PNG bytes, or null with the reason the image could not be found. */
  bytes: Uint8Array | null;
  why?: string;
}

function card(s: ImageStats, rank: number, image: HtmlImage | undefined): string {
  const pic = image?.bytes
    ? `<img src="data:image/png;base64,${Buffer.from(image.bytes).toString('base64')}" width="${THUMB_PX}" ` +
      `height="${THUMB_PX}" alt="${escapeHtml(s.id)}">`
    : `<div class="missing" title="${escapeHtml(image?.why ?? 'not loaded')}">no ` +
      `image<br><small>${escapeHtml(image?.why ?? '')}</small></div>`;
  const wrong = s.topWrongLabel === null ? '—' : `${escapeHtml(s.topWrongLabel)} <small>(${s.topWrongCount}×)</small>`;
  return `<figure class="card" data-id="${escapeHtml(s.id)}">
<div class="rank">#${rank}</div>${pic}
<figcaption>
<div class="id" title="${escapeHtml(s.path)}">${escapeHtml(s.id)}</div>
<div><span class="true">${escapeHtml(s.trueLabel)}</span> → <span class="wrong">${wrong}</span></div>
<div title="missed by ${escapeHtml(s.missedBy.join(', '))}">missed ${s.misses}/${s.runs} (${pct(s.missRate)})</div>
<div>p<sub>true</sub> ${num(s.meanPTrue)} ± ${num(s.stdPTrue)}</div>
<div>margin ${num(s.meanMargin)}</div>
</figcaption>
</figure>`;
}

function table(head: string[], rows: string[][]): string {
  const th = head.map((h) => `<th>${escapeHtml(h)}</th>`).join('');
  const cell = (c: string) => `<td${/^-?[\d.]+%?$/.test(c) ? ' class="n"' : ''}>${escapeHtml(c)}</td>`;
  const body = rows.map((r) => `<tr>${r.map(cell).join('')}</tr>`).join('\n');
  return `<table><thead><tr>${th}</tr></thead><tbody>\n${body}\n</tbody></table>`;
}

const STYLE = `
body{font:14px/1.35 system-ui,sans-serif;margin:16px;background:#fff;color:#222}
h1{font-size:20px;margin:0 0 4px}h2{font-size:16px;margin:20px 0 6px}
.meta{color:#555;margin-bottom:12px}
.grid{display:flex;flex-wrap:wrap;gap:12px}
.card{margin:0;width:${THUMB_PX + 28}px;position:relative}
.card img{display:block;width:${THUMB_PX}px;height:${THUMB_PX}px;image-rendering:pixelated;image-rendering:crisp-edges}
.missing{width:${THUMB_PX}px;height:${THUMB_PX}px;background:repeating-linear-gradient(45deg,#eee 0 8px,#ddd 8px 16px);
  font-size:12px;text-align:center;overflow:hidden}
.rank{position:absolute;top:2px;left:2px;font-size:11px;background:rgba(255,255,255,.8);padding:0 3px}
figcaption{font-size:12px;margin-top:4px}
.id{font-family:ui-monospace,monospace;overflow:hidden;text-overflow:ellipsis;white-space:nowrap}
.true{color:#1a7f37;font-weight:600}.wrong{color:#b42318;font-weight:600}
table{border-collapse:collapse;font-size:13px}td,th{border:1px solid #ccc;padding:2px 8px;text-align:left}
td.n{text-align:right;font-variant-numeric:tabular-nums}
`;

/**
 * A self-contained page: the top images (embedded as data: URIs, upscaled with pixelated rendering
 * so 32 px images stay readable) with their labels and figures, then the per-class and confusion
 * tables. No timestamps, so the same report renders to the same bytes.
 */
export function renderHardExamplesHtml(
  report: HardExamplesReport,
  top: number,
  images: ReadonlyMap<string, HtmlImage>,
): string {
  const shown = report.hard.slice(0, Math.max(0, top));
  const o = report.options;
  const cards = shown.map((s, i) => card(s, i + 1, images.get(s.id))).join('\n');
  const experiments = `${report.runs.length} experiment${report.runs.length === 1 ? '' : 's'}`;
  const rule =
    o.minRate >= 1
      ? 'missed by every run that saw them'
      : `missed in at least ${pct(o.minRate)} of the runs that saw them`;
  const byClass = table(
    ['class', 'images', 'hard', 'mean miss rate', 'mean p_true', 'top confusion'],
    report.byClass.map((c) => [
      c.label,
      String(c.images),
      String(c.hard),
      num(c.meanMissRate),
      num(c.meanPTrue),
      c.topConfusion ?? '',
    ]),
  );
  const confusions = table(
    ['true', 'most often called', 'hard images'],
    report.confusions.map((c) => [c.trueLabel, c.wrongLabel, String(c.count)]),
  );
  const runs = table(
    ['experiment', 'images', 'accuracy'],
    report.runs.map((r) => [r.name, String(r.images), num(r.accuracy)]),
  );
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Hard examples: ${report.hard.length} of ${report.imagesSeen} images</title>
<style>${STYLE}</style>
</head>
<body>
<h1>Hard examples</h1>
<div class="meta">${report.hard.length} hard of ${report.imagesSeen} images seen by ${experiments}
(${rule}, at least ${o.minRuns} runs); showing the top ${shown.length}, hardest first.</div>
<div class="grid">
${cards || '<p>No hard examples.</p>'}
</div>
<h2>By class</h2>
${byClass}
<h2>Most common confusions</h2>
${confusions}
<h2>Experiments</h2>
${runs}
</body>
</html>
`;
}
