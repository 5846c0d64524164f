/**
 * The configs of tf.layers' Conv2D and MaxPooling2D as the hand-run paths read them (the inference plan,
 * the fused training calls on tfjs-node): padding narrowed to what tf.conv2d / tf.maxPool take, the
 * dilation as a pair. Undefined when the padding is neither.
 */
import type * as tfl from '@tensorflow/tfjs-layers';

export interface ConvConfig {
  strides: [number, number];
  padding: 'same' | 'valid';
  dataFormat: string;
  dilation: [number, number];
  activation: string;
  useBias: boolean;
}

export interface PoolConfig {
  poolSize: [number, number];
  strides: [number, number];
  padding: 'same' | 'valid';
}

type Padded<T> = Omit<T, 'padding'> & { padding: string };

export function convConfig(layer: tfl.layers.Layer): ConvConfig | undefined {
  const c = layer.getConfig() as unknown as Padded<Omit<ConvConfig, 'dilation'>> & {
    dilationRate: number | [number, number];
  };
  if (c.padding !== 'same' && c.padding !== 'valid') return undefined;
  const d = c.dilationRate;
  return { ...c, padding: c.padding, dilation: Array.isArray(d) ? d : [d, d] };
}

/** A channels-last convolution without dilation: what the hand-run calls (tf.conv2d, the fused ops) cover. */
export const isPlain2d = (c: ConvConfig): boolean =>
  c.dataFormat === 'channelsLast' && c.dilation.every((d) => d === 1);

export function poolConfig(layer: tfl.layers.Layer): PoolConfig | undefined {
  const c = layer.getConfig() as unknown as Padded<PoolConfig>;
  return c.padding === 'same' || c.padding === 'valid' ? { ...c, padding: c.padding } : undefined;
}
