/**
 * A TensorFlow graph written from JavaScript: nodes by op name, inputs and attributes, serialised as a SavedModel
 * (`saved_model.pb` with one meta graph tagged `serve`, no variables) through the protobuf classes tfjs-node ships
 * for reading SavedModels (`@tensorflow/tfjs-node/dist/proto/api_pb.js`, google-protobuf). tfjs-node's binding
 * loads such a file into a TensorFlow session and runs it (`loadSavedModelMetaGraph` / `runSavedModel`), which is
 * how the training step runs as one graph (train-graph.ts, graph-optimizer.ts).
 */
import { createRequire } from 'node:module';

/** A tensor of the graph: `node:index`. */
export type Ref = string;

export type Attr =
  | { type: 'float32' | 'int32' | 'bool' }
  | { f: number }
  | { i: number }
  | { b: boolean }
  | { s: string }
  | { ints: number[] }
  | { shape: number[] }
  | { tensor: { dtype: 'float32' | 'int32'; shape: number[]; values: number[] } };

/** The type attributes the step's ops take. */
export const F32: { type: 'float32' } = { type: 'float32' };
export const I32: { type: 'int32' } = { type: 'int32' };

interface NodeSpec {
  name: string;
  op: string;
  inputs: Ref[];
  attrs: Record<string, Attr>;
}

export class Graph {
  private readonly nodes: NodeSpec[] = [];
  private readonly names = new Set<string>();

  /** Adds a node; returns its outputs (`outputs` of them). */
  node(op: string, inputs: Ref[], attrs: Record<string, Attr> = {}, name = op, outputs = 1): Ref[] {
    let unique = name;
    for (let n = 1; this.names.has(unique); n++) unique = `${name}_${n}`;
    this.names.add(unique);
    this.nodes.push({ name: unique, op, inputs, attrs });
    return Array.from({ length: outputs }, (_, i) => `${unique}:${i}`);
  }

  /** A node of one output. */
  op(op: string, inputs: Ref[], attrs: Record<string, Attr> = {}, name = op): Ref {
    return this.node(op, inputs, attrs, name)[0]!;
  }

  /** An op on float32 tensors (attribute T). */
  f(op: string, inputs: Ref[], attrs: Record<string, Attr> = {}, name = op): Ref {
    return this.op(op, inputs, { T: F32, ...attrs }, name);
  }

  placeholder(name: string, shape: number[], type: 'float32' | 'int32' = 'float32'): Ref {
    return this.op('Placeholder', [], { dtype: { type }, shape: { shape } }, name);
  }

  scalar(value: number, name = 'Const'): Ref {
    return this.constant('float32', [], [value], name);
  }

  ints(values: number[], name = 'Const'): Ref {
    return this.constant('int32', [values.length], values, name);
  }

  constant(dtype: 'float32' | 'int32', shape: number[], values: number[], name = 'Const'): Ref {
    return this.op('Const', [], { dtype: { type: dtype }, value: { tensor: { dtype, shape, values } } }, name);
  }

  get size(): number {
    return this.nodes.length;
  }

  /** The graph as a SavedModel's `saved_model.pb`. */
  savedModel(): Uint8Array {
    const pb = protos();
    const graph = new pb.GraphDef();
    for (const spec of this.nodes) {
      const node = new pb.NodeDef();
      node.setName(spec.name);
      node.setOp(spec.op);
      node.setInputList(spec.inputs.map((r) => (r.endsWith(':0') ? r.slice(0, -2) : r)));
      const map = node.getAttrMap();
      for (const [key, attr] of Object.entries(spec.attrs)) map.set(key, attrValue(pb, attr));
      graph.addNode(node);
    }
    const info = new pb.MetaGraphDef.MetaInfoDef();
    info.addTags('serve');
    const meta = new pb.MetaGraphDef();
    meta.setMetaInfoDef(info);
    meta.setGraphDef(graph);
    const model = new pb.SavedModel();
    model.setSavedModelSchemaVersion(1);
    model.addMetaGraphs(meta);
    return model.serializeBinary();
  }
}

// biome-ignore lint/suspicious/noExplicitAny: google-protobuf's generated classes come untyped
type Protos = any;
let loaded: Protos | undefined;

function protos(): Protos {
  if (!loaded) {
    const require = createRequire(import.meta.url);
    loaded = require('@tensorflow/tfjs-node/dist/proto/api_pb.js');
  }
  return loaded;
}

const DTYPES = { float32: 1, int32: 3, bool: 10 } as const;

function attrValue(pb: Protos, attr: Attr): unknown {
  const v = new pb.AttrValue();
  if ('type' in attr) v.setType(DTYPES[attr.type]);
  else if ('f' in attr) v.setF(attr.f);
  else if ('i' in attr) v.setI(attr.i);
  else if ('b' in attr) v.setB(attr.b);
  else if ('s' in attr) v.setS(new TextEncoder().encode(attr.s));
  else if ('ints' in attr) {
    const list = new pb.AttrValue.ListValue();
    list.setIList(attr.ints);
    v.setList(list);
  } else if ('shape' in attr) v.setShape(shape(pb, attr.shape));
  else {
    const t = new pb.Tensor();
    t.setDtype(DTYPES[attr.tensor.dtype]);
    t.setTensorShape(shape(pb, attr.tensor.shape));
    if (attr.tensor.dtype === 'float32') t.setFloatValList(attr.tensor.values);
    else t.setIntValList(attr.tensor.values);
    v.setTensor(t);
  }
  return v;
}

function shape(pb: Protos, dims: number[]): unknown {
  const s = new pb.TensorShape();
  s.setDimList(
    dims.map((size) => {
      const d = new pb.TensorShape.Dim();
      d.setSize(size);
      return d;
    }),
  );
  return s;
}
