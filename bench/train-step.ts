/**
 * The training step both train-compare.ts and train-profile.ts time: the train stage's model
 * (stages/lib/tf/train-loop.ts trainStep) on seeded random images in 4 rotating batches, augmented as the stage
 * augments them, Adam, seeded dropout; 3 warm-up steps already taken. Call after the backend is set up.
 */
export interface BenchTrainer {
  net: import('@tensorflow/tfjs-layers').LayersModel;
  images: Uint8Array;
  shape: { height: number; width: number; channels: number };
  lut: Float32Array;
  classes: number;
  oneStep(): void;
}

/** `eager`: on tfjs-node, the step op by op (train.run_eagerly: true) instead of as one TensorFlow graph. */
export async function benchTrainer(
  model: string,
  n: number,
  backend: 'node' | 'wasm' | 'cpu',
  eager = false,
): Promise<BenchTrainer> {
  const { buildModel, setDropoutStep } = await import('../stages/lib/tf/models.js');
  const { fillImages, fillOneHot, normalizationTable } = await import('../stages/lib/tf/augment.js');
  const { trainStep } = await import('../stages/lib/tf/train-loop.js');
  const { Mulberry32 } = await import('../stages/lib/common/prng.js');
  const { makeOptimizer } = await import('../stages/lib/tf/optimizer.js');
  const shape = { height: 32, width: 32, channels: 3 };
  const size = 32 * 32 * 3;
  const classes = 10;
  const rng = new Mulberry32(1);
  const images = Uint8Array.from({ length: n * 4 * size }, () => rng.int(256));
  const labels = Uint8Array.from({ length: n * 4 }, () => rng.int(classes));
  const lut = normalizationTable({ mean: [0.49, 0.48, 0.45], std: [0.25, 0.24, 0.26] });
  const net = buildModel(model as never, { ...shape, classes }, 1);
  const params = { optimizer: 'adam', lr: 1e-3, momentum: 0.9, weight_decay: 0, bn_frozen_scale: false } as const;
  const { optimizer } = await makeOptimizer(
    { ...params, bn_bias_lr_scale: 1, run_eagerly: eager },
    { name: backend },
    net,
  );
  const variables = net.trainableWeights.map((w) => w.read() as unknown as import('@tensorflow/tfjs-core').Variable);
  const xBuf = new Float32Array(n * size);
  const yBuf = new Float32Array(n * classes);
  let step = 0;
  const oneStep = () => {
    const start = (step % 4) * n;
    fillImages(xBuf, images, shape, lut, null, start, n, { rng, pad: 4, flip: true });
    fillOneHot(yBuf, labels, classes, null, start, n, 0);
    setDropoutStep(net, step++);
    trainStep(net, optimizer, variables, [], 0, xBuf, yBuf, n, shape, classes);
  };
  for (let i = 0; i < 3; i++) oneStep();
  return { net, images, shape, lut, classes, oneStep };
}
