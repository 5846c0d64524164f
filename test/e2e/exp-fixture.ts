import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { tempProject, type TempProject } from '../helpers/project.js';
import { tempDir } from '../helpers/tmp.js';

/**
 * A two-stage shell pipeline: `upstream` (no params) and `train`, which reads seed/data from
 * params.yaml with sed and writes a metrics JSON; `data: v9` fails like an unknown partition. Stage runs
 * are counted in a folder outside the project, since experiments run in temporary workspaces.
 */
export function pipeline(counts: string, extraDep = ''): string {
  return `stages:
  upstream:
    cmd: echo x >> ${counts}/upstream && mkdir -p data && cat input.txt > data/base.txt
    deps: [input.txt${extraDep}]
    outs: [data/base.txt]
  train:
    cmd: |
      echo x >> ${counts}/train
      s=$(sed -n 's/^seed: *\\([^ #]*\\).*/\\1/p' params.yaml)
      d=$(sed -n 's/^data: *\\([^ #]*\\).*/\\1/p' params.yaml)
      if [ "$d" = v9 ]; then echo "unknown partition v9" >&2; exit 1; fi
      n=$(echo "$d" | tr + '\\n' | wc -l | tr -d ' ')
      mkdir -p metrics
      echo "{\\"acc\\": 0.$s, \\"parts\\": $n}" > metrics/eval.json
    deps: [data/base.txt]
    params: [seed, data, train.lr]
    metrics: [metrics/eval.json]
`;
}

export const PARAMS = '# knobs of the test pipeline\nseed: 42 # the seed\ndata: v1\ntrain:\n  lr: 0.1\n';

export async function setup(
  extraDep = '',
): Promise<{ p: TempProject; counts: string; count: (s: string) => Promise<number> }> {
  const counts = await tempDir('lockstep-exp-counts-');
  const p = await tempProject({
    'pipeline.yaml': pipeline(counts, extraDep),
    'params.yaml': PARAMS,
    'input.txt': 'hello\n',
    '.gitignore': '.cache/\n/data/\n/metrics/\n',
  });
  const count = async (s: string) =>
    (await fs.readFile(path.join(counts, s), 'utf8').catch(() => '')).split('\n').filter(Boolean).length;
  return { p, counts, count };
}

export interface ShownExp {
  name: string;
  state: string;
  params: Record<string, Record<string, unknown>>;
  metrics: Record<string, Record<string, unknown>>;
  error?: string;
}

/** The experiment rows of `exp show --json` (without the workspace and baseline rows). */
export async function showJson(p: TempProject): Promise<ShownExp[]> {
  const r = await p.run(['exp', 'show', '--json']);
  assert.equal(r.exitCode, 0, r.all);
  return (JSON.parse(r.stdout) as Array<ShownExp & { type: string }>).filter((e) => e.type === 'experiment');
}
