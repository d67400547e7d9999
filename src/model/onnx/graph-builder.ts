import { OPSET, attribute, floatAttribute, floatTensor, int64Tensor, type AttributeValue, type Onnx } from './proto.ts';

/** Accumulates an ONNX graph: nodes in order, weights as initializers, names made unique. */
export class GraphBuilder {
  readonly nodes: Onnx.INodeProto[] = [];
  readonly initializers: Onnx.ITensorProto[] = [];
  private readonly used = new Set<string>();
  private readonly shared = new Map<string, string>();
  /** The lowest opset every op added so far exists in. */
  opset = OPSET;

  /** Records that an op from `version` was used (LayerNormalization: 17). */
  needOpset(version: number): void {
    this.opset = Math.max(this.opset, version);
  }

  /** The tensor `key` names, made by `make` the first time: e.g. one attention bias for every block. */
  once(key: string, make: () => string): string {
    let name = this.shared.get(key);
    if (name === undefined) this.shared.set(key, (name = make()));
    return name;
  }

  /** A fresh tensor name derived from `base`. */
  name(base: string): string {
    let name = base;
    for (let i = 1; this.used.has(name); i++) name = `${base}_${i}`;
    this.used.add(name);
    return name;
  }

  weight(base: string, dims: number[], values: Float32Array): string {
    const name = this.name(base);
    this.initializers.push(floatTensor(name, dims, values));
    return name;
  }

  ints(base: string, values: number[]): string {
    const name = this.name(base);
    this.initializers.push(int64Tensor(name, values));
    return name;
  }

  /** An int64 scalar, e.g. a Gather index that drops the axis it picks from. */
  scalarInt(base: string, value: number): string {
    const name = this.name(base);
    this.initializers.push(int64Tensor(name, [value], []));
    return name;
  }

  scalar(base: string, value: number): string {
    return this.weight(base, [], Float32Array.of(value));
  }

  /** Adds a node with one output and returns that output's name. */
  op(type: string, inputs: string[], base: string, attrs: Record<string, AttributeValue> = {}, floats: Record<string, number> = {}): string {
    const output = this.name(base);
    this.nodes.push({
      opType: type,
      name: output,
      input: inputs,
      output: [output],
      attribute: [
        ...Object.entries(attrs).map(([k, v]) => attribute(k, v)),
        ...Object.entries(floats).map(([k, v]) => floatAttribute(k, v)),
      ],
    });
    return output;
  }

  /** NHWC (as tfjs holds images) to NCHW (what ONNX's Conv and pooling take), and back. */
  toNchw(x: string, base: string): string {
    return this.op('Transpose', [x], `${base}_nchw`, { perm: [0, 3, 1, 2] });
  }

  toNhwc(x: string, base: string): string {
    return this.op('Transpose', [x], base, { perm: [0, 2, 3, 1] });
  }
}
