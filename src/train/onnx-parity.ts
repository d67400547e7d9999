import type * as TF from '@tensorflow/tfjs';
import type { Tf } from '../engine/backends.ts';
import { OnnxSession } from '../engine/onnx-runtime.ts';
import { exportOnnx, UnsupportedLayerError } from '../model/onnx/export.ts';
import { chain } from '../model/onnx/edit.ts';
import { predictInBatches } from './evaluate.ts';

/** A variant's ONNX export: the model and how closely onnxruntime reproduces tfjs, or why there is none. */
export interface OnnxExportResult {
  bytes?: Uint8Array;
  parity?: { rows: number; maxAbsDiff: number; argmaxAgreement: number };
  skipped?: string;
}

/** Examples as one flat array of rows of `shape`. */
export interface Rows {
  x: Float32Array;
  shape: number[];
}

function argmax(row: Float32Array): number {
  let best = 0;
  for (let i = 1; i < row.length; i++) if (row[i] > row[best]) best = i;
  return best;
}

/**
 * Export the trained model and compare onnxruntime with tfjs on the validation set. `trained`
 * runs on `fed` in tfjs; the ONNX model runs on `raw`. They differ only for an ONNX base, whose
 * graph (`base`, already cut) is chained in front of the exported head: tfjs then sees the base's
 * features. An unsupported layer is reported, not thrown: the variant trained fine, it just has
 * no ONNX twin.
 */
export async function exportWithParity(
  tf: Tf,
  trained: TF.LayersModel,
  fed: Rows,
  raw: Rows,
  classes: number,
  metadata: Record<string, string>,
  base?: Uint8Array,
): Promise<OnnxExportResult> {
  let bytes: Uint8Array;
  try {
    bytes = exportOnnx(trained.inputs[0], trained.outputs[0], metadata).bytes;
  } catch (err) {
    if (err instanceof UnsupportedLayerError) return { skipped: `not exported to ONNX: ${err.message}` };
    throw err;
  }
  if (base) bytes = chain(base, bytes);
  const rows = raw.x.length / raw.shape.reduce((a, b) => a * b, 1);
  const session = await OnnxSession.load(bytes);
  let onnx: Float32Array;
  try {
    onnx = (await session.run(raw.x, raw.shape, 256)).data;
  } finally {
    await session.dispose();
  }
  let maxAbsDiff = 0;
  let agree = 0;
  let row = 0;
  for (const batch of predictInBatches(tf, trained, fed.x, fed.shape, rows, 256)) {
    for (let i = 0; i < batch.length / classes; i++, row++) {
      const a = batch.subarray(i * classes, (i + 1) * classes);
      const b = onnx.subarray(row * classes, (row + 1) * classes);
      for (let c = 0; c < classes; c++) maxAbsDiff = Math.max(maxAbsDiff, Math.abs(a[c] - b[c]));
      if (argmax(a) === argmax(b)) agree++;
    }
  }
  return { bytes, parity: { rows, maxAbsDiff, argmaxAgreement: rows ? agree / rows : 1 } };
}
