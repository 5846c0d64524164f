/**
 * The experiments page: plain HTML, CSS and a small script (no framework, no build step), with vega,
 * vega-lite and vega-embed inlined like `plots show`'s page, so it works with no network. It reads the
 * JSON endpoints of src/ui/server.ts and listens to /api/events for running experiments.
 */
import { PAGE_STYLE, vegaScripts } from '../plots/html.js';

const STYLE = `${PAGE_STYLE}
section{margin:18px 0}h2{font-size:16px;margin:0 0 8px}
table{border-collapse:collapse;font-size:13px}th,td{border-bottom:1px solid #e4e4e4;padding:3px 8px;text-align:left}
th{cursor:pointer;background:#f6f6f6;user-select:none;white-space:nowrap}th.sorted-asc::after{content:' ▲'}
  th.sorted-desc::after{content:' ▼'}
td.num{text-align:right;font-variant-numeric:tabular-nums}tr.failed td{color:#a00}
a.run{color:#0645ad;cursor:pointer;text-decoration:underline}
.toolbar{display:flex;gap:14px;align-items:center;margin-bottom:8px;font-size:13px}
.running{border:1px solid #9c6;border-radius:6px;padding:8px;margin-bottom:10px;background:#fbfff6}
.muted{color:#777;font-size:13px}iframe{width:100%;height:700px;border:1px solid #ddd}
.kv td:first-child{color:#555}`;

const SCRIPT = String.raw`
const token = new URLSearchParams(location.search).get('token');
const url = (p, params = {}) => {
  const u = new URL(p, location.href);
  u.search = '';
  if (token) u.searchParams.set('token', token);
  for (const [k, v] of Object.entries(params)) u.searchParams.set(k, v);
  return u.toString();
};
async function api(p, params) {
  const r = await fetch(url(p, params));
  const j = await r.json();
  if (!r.ok) throw new Error(j.error || r.statusText);
  return j;
}
const el = (tag, attrs = {}, ...kids) => {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) if (k === 'text') e.textContent = v; else e.setAttribute(k, v);
  for (const k of kids) e.append(k);
  return e;
};
const fmt = (v) => typeof v === 'number' ? (Number.isInteger(v) ? String(v) : Number(v.toPrecision(4)).toString())
  : v === null || v === undefined ? '' : typeof v === 'object' ? JSON.stringify(v) : String(v);
window.lockstepViews = {};
window.lockstepRunningUpdates = 0;

async function drawPlots(box, plots, key) {
  const views = [];
  box.replaceChildren();
  if (!plots.length) box.append(el('p', { class: 'muted', text: 'no plots' }));
  for (const p of plots) {
    const div = el('div', { class: 'plot', 'data-plot-id': p.id });
    box.append(div);
    if (p.kind === 'vega') {
      const target = el('div', { class: 'vega' });
      div.append(target);
      const r = await vegaEmbed(target, p.spec, { renderer: 'svg', actions: false });
      window.lockstepViews[key + ':' + p.id] = r.view;
      views.push(r.view);
    } else {
      div.append(el('h2', { text: p.id }));
      for (const im of p.images) div.append(el('figure', {}, el('img', { src: im.url, alt: p.id }),
        el('figcaption', { text: im.rev })));
    }
  }
  return views;
}

const state = { data: null, grouped: false, filter: '', sort: null, selected: new Set() };

function currentTable() {
  const t = state.grouped ? state.data.grouped : state.data.table;
  if (!t) return null;
  let cols = t.columns;
  if (state.grouped) {
    // one column per metric: mean and std over the group's runs (seeds)
    cols = cols.filter((c) => c.kind !== 'agg' || c.id.endsWith(':mean')).map((c) =>
      c.kind === 'agg' ? { ...c, label: c.label.replace(/:mean$/, ' (mean \u00b1 std)'),
        std: c.id.replace(/:mean$/, ':std') } : c);
  }
  return { cols, rows: t.rows };
}

function renderTable() {
  const box = document.getElementById('table');
  const t = currentTable();
  if (!t) {
    box.replaceChildren(el('p', { class: 'muted', text: 'nothing to group by ' + state.data.groupBy }));
    return;
  }
  const needle = state.filter.toLowerCase();
  let rows = t.rows.filter((r) => !needle || [r.name, ...Object.values(r.cells).map(fmt)].some((s) =>
    String(s).toLowerCase().includes(needle)));
  if (state.sort) {
    const { id, dir } = state.sort;
    const val = (r) => (id === 'meta:name' ? r.name : r.cells[id]);
    rows = [...rows].sort((a, b) => {
      const x = val(a), y = val(b);
      if (x === y) return 0;
      if (x === undefined || x === null) return 1;
      if (y === undefined || y === null) return -1;
      const c = typeof x === 'number' && typeof y === 'number' ? x - y : String(x).localeCompare(String(y));
      return dir === 'asc' ? c : -c;
    });
  }
  const head = el('tr');
  if (!state.grouped) head.append(el('th', { text: '' }));
  for (const c of t.cols) {
    const th = el('th', { text: c.label, 'data-col': c.id });
    if (state.sort && state.sort.id === c.id) th.className = 'sorted-' + state.sort.dir;
    th.onclick = () => {
      state.sort = { id: c.id, dir: state.sort && state.sort.id === c.id && state.sort.dir === 'desc' ?
        'asc' : 'desc' };
      renderTable();
    };
    head.append(th);
  }
  const body = el('tbody');
  for (const r of rows) {
    const tr = el('tr', { 'data-sha': r.sha || '' });
    if (r.state === 'failed') tr.className = 'failed';
    if (!state.grouped) {
      const cb = el('input', { type: 'checkbox', 'aria-label': 'select ' + r.name });
      cb.checked = state.selected.has(r.sha);
      cb.onchange = () => {
        cb.checked ? state.selected.add(r.sha) : state.selected.delete(r.sha);
        void drawCompare();
      };
      tr.append(el('td', {}, cb));
    }
    for (const c of t.cols) {
      const v = c.id === 'meta:name' ? r.name : r.cells[c.id];
      if (c.id === 'meta:name' && r.sha) {
        const a = el('a', { class: 'run', text: r.name });
        a.onclick = () => showRun(r.sha);
        tr.append(el('td', {}, a));
      } else if (c.std) {
        const s = r.cells[c.std];
        tr.append(el('td', { class: 'num', text: v === null || v === undefined ?
          '' : fmt(v) + (s === null || s === undefined ? '' : ' \u00b1 ' + fmt(s)) }));
      } else {
        tr.append(el('td', { class: typeof v === 'number' ? 'num' : '', text: fmt(v) }));
      }
    }
    body.append(tr);
  }
  box.replaceChildren(el('table', { id: 'exp-table' }, el('thead', {}, head), body));
}

async function drawCompare() {
  const box = document.getElementById('compare');
  const shas = [...state.selected];
  if (!shas.length) {
    box.replaceChildren(el('p', { class: 'muted', text: 'select runs in the table to overlay their curves' }));
    return;
  }
  await drawPlots(box, await api('/api/compare', { shas: shas.join(',') }), 'compare');
}

async function showRun(sha) {
  const box = document.getElementById('run');
  const r = await api('/api/run', { sha });
  const kv = (obj) => {
    const t = el('table', { class: 'kv' });
    for (const [file, values] of Object.entries(obj)) for (const [k, v] of Object.entries(values))
      t.append(el('tr', {}, el('td', { text: file + ': ' + k }), el('td', { class: 'num', text: fmt(v) })));
    return t;
  };
  const plots = el('div', { class: 'plots' });
  box.replaceChildren(el('h2', { text: r.name + ' (' + r.state + ', ' + r.sha.slice(0, 7) + ')' }),
    el('div', { class: 'plots' },
      el('div', {}, el('h2', { text: 'params' }), kv(r.params)),
      el('div', {}, el('h2', { text: 'metrics' }), kv(r.metrics))),
    plots);
  await drawPlots(plots, r.plots, 'run');
  document.getElementById('run-section').hidden = false;
}

let runningNames = '';
async function drawRunning() {
  const box = document.getElementById('running');
  const list = await api('/api/running');
  const names = list.map((r) => r.name).join(',');
  if (runningNames && names !== runningNames) {
    // a run ended (or began): its record is in the table now
    state.data = await api('/api/experiments');
    renderTable();
  }
  runningNames = names || ' ';
  box.replaceChildren();
  if (!list.length) box.append(el('p', { class: 'muted', text: 'no experiment is running' }));
  for (const r of list) {
    const plots = el('div', { class: 'plots' });
    const set = r.assignments.map((a) => a.key + '=' + fmt(a.value)).join(' ');
    const title = r.name + (set ? ' (' + set + ')' : '') + ', started ' + new Date(r.started).toLocaleTimeString();
    box.append(el('div', { class: 'running', 'data-running': r.name }, el('h2', { text: title }), plots));
    await drawPlots(plots, r.plots, 'running:' + r.name);
  }
  window.lockstepRunningUpdates++;
}

async function main() {
  state.data = await api('/api/experiments');
  document.getElementById('filter').oninput = (e) => { state.filter = e.target.value; renderTable(); };
  document.getElementById('group').onchange = (e) => { state.grouped = e.target.checked; renderTable(); };
  document.getElementById('group-label').textContent =
    'group by ' + state.data.groupBy + ' (mean \u00b1 std over seeds)';
  renderTable();
  await drawCompare();
  await drawRunning();
  document.getElementById('hard').ontoggle = (e) => {
    const f = document.getElementById('hard-frame');
    if (e.target.open && !f.src) f.src = url('/hard-examples');
  };
  const events = new EventSource(url('/api/events'));
  let busy = Promise.resolve();
  events.addEventListener('running', () => { busy = busy.then(drawRunning, drawRunning); });
}
window.lockstepReady = main();
`;

export function uiPage(): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>lockstep experiments</title>
<style>${STYLE}</style>
${vegaScripts()}
</head><body>
<h1>lockstep experiments</h1>
<section><h2>Running now</h2><div id="running"></div></section>
<section><h2>Experiments</h2>
<div class="toolbar"><input id="filter" type="search" placeholder="filter rows" aria-label="filter rows">
<label><input id="group" type="checkbox"> <span id="group-label">group</span></label></div>
<div id="table"></div></section>
<section><h2>Selected runs: curves overlaid</h2><div id="compare" class="plots"></div></section>
<section id="run-section" hidden><div id="run"></div></section>
<section><details id="hard"><summary>Hard examples (images the experiments keep getting wrong)</summary>
<iframe id="hard-frame" title="hard examples"></iframe></details></section>
<script>${SCRIPT.replaceAll('</script', '<\\/script')}</script>
</body></html>
`;
}
