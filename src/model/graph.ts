import type * as TF from '@tensorflow/tfjs';
import type { Tf } from '../engine/backends.ts';
import { ModelError } from '../errors.ts';

/** One call of a layer in a functional graph: what tfjs calls an inbound node. */
export interface GraphStep {
  layer: TF.layers.Layer;
  inputs: TF.SymbolicTensor[];
  outputs: TF.SymbolicTensor[];
}

interface TfNode {
  inputTensors: TF.SymbolicTensor[];
  outputTensors: TF.SymbolicTensor[];
}

function nodeOf(t: TF.SymbolicTensor): TfNode {
  return (t.sourceLayer as unknown as { inboundNodes: TfNode[] }).inboundNodes[t.nodeIndex];
}

/**
 * The layer calls that lead from `from` to `outputs`, dependencies first. `from` are the tensors
 * the walk stops at (a model's inputs, or a cut inside it); reaching a model input that is not
 * among them means the outputs depend on something before the cut.
 */
export function stepsBetween(from: readonly TF.SymbolicTensor[], outputs: readonly TF.SymbolicTensor[]): GraphStep[] {
  const stop = new Set(from.map((t) => t.id));
  const done = new Set<TfNode>();
  const steps: GraphStep[] = [];
  const visit = (t: TF.SymbolicTensor): void => {
    if (stop.has(t.id)) return;
    const node = nodeOf(t);
    if (done.has(node)) return;
    done.add(node);
    if (t.sourceLayer.getClassName() === 'InputLayer') {
      throw new ModelError(`the graph reaches input "${t.sourceLayer.name}", which lies before the cut`);
    }
    for (const input of node.inputTensors) visit(input);
    steps.push({ layer: t.sourceLayer as TF.layers.Layer, inputs: node.inputTensors, outputs: node.outputTensors });
  };
  for (const t of outputs) visit(t);
  return steps;
}

/**
 * A model that starts at `cut` (an inner tensor of `model`, or several: a text encoder's hidden
 * states and its attention mask input) and ends at its output, made of the same layer objects:
 * training it trains `model`. `shapes` fixes each new input's per-example shape where the cut's
 * has unknown dimensions. Each layer gains one call, so the caller disposes the returned model
 * before disposing `model`.
 */
export function modelFrom(tf: Tf, model: TF.LayersModel, cut: TF.SymbolicTensor | TF.SymbolicTensor[], shapes?: number[][]): TF.LayersModel {
  const cuts = Array.isArray(cut) ? cut : [cut];
  const steps = stepsBetween(cuts, model.outputs);
  const inputs = cuts.map((c, i) =>
    tf.input({ shape: shapes?.[i] ?? (c.shape.slice(1) as number[]), dtype: c.dtype as 'float32' | 'int32', name: `${c.sourceLayer.name}_features` }),
  );
  const replayed = new Map<number, TF.SymbolicTensor>(cuts.map((c, i) => [c.id, inputs[i]]));
  for (const step of steps) {
    const args = step.inputs.map((t) => replayed.get(t.id)!);
    const out = step.layer.apply(args.length === 1 ? args[0] : args) as TF.SymbolicTensor | TF.SymbolicTensor[];
    (Array.isArray(out) ? out : [out]).forEach((t, i) => replayed.set(step.outputs[i].id, t));
  }
  return tf.model({ inputs: inputs.length === 1 ? inputs[0] : inputs, outputs: model.outputs.map((t) => replayed.get(t.id)!), name: 'tunespec_suffix' });
}
