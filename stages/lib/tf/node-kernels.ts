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
 * - At inference, batch normalisation with its ReLU in one memory pass (oneDNN's fused batch norm with
 *   activation `Relu`, moving statistics) instead of `FusedBatchNorm` then `Relu` (inference-plan.ts), the
 *   same bits. Only where oneDNN is on; without it the plan runs the two ops.
 *
 * Nothing here imports tfjs-node: the kernels reach TensorFlow through the backend object tfjs hands
 * them (`executeSingleOutput` / `executeMultipleOutputs`, as tfjs-node's own kernels do). Other
 * backends keep tfjs' gradients bit for bit; BatchNorm asks `hasNodeBatchNorm()` which path to take.
 */
import * as tf from '@tensorflow/tfjs-core';

/** ReLU's gradient as TensorFlow's `ReluGrad` (inputs `dy`, `x`), registered by registerNodeTrainingKernels. */
export const RELU_GRAD = 'LockstepNodeReluGrad';
const BN_TRAIN = 'LockstepNodeFusedBatchNormTrain';
const BN_GRAD = 'LockstepNodeFusedBatchNormGrad';
const BN_RELU = 'LockstepNodeFusedBatchNormRelu';
/** tfjs-node's backend name. */
export const BACKEND = 'tensorflow';

/** The part of tfjs-node's NodeJSKernelBackend these kernels use. */
export interface NodeBackend {
  binding: Record<
    'TF_FLOAT' | 'TF_ATTR_TYPE' | 'TF_ATTR_FLOAT' | 'TF_ATTR_STRING' | 'TF_ATTR_BOOL' | 'TF_ATTR_INT' | 'TF_ATTR_SHAPE',
    number
  >;
  executeSingleOutput(name: string, attrs: OpAttr[], inputs: tf.TensorInfo[]): tf.TensorInfo;
  executeMultipleOutputs(name: string, attrs: OpAttr[], inputs: tf.TensorInfo[], outputs: number): tf.TensorInfo[];
}
export interface OpAttr {
  name: string;
  type: number;
  value: number | string | boolean | number[] | string[];
}

/** tfjs-node's backend object, to run TensorFlow ops by name; only while it is the active backend. */
export function nodeBackend(): NodeBackend {
  if (tf.getBackend() !== BACKEND) throw new Error(`tfjs-node's backend is not active (${tf.getBackend()} is)`);
  return tf.backend() as unknown as NodeBackend;
}

const floatType = (b: NodeBackend, name: string): OpAttr => ({
  name,
  type: b.binding.TF_ATTR_TYPE,
  value: b.binding.TF_FLOAT,
});

/**
 * Batch norm + ReLU at inference is oneDNN's `_MklNativeFusedBatchNormEx`: TensorFlow's `_FusedBatchNormEx` has
 * no CPU kernel with an activation (it fails, and tfjs-node hands back empty outputs), and the oneDNN kernel is
 * registered under the label its graph pass gives it, which an eager op sets as the `_kernel` attribute.
 */
function batchNormReluAttrs(b: NodeBackend, epsilon: number): OpAttr[] {
  return [
    ...batchNormAttrs(b, epsilon, false),
    { name: 'exponential_avg_factor', type: b.binding.TF_ATTR_FLOAT, value: 1 },
    { name: 'activation_mode', type: b.binding.TF_ATTR_STRING, value: 'Relu' },
    { name: 'num_side_inputs', type: b.binding.TF_ATTR_INT, value: 0 },
    oneDnnKernel(b),
  ];
}

/**
 * The attribute that picks a oneDNN kernel for an eager op: TensorFlow registers them under the label its graph
 * pass gives them (node-pool.ts and node-fused-conv.ts use it too).
 */
export function oneDnnKernel(b: NodeBackend): OpAttr {
  return { name: '_kernel', type: b.binding.TF_ATTR_STRING, value: 'MklNameChangeOp' };
}

/** Whether the fused op runs here: oneDNN on, and a libtensorflow that has the kernel (x86 builds do). */
let batchNormReluWorks = false;
function probeBatchNormRelu(): boolean {
  try {
    return tf.tidy(() => {
      const x = tf.tensor4d([-1, 2], [1, 1, 2, 1]);
      const one = tf.ones([1]) as tf.Tensor1D;
      const zero = tf.zeros([1]) as tf.Tensor1D;
      const y = tf.engine().runKernel(BN_RELU, { x, scale: one, offset: zero, mean: zero, variance: one }, {
        epsilon: 0,
      } as unknown as tf.NamedAttrMap) as tf.Tensor;
      const v = y.dataSync();
      return v.length === 2 && v[0] === 0 && v[1]! > 1.99 && v[1]! < 2.01;
    });
  } catch {
    return false;
  }
}

function batchNormAttrs(b: NodeBackend, epsilon: number, training = true): OpAttr[] {
  return [
    floatType(b, 'T'),
    floatType(b, 'U'),
    { name: 'epsilon', type: b.binding.TF_ATTR_FLOAT, value: epsilon },
    { name: 'data_format', type: b.binding.TF_ATTR_STRING, value: 'NHWC' },
    { name: 'is_training', type: b.binding.TF_ATTR_BOOL, value: training },
  ];
}

/**
 * Registers the kernels and ReLU's gradient; call once tfjs-node's backend is active. `oneDnn`: whether
 * libtensorflow runs its oneDNN kernels (TF_ENABLE_ONEDNN_OPTS); only then does inference use the fused
 * batch norm + ReLU, which is a oneDNN kernel (with oneDNN off the stages run TensorFlow's own kernels only).
 */
export function registerNodeTrainingKernels(oneDnn: boolean): void {
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
  tf.registerKernel({
    kernelName: BN_RELU,
    backendName: BACKEND,
    kernelFunc: ({ inputs, backend, attrs }) => {
      const b = backend as unknown as NodeBackend;
      const { x, scale, offset, mean, variance } = inputs;
      const out = b.executeMultipleOutputs(
        '_MklNativeFusedBatchNormEx',
        batchNormReluAttrs(b, attrs!.epsilon as number),
        [x!, scale!, offset!, mean!, variance!],
        6,
      );
      // y; the statistics and reserve spaces are unused at inference.
      tf.dispose(out.slice(1) as tf.Tensor[]);
      return out[0]!;
    },
  });
  batchNormReluWorks = oneDnn && probeBatchNormRelu();
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

/** True when the running backend has the inference kernel batch norm + ReLU. */
export function hasNodeBatchNormRelu(): boolean {
  return tf.getBackend() === BACKEND && batchNormReluWorks;
}

/** relu(batchNorm(x)) with given statistics (not differentiable: inference only), as one TensorFlow op. */
export function nodeBatchNormRelu(
  x: tf.Tensor4D,
  scale: tf.Tensor1D,
  offset: tf.Tensor1D,
  mean: tf.Tensor1D,
  variance: tf.Tensor1D,
  epsilon: number,
): tf.Tensor4D {
  const attrs = { epsilon } as unknown as tf.NamedAttrMap;
  return tf.engine().runKernel(BN_RELU, { x, scale, offset, mean, variance }, attrs) as tf.Tensor4D;
}

/** Constants that make a batch norm the identity, by channel count (made once, kept). */
const identityUnits = new Map<number, { scale: tf.Tensor1D; mean: tf.Tensor1D; variance: tf.Tensor1D }>();
/** ε of the identity batch norm: 1 - 2^-10 + 2^-10 is 1 in float32, and so is its reciprocal square root. */
const IDENTITY_EPSILON = 2 ** -10;

/**
 * relu(x + bias) over the last axis of an NHWC `x` as one op (not differentiable; see nodeBiasRelu): the batch norm
 * + ReLU op with the bias as its offset, scale 1, mean 0 and variance 1 - ε at ε = 2^-10, which make the
 * normalisation exactly the identity, so the result has the bits of the separate add and ReLU in one memory pass.
 */
export function nodeBiasReluForward(x: tf.Tensor4D, bias: tf.Tensor1D): tf.Tensor4D {
  const channels = bias.shape[0];
  let unit = identityUnits.get(channels);
  if (!unit) {
    unit = tf.tidy(() => ({
      scale: tf.keep(tf.ones([channels])) as tf.Tensor1D,
      mean: tf.keep(tf.zeros([channels])) as tf.Tensor1D,
      variance: tf.keep(tf.fill([channels], 1 - IDENTITY_EPSILON)) as tf.Tensor1D,
    }));
    identityUnits.set(channels, unit);
  }
  return nodeBatchNormRelu(x, unit.scale, bias, unit.mean, unit.variance, IDENTITY_EPSILON);
}

/**
 * relu(x + bias), differentiable, for training: the forward pass as nodeBiasReluForward, one op where tfjs runs
 * `Add` then `Relu`; the gradient as tfjs computes it for the pair (`ReluGrad`, on the output instead of the sum:
 * the same test, > 0), the bias's being its sum over N, H and W. Outputs and gradients have the bits of the pair.
 */
export function nodeBiasRelu(x: tf.Tensor4D, bias: tf.Tensor1D): tf.Tensor4D {
  const f = tf.customGrad(((z: tf.Tensor4D, b: tf.Tensor1D, save: tf.GradSaveFunc) => {
    const y = nodeBiasReluForward(z, b);
    markReluOutput(y);
    save([y]);
    return {
      value: y,
      gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) => {
        const d = Array.isArray(dy) ? dy[0]! : dy;
        // A gradient nodeMaxPool (node-pool.ts) masked is zero wherever the output is: ReluGrad would change nothing.
        const dz = isMaskedGradient(d)
          ? (d.clone() as tf.Tensor4D)
          : (tf.engine().runKernel(RELU_GRAD, { dy: d, x: saved[0]! }) as tf.Tensor4D);
        return [dz, tf.sum(dz, [0, 1, 2])];
      },
    };
  }) as unknown as Parameters<typeof tf.customGrad>[0]);
  return f(x, bias) as tf.Tensor4D;
}

/** Outputs of nodeBiasRelu (by data): ReLU outputs, never negative. */
const reluOutputs = new WeakSet<object>();
/** Gradients nodeMaxPool (node-pool.ts) handed back (by data), zero wherever the pooled ReLU output was. */
const maskedGradients = new WeakSet<object>();

/** Marks a gradient as zero wherever nodeBiasRelu's output is, so its ReluGrad is skipped (node-pool.ts). */
export function markMaskedGradient(g: tf.Tensor): void {
  maskedGradients.add(g.dataId);
}

/** True when nodeMaxPool masked `g` (see markMaskedGradient). */
export function isMaskedGradient(g: tf.Tensor): boolean {
  return maskedGradients.has(g.dataId);
}

/** Marks `y` as a ReLU output (never negative) for nodeMaxPool; node-fused-conv.ts' outputs are. */
export function markReluOutput(y: tf.Tensor): void {
  reluOutputs.add(y.dataId);
}

/** True when `x` is a ReLU output of nodeBiasRelu (what nodeMaxPool needs to mask its gradient). */
export function isNodeReluOutput(x: tf.Tensor): boolean {
  return reluOutputs.has(x.dataId);
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
