import type { Graph } from './graph.js';

/** Pure renderings of the stage graph (the CLI prints them). */

export function dagAscii(graph: Graph, names: Set<string>): string {
  const lines: string[] = [];
  const printed = new Set<string>();
  const children = (n: string) => graph.order.filter((c) => names.has(c) && graph.downstream.get(n)!.has(c));
  const walk = (n: string, prefix: string, last: boolean, root: boolean) => {
    const again = printed.has(n);
    const label = again && children(n).length > 0 ? `${n} (see above)` : n;
    lines.push(root ? label : `${prefix}${last ? '└── ' : '├── '}${label}`);
    if (again) return;
    printed.add(n);
    const kids = children(n);
    const childPrefix = root ? '' : `${prefix}${last ? '    ' : '│   '}`;
    for (const [i, k] of kids.entries()) walk(k, childPrefix, i === kids.length - 1, false);
  };
  const roots = graph.order.filter((n) => names.has(n) && [...graph.upstream.get(n)!].every((u) => !names.has(u)));
  for (const r of roots) walk(r, '', true, true);
  return lines.join('\n');
}

const quote = (s: string) => `"${s.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;

export function dagMermaid(graph: Graph, names: Set<string>): string {
  const ids = new Map<string, string>();
  const lines = ['flowchart TD'];
  for (const n of graph.order.filter((x) => names.has(x))) {
    ids.set(n, `node${ids.size + 1}`);
    lines.push(`\t${ids.get(n)}[${quote(n)}]`);
  }
  for (const e of graph.edges)
    if (ids.has(e.from) && ids.has(e.to)) lines.push(`\t${ids.get(e.from)}-->${ids.get(e.to)}`);
  return lines.join('\n');
}

export function dagDot(graph: Graph, names: Set<string>): string {
  const lines = ['strict digraph {'];
  for (const n of graph.order.filter((x) => names.has(x))) lines.push(`\t${quote(n)};`);
  for (const e of graph.edges)
    if (names.has(e.from) && names.has(e.to)) lines.push(`\t${quote(e.from)} -> ${quote(e.to)};`);
  lines.push('}');
  return lines.join('\n');
}

export function dagJson(graph: Graph, names: Set<string>): unknown {
  return {
    nodes: graph.order
      .filter((n) => names.has(n))
      .map((n) => {
        const s = graph.byName.get(n)!;
        return {
          name: n,
          cmd: s.cmd,
          deps: s.deps.map((d) => d.path),
          outs: s.outs.map((o) => o.path),
          frozen: s.frozen,
        };
      }),
    edges: graph.edges.filter((e) => names.has(e.from) && names.has(e.to)),
  };
}
