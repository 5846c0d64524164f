/**
 * Training kernels for tfjs-node (the `tensorflow` backend): TensorFlow's own fused ops where tfjs
 * composes the gradient out of many small ones. Measured on the `fast` model (tf.profile, 2 threads):
 *
 * - ReLU's gradient. tfjs differentiates relu as `dy · step(x)`, and tfjs-node builds `step` from six
 *   full-size ops (IsNan, Greater, two Fills, two Selects): the largest single cost of a seed-model
 *   step after the convolutions. TensorFlow's `ReluGrad` is one pass, `dy · (x > 0)`, and gives the
 *   same bits (the product with 1 or 0, signed zeros included).
 * - Batch normalisation while training: `FusedBatchNormV3` forward (batch statistics, normalise,
 *   scale, shift in one op) and `FusedBatchNormGradV3` backward, the ops Keras runs, instead of the
 *   twelve-odd elementwise ops of stages/lib/tf/batch-norm-layer.ts's closed form.
 *
 * Nothing here imports tfjs-node: the kernels reach TensorFlow through the backend object tfjs hands
 * them (`executeSingleOutput` / `executeMultipleOutputs`, as tfjs-node's own kernels do). Other
 * backends keep tfjs' gradients bit for bit; BatchNorm asks `hasNodeBatchNorm()` which path to take.
 */
import * as tf from '@tensorflow/tfjs-core';

const RELU_GRAD = 'LockstepNodeReluGrad';
const BN_TRAIN = 'LockstepNodeFusedBatchNormTrain';
const BN_GRAD = 'LockstepNodeFusedBatchNormGrad';
const BACKEND = 'tensorflow';

/** The part of tfjs-node's NodeJSKernelBackend these kernels use. */
interface NodeBackend {
  binding: Record<'TF_FLOAT' | 'TF_ATTR_TYPE' | 'TF_ATTR_FLOAT' | 'TF_ATTR_STRING' | 'TF_ATTR_BOOL', number>;
  executeSingleOutput(name: string, attrs: OpAttr[], inputs: tf.TensorInfo[]): tf.TensorInfo;
  executeMultipleOutputs(name: string, attrs: OpAttr[], inputs: tf.TensorInfo[], outputs: number): tf.TensorInfo[];
}
interface OpAttr {
  name: string;
  type: number;
  value: number | string | boolean;
}

const floatType = (b: NodeBackend, name: string): OpAttr => ({
  name,
  type: b.binding.TF_ATTR_TYPE,
  value: b.binding.TF_FLOAT,
});

function batchNormAttrs(b: NodeBackend, epsilon: number): OpAttr[] {
  return [
    floatType(b, 'T'),
    floatType(b, 'U'),
    { name: 'epsilon', type: b.binding.TF_ATTR_FLOAT, value: epsilon },
    { name: 'data_format', type: b.binding.TF_ATTR_STRING, value: 'NHWC' },
    { name: 'is_training', type: b.binding.TF_ATTR_BOOL, value: true },
  ];
}

/** Registers the kernels and ReLU's gradient; call once tfjs-node's backend is active. */
export function registerNodeTrainingKernels(): void {
  if (tf.getKernel(RELU_GRAD, BACKEND)) return;
  tf.registerKernel({
    kernelName: RELU_GRAD,
    backendName: BACKEND,
    kernelFunc: ({ inputs, backend }) => {
      const b = backend as unknown as NodeBackend;
      return b.executeSingleOutput('ReluGrad', [floatType(b, 'T')], [inputs.dy!, inputs.x!]);
    },
  });
  tf.registerKernel({
    kernelName: BN_TRAIN,
    backendName: BACKEND,
    kernelFunc: ({ inputs, backend, attrs }) => {
      const b = backend as unknown as NodeBackend;
      // In training mode the op wants empty running statistics (it returns the batch's instead).
      const empty = tf.tensor1d([], 'float32');
      const out = b.executeMultipleOutputs(
        'FusedBatchNormV3',
        batchNormAttrs(b, attrs!.epsilon as number),
        [inputs.x!, inputs.scale!, inputs.offset!, empty, empty],
        6,
      );
      // y, batch mean, Bessel-corrected variance, then the reserve spaces: 3 = mean, 4 = biased variance.
      tf.dispose([empty, out[1], out[2]] as tf.Tensor[]);
      return [out[0]!, out[3]!, out[4]!, out[5]!];
    },
  });
  tf.registerKernel({
    kernelName: BN_GRAD,
    backendName: BACKEND,
    kernelFunc: ({ inputs, backend, attrs }) => {
      const b = backend as unknown as NodeBackend;
      const { dy, x, scale, mean, variance, reserve } = inputs;
      const out = b.executeMultipleOutputs(
        'FusedBatchNormGradV3',
        batchNormAttrs(b, attrs!.epsilon as number),
        [dy!, x!, scale!, mean!, variance!, reserve!],
        5,
      );
      // dx, dgamma, dbeta; the last two outputs are unused placeholders.
      tf.dispose(out.slice(3) as tf.Tensor[]);
      return out.slice(0, 3);
    },
  });
  tf.registerGradient({
    kernelName: 'Relu',
    inputsToSave: ['x'],
    gradFunc: (dy, saved) => {
      const [x] = saved as [tf.Tensor];
      const d = dy as tf.Tensor;
      return {
        x: () =>
          tf.getBackend() === BACKEND
            ? (tf.engine().runKernel(RELU_GRAD, { dy: d, x }) as tf.Tensor)
            : tf.mul(d, tf.cast(tf.step(x), 'float32')),
      };
    },
  });
}

/** True when the running backend has the fused batch-norm training kernels. */
export function hasNodeBatchNorm(): boolean {
  return tf.getBackend() === BACKEND && tf.getKernel(BN_TRAIN, BACKEND) !== undefined;
}

/**
 * Batch normalisation of a 4-D NHWC `x` with batch statistics, differentiable in x, gamma and beta;
 * also returns the batch mean and biased variance (for the moving averages; not differentiated).
 */
export function nodeBatchNormTrain(
  x: tf.Tensor4D,
  gamma: tf.Tensor1D,
  beta: tf.Tensor1D,
  epsilon: number,
): { y: tf.Tensor4D; mean: tf.Tensor1D; variance: tf.Tensor1D } {
  const stats: { mean?: tf.Tensor1D; variance?: tf.Tensor1D } = {};
  const attrs = { epsilon } as unknown as tf.NamedAttrMap;
  const normalize = tf.customGrad(((xs: tf.Tensor4D, g: tf.Tensor1D, b: tf.Tensor1D, save: tf.GradSaveFunc) => {
    const [y, mean, variance, reserve] = tf
      .engine()
      .runKernel(BN_TRAIN, { x: xs, scale: g, offset: b }, attrs) as tf.Tensor[];
    stats.mean = tf.keep(mean!.clone()) as tf.Tensor1D;
    stats.variance = tf.keep(variance!.clone()) as tf.Tensor1D;
    save([xs, g, mean!, variance!, reserve!]);
    return {
      value: y!,
      gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) => {
        const [sx, sg, sm, sv, sr] = saved;
        const d = Array.isArray(dy) ? dy[0]! : dy;
        return tf
          .engine()
          .runKernel(
            BN_GRAD,
            { dy: d, x: sx!, scale: sg!, mean: sm!, variance: sv!, reserve: sr! },
            attrs,
          ) as tf.Tensor[];
      },
    };
  }) as unknown as Parameters<typeof tf.customGrad>[0]);
  const y = normalize(x, gamma, beta) as tf.Tensor4D;
  return { y, mean: stats.mean!, variance: stats.variance! };
}
