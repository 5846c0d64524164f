/**
 * Multiplies its input by a constant: the `air` model's logits scale. A softmax head on 256 max-pooled ReLU
 * features starts with logits large enough to stall the first epoch (loss above ln 10 for hundreds of steps at a
 * one-cycle rate); David Page's ResNet-9 ("How to train your ResNet", 2018) scales the logits by 0.125 and Keller
 * Jordan's airbench by 1/9 for the same reason.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';

export class Scale extends tfl.layers.Layer {
  static className = 'LockstepScale';
  readonly factor: number;

  constructor(args: { factor: number; name?: string }) {
    super({ name: args.name });
    this.factor = args.factor;
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    const x = Array.isArray(inputs) ? inputs[0]! : inputs;
    return scaleBy(x, this.factor);
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), factor: this.factor };
  }
}
tf.serialization.registerClass(Scale);

/** The op both the layer and the inference plan run (so both give the same bits). */
export function scaleBy(x: tf.Tensor, factor: number): tf.Tensor {
  return tf.mul(x, tf.scalar(factor));
}
