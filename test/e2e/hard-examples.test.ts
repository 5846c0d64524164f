import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { tempProject } from '../helpers/project.js';
import { solidPng } from '../unit/hard-examples-fixtures.js';

/** execa's result fields are typed loosely; the CLI's output is text. */
const text = (x: unknown): string => String(x ?? '');

/** p_true of image a (a cat, always called dog) per seed; b and c are missed once each. */
const PREDICTIONS: Record<string, string> = {
  1:
    'a,data/img/cat/a.png,cat,dog,0.200000,0.800000,0.200000,0.800000\n' +
    'b,data/img/dog/b.png,dog,dog,0.900000,0.900000,0.100000,0.900000\n' +
    'c,data/img/cat/c.png,cat,dog,0.450000,0.550000,0.450000,0.550000\n',
  2:
    'a,data/img/cat/a.png,cat,dog,0.300000,0.700000,0.300000,0.700000\n' +
    'b,data/img/dog/b.png,dog,cat,0.400000,0.600000,0.600000,0.400000\n' +
    'c,data/img/cat/c.png,cat,cat,0.700000,0.700000,0.700000,0.300000\n',
  3:
    'a,data/img/cat/a.png,cat,dog,0.400000,0.600000,0.400000,0.600000\n' +
    'b,data/img/dog/b.png,dog,dog,0.800000,0.800000,0.200000,0.800000\n',
};
const HEAD = 'id,path,true_label,pred_label,p_true,p_pred,p_cat,p_dog\n';
const RED = solidPng([230, 20, 40]);

const PIPELINE = `stages:
  images:
    cmd: rm -rf data/img && mkdir -p data && cp -r img-src data/img
    deps: [img-src]
    outs: [data/img]
  evaluate:
    cmd: >-
      s=$(sed -n 's/^seed: *//p' params.yaml) && mkdir -p results &&
      cp preds/seed-$s.csv results/predictions.csv
    deps: [data/img, preds]
    params: [seed]
    outs: [results/predictions.csv]
`;

test('hard-examples over a real 3-seed sweep recorded by lockstep exp run', {
  timeout: 240_000,
}, async () => {
  const files: Record<string, string | Uint8Array> = {
    'pipeline.yaml': PIPELINE,
    'params.yaml': 'seed: 1\n',
    '.gitignore': '/results/hard_examples.*\n',
    'img-src/cat/a.png': RED,
    'img-src/dog/b.png': solidPng([20, 200, 40]),
    'img-src/cat/c.png': solidPng([20, 40, 200]),
  };
  for (const [seed, rows] of Object.entries(PREDICTIONS)) files[`preds/seed-${seed}.csv`] = HEAD + rows;
  const p = await tempProject(files);

  const none = await p.run(['hard-examples']);
  assert.equal(none.exitCode, 1, text(none.all));
  assert.equal(text(none.stderr), 'lockstep: no experiments recorded. Run lockstep exp run first.');

  const sweep = await p.run(['exp', 'run', '--seed', '1,2,3']);
  assert.equal(sweep.exitCode, 0, text(sweep.all));

  const r = await p.run(['hard-examples', '--by-class']);
  assert.equal(r.exitCode, 0, text(r.all));
  // a: 3/3 called dog; p_true .2 .3 .4 -> mean .3, population std sqrt(.02/3); margins -.6 -.4 -.2
  assert.equal(
    await p.read('results/hard_examples.csv'),
    'id,path,true_label,runs,misses,miss_rate,top_wrong_label,top_wrong_count,mean_p_true,std_p_true,mean_margin\n' +
      'a,data/img/cat/a.png,cat,3,3,1.000000,dog,3,0.300000,0.081650,-0.400000\n',
  );
  assert.match(text(r.stdout), /^1 hard example of 3 images seen by 3 experiments/);
  assert.match(text(r.stdout), /most common confusions: cat -> dog 1/);
  const html = await p.read('results/hard_examples.html');
  assert.ok(
    html.includes(`src="data:image/png;base64,${RED.toString('base64')}"`),
    'the image of a, read through the data/img directory out in the cache',
  );
  assert.ok(!(await p.exists('data/img')), 'the workspace never had the image: it came from the cache');

  // b: 1 miss in 3 runs, c: 1 in 2
  const json = JSON.parse(text((await p.run(['hard-examples', '--json', '--min-rate', '0.3'])).stdout));
  assert.deepEqual(
    json.hard.map((s: { id: string }) => s.id),
    ['a', 'c', 'b'],
  );
  assert.equal(json.runs.length, 3);

  // one experiment's predictions gone from the cache: named, lockstep pull suggested, nothing written
  const before = await p.read('results/hard_examples.csv');
  const md5 = createHash('md5')
    .update(HEAD + PREDICTIONS['2'])
    .digest('hex');
  await fs.rm(path.join(p.dir, '.cache', 'files', 'md5', md5.slice(0, 2), md5.slice(2)));
  const missing = await p.run(['hard-examples', '--min-rate', '0.5']);
  assert.equal(missing.exitCode, 1, text(missing.all));
  assert.match(
    text(missing.stderr),
    new RegExp(
      /^lockstep: results\/predictions.csv of experiment \S+ missing from the cache .* Run lockstep pull to /.source +
        /fetch it from the remote.$/.source,
    ),
  );
  assert.equal(await p.read('results/hard_examples.csv'), before);
});
