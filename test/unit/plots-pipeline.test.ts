import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadPipeline } from '../../src/config/index.js';
import { collectDefinitions } from '../../src/plots/definitions.js';
import { REPO_ROOT } from '../helpers/project.js';

test('the CIFAR-10 pipeline declares what `plots show` draws with no options', async () => {
  const pipeline = await loadPipeline(REPO_ROOT);
  const defs = await collectDefinitions(pipeline, async () => null);
  const summary = defs.map((d) => [d.id, d.kind, d.props.template ?? 'linear', d.props.x_label, d.props.y_label]);
  assert.deepEqual(summary, [
    ['plots/train.json', 'vega', 'linear', 'epoch', 'cross-entropy loss'],
    ['plots/per_class.json', 'vega', 'bar_horizontal_sorted', 'F1', 'class'],
    ['accuracy', 'vega', 'linear', 'epoch', 'accuracy'],
    ['learning_rate', 'vega', 'simple', 'epoch', 'learning rate'],
    ['confusion', 'vega', 'confusion', 'true class', 'predicted class'],
    ['confusion_normalized', 'vega', 'confusion_normalized', 'true class', 'predicted class'],
    ['precision', 'vega', 'bar_horizontal_sorted', undefined, undefined],
    ['recall', 'vega', 'bar_horizontal_sorted', undefined, undefined],
    ['results/confusion.png', 'image', 'linear', undefined, undefined],
    ['results/samples.png', 'image', 'linear', undefined, undefined],
  ]);
  const loss = defs[0];
  assert.deepEqual(loss?.sources, [{ file: 'plots/train.json', x: 'epoch', y: ['loss', 'val_loss'] }]);
  assert.deepEqual(defs.find((d) => d.id === 'confusion')?.sources, [
    { file: 'results/predictions.csv', x: 'true_label', y: ['pred_label'] },
  ]);
});
