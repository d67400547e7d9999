import type * as TF from '@tensorflow/tfjs';
import type { Tf } from '../engine/backends.ts';
import { OnnxSession } from '../engine/onnx-runtime.ts';
import { exportOnnx, UnsupportedLayerError } from '../model/onnx/export.ts';
import { chain } from '../model/onnx/edit.ts';
import { exportTextModel } from '../model/onnx/text.ts';
import { tokenFeeds } from '../data/token-input.ts';
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
 * features.
 */
export function exportWithParity(
  tf: Tf,
  trained: TF.LayersModel,
  fed: Rows,
  raw: Rows,
  classes: number,
  metadata: Record<string, string>,
  base?: Uint8Array,
): Promise<OnnxExportResult> {
  return withParity(
    { tf, trained, fed, classes },
    () => {
      const bytes = exportOnnx(trained.inputs[0], trained.outputs[0], metadata).bytes;
      return base ? chain(base, bytes) : bytes;
    },
    async (session) => (await session.run(raw.x, raw.shape, 256)).data,
  );
}

/**
 * A text model's export (int64 input_ids, attention_mask… as data/token-input.ts names them),
 * compared with tfjs on the validation set: `fed` holds packed token rows [inputs, max_length].
 */
export function exportTextWithParity(tf: Tf, trained: TF.LayersModel, fed: Rows, classes: number, metadata: Record<string, string>): Promise<OnnxExportResult> {
  let inputNames: string[] = [];
  return withParity(
    { tf, trained, fed, classes },
    () => {
      const exported = exportTextModel(trained, { metadata });
      inputNames = exported.inputNames;
      return exported.bytes;
    },
    async (session) => (await session.runNamed(tokenFeeds(fed.x, inputNames, fed.shape[1]), 256)).data,
  );
}

/**
 * Export with `exportBytes`, run the export on onnxruntime with `runOnnx` and compare it with
 * `trained` on `fed` in tfjs. An unsupported layer is reported, not thrown: the variant trained
 * fine, it just has no ONNX twin.
 */
async function withParity(
  { tf, trained, fed, classes }: { tf: Tf; trained: TF.LayersModel; fed: Rows; classes: number },
  exportBytes: () => Uint8Array,
  runOnnx: (session: OnnxSession) => Promise<Float32Array>,
): Promise<OnnxExportResult> {
  let bytes: Uint8Array;
  try {
    bytes = exportBytes();
  } catch (err) {
    if (err instanceof UnsupportedLayerError) return { skipped: `not exported to ONNX: ${err.message}` };
    throw err;
  }
  const rows = fed.x.length / fed.shape.reduce((a, b) => a * b, 1);
  const session = await OnnxSession.load(bytes);
  let onnx: Float32Array;
  try {
    onnx = await runOnnx(session);
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
