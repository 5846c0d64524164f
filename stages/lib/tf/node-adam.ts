/**
 * Adam on tfjs-node as TensorFlow's fused `ResourceApplyAdam`: one op per variable a step, where tfjs' Adam runs
 * about fourteen full-size elementwise ops per variable, each a kernel call and a memory pass, mostly on one
 * thread (~10 ms wall and CPU per seed-model step, of ~130 ms on a quiet machine; 114 of the step's 239 kernel
 * calls). The moments live in TensorFlow resource variables; the weights stay
 * tfjs variables (the source of truth: each step assigns a weight to its resource, updates it there and reads it
 * back, which costs a copy and no full-size arithmetic).
 *
 * The update is tfjs' Adam, `w -= lr · m̂ / (√v̂ + ε)` with bias-corrected moments, in TensorFlow's form
 * `w -= α · m / (√v + ε')` with `α = lr · √(1 - β2^t) / (1 - β1^t)` and `ε' = ε · √(1 - β2^t)`: the same
 * update in other float rounding. The powers β^t are computed from the step count, so a run resumed from a
 * checkpoint continues with the same bits as one that never stopped. getWeights/setWeights speak tfjs Adam's
 * format (`iter`, then every `<weight>/m`, then every `<weight>/v`), so checkpoints keep their layout.
 */
import * as tf from '@tensorflow/tfjs-core';
import { nodeBackend, type NodeBackend, type OpAttr } from './node-kernels.js';

/** A tensor with its name (what tfjs' optimizers trade in getWeights/setWeights). */
type NamedTensor = { name: string; tensor: tf.Tensor };

interface Slot {
  /** The weight's name (its moments are saved as `<name>/m` and `<name>/v`). */
  name: string;
  /** Resource handles: the weight's working copy and its two moments. */
  weight: tf.Tensor;
  m: tf.Tensor;
  v: tf.Tensor;
}

let handles = 0;

export class NodeAdam extends tf.Optimizer {
  static get className(): string {
    return 'Adam';
  }

  learningRate: number;
  readonly beta1 = 0.9;
  readonly beta2 = 0.999;
  readonly epsilon: number;
  private readonly b: NodeBackend;
  private slots: Slot[] = [];
  /** Moments from setWeights ([every m, every v], kept), loaded into the resources at the next step. */
  private pending: NamedTensor[] | undefined;
  /** The tensors the last getWeights handed out (owned here, as tfjs' Adam owns its moments). */
  private exported: tf.Tensor[] = [];

  constructor(learningRate: number) {
    super();
    this.learningRate = learningRate;
    this.b = nodeBackend();
    this.epsilon = tf.backend().epsilon();
  }

  override applyGradients(variableGradients: tf.NamedTensorMap | NamedTensor[]): void {
    const grads = Array.isArray(variableGradients)
      ? variableGradients
      : Object.keys(variableGradients).map((name) => ({ name, tensor: variableGradients[name]! }));
    if (this.slots.length === 0) this.slots = this.makeSlots(grads.map((g) => g.name));
    const t = this.iterations + 1;
    tf.tidy(() => {
      const scalars = [
        this.beta1 ** t,
        this.beta2 ** t,
        this.learningRate,
        this.beta1,
        this.beta2,
        this.epsilon * Math.sqrt(1 - this.beta2 ** t),
      ].map((x) => tf.scalar(x));
      grads.forEach(({ name, tensor: grad }, i) => {
        if (grad == null) return;
        const value = tf.engine().registeredVariables[name]!;
        const slot = this.slots[i]!;
        this.exec('AssignVariableOp', [this.type('dtype'), this.bool('validate_shape', false)], [slot.weight, value]);
        this.exec(
          'ResourceApplyAdam',
          [this.type('T'), this.bool('use_locking', false), this.bool('use_nesterov', false)],
          [slot.weight, slot.m, slot.v, ...scalars, grad],
        );
        value.assign(this.read(slot.weight));
      });
    });
    this.incrementIterations();
  }

  override async getWeights(): Promise<NamedTensor[]> {
    if (this.slots.length === 0) return [await this.saveIterations(), ...(this.pending ?? [])];
    tf.dispose(this.exported);
    this.exported = tf.tidy(() => [...this.slots.map((s) => this.read(s.m)), ...this.slots.map((s) => this.read(s.v))]);
    for (const t of this.exported) tf.keep(t);
    const n = this.slots.length;
    const moments = this.exported.map((tensor, i) => ({
      name: `${this.slots[i % n]!.name}/${i < n ? 'm' : 'v'}`,
      tensor,
    }));
    return [await this.saveIterations(), ...moments];
  }

  override async setWeights(weightValues: NamedTensor[]): Promise<void> {
    const moments = await this.extractIterations(weightValues);
    this.destroySlots();
    this.disposePending();
    this.pending = moments.map((w) => ({ name: w.name, tensor: tf.keep(w.tensor.clone()) }));
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { learningRate: this.learningRate, beta1: this.beta1, beta2: this.beta2, epsilon: this.epsilon };
  }

  override dispose(): void {
    this.destroySlots();
    this.disposePending();
    tf.dispose(this.exported);
    super.dispose();
  }

  private disposePending(): void {
    if (this.pending) tf.dispose(this.pending.map((w) => w.tensor));
    this.pending = undefined;
  }

  /** One slot per weight, with the moments setWeights gave (by position, as tfjs' Adam) or zeros. */
  private makeSlots(names: string[]): Slot[] {
    const n = names.length;
    const moments = this.pending;
    if (moments && moments.length !== 2 * n)
      throw new Error(`the Adam state holds ${moments.length / 2} moments for ${n} weights`);
    const slots = names.map((name, i) => {
      const shape = tf.engine().registeredVariables[name]!.shape;
      const slot = { name, weight: this.handle(shape), m: this.handle(shape), v: this.handle(shape) };
      tf.tidy(() => {
        const zeros = tf.zeros(shape);
        const assign = [this.type('dtype'), this.bool('validate_shape', false)];
        this.exec('AssignVariableOp', assign, [slot.m, moments?.[i]?.tensor ?? zeros]);
        this.exec('AssignVariableOp', assign, [slot.v, moments?.[n + i]?.tensor ?? zeros]);
      });
      return slot;
    });
    this.disposePending();
    return slots;
  }

  private destroySlots(): void {
    for (const s of this.slots)
      for (const h of [s.weight, s.m, s.v]) {
        this.exec('DestroyResourceOp', [this.bool('ignore_lookup_error', true)], [h]);
        h.dispose();
      }
    this.slots = [];
  }

  /** A new resource variable (unique name: handles of one name share their variable). */
  private handle(shape: number[]): tf.Tensor {
    const { binding } = this.b;
    return tf.keep(
      this.b.executeSingleOutput(
        'VarHandleOp',
        [
          { name: 'container', type: binding.TF_ATTR_STRING, value: '' },
          { name: 'shared_name', type: binding.TF_ATTR_STRING, value: `lockstep-adam-${handles++}` },
          this.type('dtype'),
          { name: 'shape', type: binding.TF_ATTR_SHAPE, value: shape },
        ],
        [],
      ) as tf.Tensor,
    );
  }

  private read(handle: tf.Tensor): tf.Tensor {
    return this.b.executeSingleOutput('ReadVariableOp', [this.type('dtype')], [handle]) as tf.Tensor;
  }

  private exec(op: string, attrs: OpAttr[], inputs: tf.Tensor[]): void {
    this.b.executeMultipleOutputs(op, attrs, inputs, 0);
  }

  private type(name: string): OpAttr {
    return { name, type: this.b.binding.TF_ATTR_TYPE, value: this.b.binding.TF_FLOAT };
  }

  private bool(name: string, value: boolean): OpAttr {
    return { name, type: this.b.binding.TF_ATTR_BOOL, value };
  }
}
