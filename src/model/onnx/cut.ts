import { ModelError } from '../../errors.ts';
import type { Layout } from '../../spec/derived.ts';
import { inputShape, truncateAt } from './edit.ts';
import { OnnxSession } from '../../engine/onnx-runtime.ts';

/** An ONNX base cut where a variant's head starts, as tunespec feeds and reads it (NHWC both ends). */
export interface CutOnnxBase {
  graph: Uint8Array;
  /** One example's input shape, NHWC; null for a free dimension. */
  inputShape: (number | null)[];
  /** One example's features at the cut, as the head sees them. */
  featureShape: number[];
}

const size = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1);

/**
 * Cut the base at `cut` and run it on one example to learn what it outputs: ONNX files rarely
 * declare inner shapes, and an NCHW model's 4-D features need a transpose back to NHWC. A fixed
 * input is probed with zeros; a free one needs `example` (the data), whose shape is checked
 * against the input first so a mismatch is said plainly rather than by onnxruntime.
 */
export async function cutOnnxBase(bytes: Uint8Array, cut: string, layout: Layout, example?: { x: Float32Array; shape: number[] }): Promise<CutOnnxBase> {
  const cutGraph = truncateAt(bytes, cut, layout);
  const takes = inputShape(cutGraph);
  const shown = `[${takes.map((d) => d ?? '?').join(', ')}]`;
  if (example && (takes.length !== example.shape.length || takes.some((d, i) => d !== null && d !== example.shape[i]))) {
    throw new ModelError(
      `the ONNX base takes examples of shape ${shown} (NHWC, after layout ${layout}), but the data gives [${example.shape.join(', ')}] after preprocessing; set base_model.preprocess (resize, channels, layout)`,
    );
  }
  const fixed = takes.every((d): d is number => d !== null);
  const probe = fixed ? { x: new Float32Array(size(takes)), shape: takes } : example;
  if (!probe) throw new ModelError(`the ONNX base's input ${shown} is not fixed, so its output shape is unknown until it runs`);
  const session = await OnnxSession.load(cutGraph);
  let out: number[];
  try {
    out = (await session.run(probe.x.subarray(0, size(probe.shape)), probe.shape, 1)).shape;
  } finally {
    await session.dispose();
  }
  if (layout === 'nchw' && out.length === 3) return { graph: truncateAt(bytes, cut, layout, 4), inputShape: takes, featureShape: [out[1], out[2], out[0]] };
  return { graph: cutGraph, inputShape: takes, featureShape: out };
}
