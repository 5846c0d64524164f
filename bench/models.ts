/**
 * The CNNs the train stage builds (seed, bn, vgg), rebuilt here so the kernel tests and the
 * throughput benchmark exercise exactly the kernels training runs. The train stage owns the real
 * definitions in stages/lib/tf/models.ts; these follow issue 3's description of them.
 */
import * as tf from '@tensorflow/tfjs';

export type ModelName = 'seed' | 'bn' | 'vgg';
export const MODEL_NAMES: readonly ModelName[] = ['seed', 'bn', 'vgg'];

export interface ModelOptions {
  inputShape: [number, number, number];
  classes?: number;
  /** Seeds the dropout masks and initialisers, so two backends see the same network. */
  seed?: number;
}

/** Training FLOPs per image (forward + both backward GEMMs, 2 FLOP per multiply-add), for GFLOP/s figures. */
export function trainFlopsPerImage(model: tf.LayersModel): number {
  let macs = 0;
  for (const layer of model.layers) {
    const cfg = layer.getConfig();
    const out = layer.outputShape as number[];
    if (layer.getClassName() === 'Conv2D') {
      const k = cfg['kernelSize'] as number[];
      const inC = (layer.input as tf.SymbolicTensor).shape[3]!;
      macs += out[1]! * out[2]! * out[3]! * k[0]! * k[1]! * inC;
    } else if (layer.getClassName() === 'Dense') {
      const inF = (layer.input as tf.SymbolicTensor).shape[1]!;
      macs += inF * out[1]!;
    }
  }
  return macs * 2 * 3;
}

export function buildModel(name: ModelName, opts: ModelOptions): tf.Sequential {
  const seed = opts.seed ?? 1;
  const init = (i: number) => tf.initializers.glorotUniform({ seed: seed * 100 + i });
  const classes = opts.classes ?? 10;
  const m = tf.sequential();
  let layerNo = 0;
  const bn = name !== 'seed';
  const conv = (filters: number, first: boolean) => {
    const common = { filters, kernelSize: 3, padding: 'same' as const, kernelInitializer: init(layerNo++) };
    const shape = first ? { inputShape: opts.inputShape } : {};
    if (bn) {
      m.add(tf.layers.conv2d({ ...common, ...shape, useBias: false }));
      m.add(tf.layers.batchNormalization());
      m.add(tf.layers.activation({ activation: 'relu' }));
    } else {
      m.add(tf.layers.conv2d({ ...common, ...shape, activation: 'relu' }));
    }
  };
  const blocks = name === 'vgg' ? [64, 128, 256] : [32, 64, 128];
  blocks.forEach((filters, i) => {
    conv(filters, i === 0);
    if (name === 'vgg') conv(filters, false);
    m.add(tf.layers.maxPooling2d({ poolSize: 2 }));
    if (name === 'vgg') m.add(tf.layers.dropout({ rate: 0.1 * (i + 2), seed: seed + i }));
  });
  m.add(tf.layers.flatten());
  if (bn) {
    m.add(tf.layers.dense({ units: 256, useBias: false, kernelInitializer: init(layerNo++) }));
    m.add(tf.layers.batchNormalization());
    m.add(tf.layers.activation({ activation: 'relu' }));
  } else {
    m.add(tf.layers.dense({ units: 256, activation: 'relu', kernelInitializer: init(layerNo++) }));
  }
  m.add(tf.layers.dropout({ rate: 0.5, seed: seed + 10 }));
  m.add(tf.layers.dense({ units: classes, activation: 'softmax', kernelInitializer: init(layerNo++) }));
  return m;
}
