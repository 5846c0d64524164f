/**
 * The train stage's optimizer on tfjs-node when the step runs as one TensorFlow graph (train-graph.ts): it owns
 * the moments and runs whole steps (`runStep`), loading the step's graph into a TensorFlow session through
 * tfjs-node's SavedModel calls. The model's variables stay the source of truth: each step reads them and assigns
 * the graph's new values back (no copy: a variable takes the output's buffer), so validation, Lookahead and
 * checkpoints see the weights as on the eager path. getWeights/setWeights speak tfjs' formats (`iter`, then every
 * `<weight>/m` and every `<weight>/v` for Adam; every `<weight>/momentum` for SGD), so checkpoints keep their layout.
 *
 * The same params give the same bits on every run: the graph is the same, each op's result does not depend on
 * which other ops run beside it, and the batch, masks and scalars come from the same seeded streams as before.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { nodeBackend } from '../node-kernels.js';
import { compileStep, type StepGraph, type StepOptions } from './train-graph.js';

type NamedTensor = { name: string; tensor: tf.Tensor };

/** tfjs-node's SavedModel calls on its backend object. */
interface SessionBackend {
  loadSavedModelMetaGraph(dir: string, tags: string): number;
  runSavedModel(id: number, inputs: tf.Tensor[], infos: { name: string }[], outputs: string[]): tf.Tensor[];
  deleteSavedModel(id: number): void;
}

const BETA1 = 0.9;
const BETA2 = 0.999;

/**
 * Whether the optimizer runs whole steps. (Not `instanceof`: tfjs' Optimizer answers `instanceof` for any object
 * with minimize, computeGradients and applyGradients, so every optimizer would be a GraphOptimizer.)
 */
export function isGraphOptimizer(o: tf.Optimizer): o is GraphOptimizer {
  return typeof (o as unknown as Partial<GraphOptimizer>).runStep === 'function';
}

export class GraphOptimizer extends tf.Optimizer {
  static get className(): string {
    return 'GraphStep';
  }

  learningRate: number;
  private readonly step: StepGraph;
  private readonly session: SessionBackend;
  private readonly id: number;
  private readonly infos: { name: string }[];
  /** Moments per trained weight ([slot][weight]), kept; zeros until the first step unless setWeights gave some. */
  private moments: tf.Tensor[][];
  private exported: tf.Tensor[] = [];

  /**
   * Compiles the model's step and loads it into a TensorFlow session; a reason instead when the graph does not
   * cover the model or TensorFlow does not take it (an op its libtensorflow lacks, say). `tamper` (tests only)
   * changes the SavedModel's bytes before they are loaded.
   */
  static create(
    model: tfl.LayersModel,
    options: StepOptions,
    learningRate: number,
    tamper?: (savedModel: Uint8Array) => Uint8Array,
  ): GraphOptimizer | { reason: string } {
    const step = compileStep(model, options);
    if ('reason' in step) return step;
    if (tamper) step.savedModel = tamper(step.savedModel);
    try {
      return new GraphOptimizer(model, options, step, learningRate);
    } catch (e) {
      const message = (e instanceof Error ? e.message : String(e)).split('\n')[0]!;
      return { reason: `TensorFlow did not load the step's graph: ${message}` };
    }
  }

  private constructor(
    private readonly model: tfl.LayersModel,
    private readonly options: StepOptions,
    step: StepGraph,
    learningRate: number,
  ) {
    super();
    this.learningRate = learningRate;
    this.step = step;
    this.session = nodeBackend() as unknown as SessionBackend;
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lockstep-step-'));
    try {
      fs.writeFileSync(path.join(dir, 'saved_model.pb'), step.savedModel);
      this.id = this.session.loadSavedModelMetaGraph(dir, 'serve');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
    this.infos = step.inputs.map((name) => ({ name }));
    this.moments = this.zeros();
  }

  /** One step on a filled batch: the weights and moments move on; returns the loss and the correct count. */
  runStep(
    xData: Float32Array,
    yData: Float32Array,
    n: number,
    imageShape: number[],
    classes: number,
  ): [number, number] {
    const weights = this.model.weights.map((w) => w.read());
    const t = this.iterations + 1;
    const outs = tf.tidy(() => {
      const x = tf.tensor(xData, [n, ...imageShape]);
      const y = tf.tensor2d(yData, [n, classes]);
      const masks = this.step.dropouts.map((d) => d.mask([n, ...(d.outputShape as number[]).slice(1)]));
      const scalars =
        this.options.optimizer === 'adam'
          ? [
              (this.learningRate * Math.sqrt(1 - BETA2 ** t)) / (1 - BETA1 ** t),
              this.options.epsilon * Math.sqrt(1 - BETA2 ** t),
            ]
          : [-this.learningRate];
      const inputs = [
        ...weights,
        ...this.moments.flat(),
        x,
        y,
        ...masks,
        tf.scalar(-1 / n),
        ...scalars.map((s) => tf.scalar(s)),
      ];
      return this.session.runSavedModel(this.id, inputs, this.infos, this.step.outputs);
    });
    const u = this.step.updated.length;
    this.step.updated.forEach((k, j) => {
      (weights[k] as tf.Variable).assign(outs[j]!);
      outs[j]!.dispose();
    });
    const per = this.options.trained.length;
    tf.dispose(this.moments.flat());
    this.moments = Array.from({ length: this.step.slots }, (_, s) => outs.slice(u + s * per, u + (s + 1) * per));
    const [loss, hits] = outs.slice(-2) as [tf.Tensor, tf.Tensor];
    const result: [number, number] = [loss.dataSync()[0]!, hits.dataSync()[0]!];
    tf.dispose([loss, hits]);
    this.incrementIterations();
    return result;
  }

  override applyGradients(): void {
    throw new Error('GraphOptimizer runs whole steps (runStep), not gradients');
  }

  override async getWeights(): Promise<NamedTensor[]> {
    tf.dispose(this.exported);
    this.exported = this.moments.flat().map((m) => tf.keep(m.clone()));
    const names = this.slotNames();
    return [await this.saveIterations(), ...this.exported.map((tensor, i) => ({ name: names[i]!, tensor }))];
  }

  override async setWeights(weightValues: NamedTensor[]): Promise<void> {
    const moments = await this.extractIterations(weightValues);
    const per = this.options.trained.length;
    if (moments.length !== this.step.slots * per)
      throw new Error(`the optimizer state holds ${moments.length} moments for ${per} weights`);
    tf.dispose(this.moments.flat());
    this.moments = Array.from({ length: this.step.slots }, (_, s) =>
      moments.slice(s * per, (s + 1) * per).map((w) => tf.keep(w.tensor.clone())),
    );
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { learningRate: this.learningRate, optimizer: this.options.optimizer, momentum: this.options.momentum };
  }

  override dispose(): void {
    this.session.deleteSavedModel(this.id);
    tf.dispose([...this.moments.flat(), ...this.exported]);
    this.moments = [];
    this.exported = [];
    super.dispose();
  }

  /** How many nodes the step's graph has (for the stage's log). */
  get nodes(): number {
    return this.step.nodes;
  }

  private zeros(): tf.Tensor[][] {
    const shapes = new Map(this.model.weights.map((w) => [w.name, w.shape as number[]]));
    return Array.from({ length: this.step.slots }, () =>
      this.options.trained.map((name) => tf.keep(tf.zeros(shapes.get(name)!))),
    );
  }

  private slotNames(): string[] {
    const suffixes = this.options.optimizer === 'adam' ? ['m', 'v'] : ['momentum'];
    return suffixes.flatMap((s) => this.options.trained.map((name) => `${name}/${s}`));
  }
}
