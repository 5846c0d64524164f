import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { StageDef } from '../../src/config/types.js';
import { buildGraph, isAtOrBelow } from '../../src/pipeline/graph.js';
import { defaultReproTargets, planRepro, selectStages } from '../../src/pipeline/plan.js';

function stage(name: string, deps: string[], outs: string[], extra: Partial<StageDef> = {}): StageDef {
  return {
    name,
    cmd: [`echo ${name}`],
    wdir: '.',
    deps: deps.map((path) => ({ path })),
    params: [],
    outs: outs.map((path) => ({ path, kind: 'outs' as const, cache: true, persist: false, push: true })),
    frozen: false,
    alwaysChanged: false,
    pos: { file: 'pipeline.yaml', line: 1, col: 1 },
    ...extra,
  };
}

test('edges connect an output to deps at, below and above its path', () => {
  const g = buildGraph([
    stage('evaluate', ['models/model', 'data/prepared/test.bin'], ['metrics.json']),
    stage('prepare', ['data/raw/cat'], ['data/prepared']),
    stage('pull', [], ['data/raw']),
    stage('train', ['data'], ['models']),
  ]);
  assert.ok(g.ok);
  const { upstream, order } = g.value;
  assert.deepEqual([...upstream.get('prepare')!], ['pull']); // dep below the output
  assert.deepEqual([...upstream.get('train')!].sort(), ['prepare', 'pull']); // dep above the outputs
  assert.deepEqual([...upstream.get('evaluate')!].sort(), ['prepare', 'train']);
  assert.deepEqual(order, ['pull', 'prepare', 'train', 'evaluate']);
});

test('a cycle is named with its stages in order', () => {
  const g = buildGraph([
    stage('a', ['c.txt'], ['a.txt']),
    stage('b', ['a.txt'], ['b.txt']),
    stage('c', ['b.txt'], ['c.txt']),
    stage('d', [], ['d.txt']),
  ]);
  assert.equal(g.ok, false);
  if (!g.ok) {
    assert.equal(g.error.reason, 'cycle');
    assert.match(g.error.message, /^the pipeline has a cycle: (a -> b -> c -> a|b -> c -> a -> b|c -> a -> b -> c)$/);
  }
});

test('isAtOrBelow does not confuse siblings sharing a prefix', () => {
  assert.equal(isAtOrBelow('data/raw2', 'data/raw'), false);
  assert.equal(isAtOrBelow('data/raw/x', 'data/raw'), true);
  assert.equal(isAtOrBelow('data', 'data'), true);
});

test('selection: upstream by default, --single-item, --downstream, groups and unknown names', () => {
  const g = buildGraph([
    stage('a', [], ['a']),
    stage('b@1', ['a'], ['b1']),
    stage('b@2', ['a'], ['b2']),
    stage('c', ['b1'], ['c']),
  ]);
  assert.ok(g.ok);
  const sel = (targets: string[], singleItem = false, downstream = false) =>
    selectStages(g.value, { targets, singleItem, downstream });
  assert.deepEqual(sel(['c']), { ok: true, value: ['a', 'b@1', 'c'] });
  assert.deepEqual(sel(['c'], true), { ok: true, value: ['c'] });
  assert.deepEqual(sel(['a'], true, true), { ok: true, value: ['a', 'b@1', 'b@2', 'c'] });
  // --downstream (as in DVC) leaves out the targets' upstream stages
  assert.deepEqual(sel(['b@1'], false, true), { ok: true, value: ['b@1', 'c'] });
  const group = sel(['bb']);
  if (!group.ok) assert.match(group.error.hint ?? '', /^Did you mean 'b'\?/);
  assert.deepEqual(sel(['b']), { ok: true, value: ['a', 'b@1', 'b@2'] });
  assert.deepEqual(sel(['pipeline.yaml:c'], true), { ok: true, value: ['c'] });
  const bad = sel(['cc']);
  assert.equal(bad.ok, false);
  if (!bad.ok)
    assert.equal(
      `${bad.error.message} ${bad.error.hint}`,
      "no stage named 'cc' Did you mean 'c'? Stages: a, b@1, b@2, c.",
    );
});

test('plan: stale stages run, downstream is planned via upstream, frozen never runs, force runs fresh ones', () => {
  const g = buildGraph([
    stage('a', [], ['a']),
    stage('b', ['a'], ['b']),
    stage('c', ['b'], ['c'], { frozen: true }),
    stage('d', [], ['d']),
  ]);
  assert.ok(g.ok);
  const own = new Map([['a', [{ kind: 'dep-changed' as const, path: 'x' }]]]);
  const plan = planRepro(g.value, g.value.order, own, { force: false });
  assert.deepEqual(
    plan.map((p) => [p.stage, p.action]),
    [
      ['a', 'run'],
      ['d', 'skip'],
      ['b', 'run'],
      ['c', 'frozen'],
    ].sort((x, y) => g.value.order.indexOf(x[0]!) - g.value.order.indexOf(y[0]!)),
  );
  assert.deepEqual(plan.find((p) => p.stage === 'b')!.reasons, [{ kind: 'upstream', stage: 'a' }]);
  const forced = planRepro(g.value, ['d'], new Map(), { force: true });
  assert.deepEqual(forced, [{ stage: 'd', action: 'run', reasons: [{ kind: 'forced' }] }]);
});

test('targets across pipeline files: addresses, a whole file, cwd-relative names, repro defaults (DVC rules)', () => {
  const at = (file: string) => ({ pos: { file, line: 1, col: 1 } });
  const g = buildGraph([
    stage('report', ['sub/out.txt'], ['report.txt'], at('dvc.yaml')),
    stage('sub/dvc.yaml:make', ['sub/in.txt'], ['sub/out.txt'], at('sub/dvc.yaml')),
    stage('sub/dvc.yaml:alone', [], ['sub/alone.txt'], at('sub/dvc.yaml')),
    stage('lib/dvc.yaml:gen@1', [], ['lib/g1'], at('lib/dvc.yaml')),
    stage('lib/dvc.yaml:gen@2', [], ['lib/g2'], at('lib/dvc.yaml')),
  ]);
  assert.ok(g.ok);
  const sel = (targets: string[], cwd = '.') => {
    const r = selectStages(g.value, { targets, singleItem: true, downstream: false, cwd });
    return r.ok ? r.value : r.error.message;
  };
  assert.deepEqual(sel(['report']), ['report']);
  assert.deepEqual(sel(['dvc.yaml:report']), ['report']);
  assert.deepEqual(sel(['sub/dvc.yaml:make']), ['sub/dvc.yaml:make']);
  assert.deepEqual(sel(['./sub/dvc.yaml']), ['sub/dvc.yaml:make', 'sub/dvc.yaml:alone']);
  assert.deepEqual(sel(['lib/dvc.yaml:gen']), ['lib/dvc.yaml:gen@1', 'lib/dvc.yaml:gen@2']);
  assert.equal(sel(['make']), "no stage named 'make'");
  // from inside sub/: plain names are sub/dvc.yaml's, other files are reached relative to it
  assert.deepEqual(sel(['make'], 'sub'), ['sub/dvc.yaml:make']);
  assert.deepEqual(sel(['dvc.yaml:alone'], 'sub'), ['sub/dvc.yaml:alone']);
  assert.deepEqual(sel(['../dvc.yaml:report'], 'sub'), ['report']);
  assert.equal(sel(['report'], 'sub'), "no stage named 'sub/dvc.yaml:report'");
  assert.deepEqual(defaultReproTargets(g.value, '.'), ['report']);
  assert.deepEqual(defaultReproTargets(g.value, 'sub'), ['sub/dvc.yaml:make', 'sub/dvc.yaml:alone']);
  assert.deepEqual(defaultReproTargets(g.value, 'elsewhere'), []);
});
