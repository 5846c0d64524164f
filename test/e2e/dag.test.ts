import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tempProject } from '../helpers/project.js';

const PIPELINE = `stages:
  pull:
    cmd: echo
    outs: [data/raw]
  prepare:
    cmd: echo
    deps: [data/raw]
    outs: [data/prepared]
  train:
    cmd: echo
    deps: [data/prepared]
    outs: [model]
  evaluate:
    cmd: echo
    deps: [model, data/prepared]
    outs: [eval.json]
`;

test('dag renders ASCII, mermaid, dot and JSON', async () => {
  const p = await tempProject({ 'pipeline.yaml': PIPELINE });
  const ascii = await p.run(['dag']);
  assert.equal(ascii.stdout, 'pull\n└── prepare\n    ├── train\n    │   └── evaluate\n    └── evaluate');
  const mermaid = await p.run(['dag', '--mermaid']);
  assert.match(mermaid.stdout, /^flowchart TD\n\tnode1\["pull"\]\n/);
  assert.match(mermaid.stdout, /\tnode3-->node4/);
  const dot = await p.run(['dag', '--dot']);
  assert.match(dot.stdout, /"prepare" -> "train";/);
  const json = JSON.parse((await p.run(['dag', '--json'])).stdout);
  assert.deepEqual(
    json.nodes.map((n: { name: string }) => n.name),
    ['pull', 'prepare', 'train', 'evaluate'],
  );
  assert.equal(json.edges.length, 4);
  const sub = await p.run(['dag', 'train']);
  assert.equal(sub.stdout, 'pull\n└── prepare\n    └── train');
});
