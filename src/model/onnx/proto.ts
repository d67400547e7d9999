// onnx-proto is protobufjs code generated from onnx.proto; it is CommonJS with its namespace on a
// property Node cannot see statically, hence the require.
import { createRequire } from 'node:module';
import type { onnx as Onnx } from 'onnx-proto';

export const { onnx } = createRequire(import.meta.url)('onnx-proto') as { onnx: typeof Onnx };
export type { Onnx };

/**
 * The opset our converters write unless a layer needs a newer one (ReduceMean still takes `axes`
 * as an attribute in both): 13, or 17 where LayerNormalization is used.
 */
export const OPSET = 13;

/** The IR version each opset we write came with. */
export function irVersionFor(opset: number): number {
  return opset >= 17 ? 8 : 7;
}

export type AttributeValue = number | number[] | string | { floats: number[] };

export function attribute(name: string, value: AttributeValue): Onnx.IAttributeProto {
  const T = onnx.AttributeProto.AttributeType;
  if (typeof value === 'string') return { name, type: T.STRING, s: new TextEncoder().encode(value) };
  if (Array.isArray(value)) return { name, type: T.INTS, ints: value };
  if (typeof value === 'object') return { name, type: T.FLOATS, floats: value.floats };
  return Number.isInteger(value) ? { name, type: T.INT, i: value } : { name, type: T.FLOAT, f: value };
}

/** A float attribute that happens to hold an integer value (alpha = 1) must still be written as a float. */
export function floatAttribute(name: string, value: number): Onnx.IAttributeProto {
  return { name, type: onnx.AttributeProto.AttributeType.FLOAT, f: value };
}

export function floatTensor(name: string, dims: number[], values: Float32Array): Onnx.ITensorProto {
  const bytes = new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
  return { name, dims, dataType: onnx.TensorProto.DataType.FLOAT, rawData: bytes.slice() };
}

/** `dims` [] makes a scalar (a Gather index that drops its axis). */
export function int64Tensor(name: string, values: number[], dims: number[] = [values.length]): Onnx.ITensorProto {
  const data = new BigInt64Array(values.map((v) => BigInt(v)));
  return { name, dims, dataType: onnx.TensorProto.DataType.INT64, rawData: new Uint8Array(data.buffer) };
}

/** A tensor's shape with unknown dimensions (the batch, the tokens) left symbolic; float unless said. */
export function valueInfo(name: string, shape: (number | null)[], elemType: number = onnx.TensorProto.DataType.FLOAT): Onnx.IValueInfoProto {
  return {
    name,
    type: {
      tensorType: {
        elemType,
        shape: { dim: shape.map((d, i) => (d === null || d < 0 ? { dimParam: i === 0 ? 'batch' : `d${i}` } : { dimValue: d })) },
      },
    },
  };
}
