import { attribute, floatAttribute, floatTensor, int64Tensor, type AttributeValue, type Onnx } from './proto.ts';

/** Accumulates an ONNX graph: nodes in order, weights as initializers, names made unique. */
export class GraphBuilder {
  readonly nodes: Onnx.INodeProto[] = [];
  readonly initializers: Onnx.ITensorProto[] = [];
  private readonly used = new Set<string>();

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
