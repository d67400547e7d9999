import type * as TF from '@tensorflow/tfjs';
import type { Tf } from '../engine/backends.ts';
import { OnnxSession } from '../engine/onnx-runtime.ts';
import { exportOnnx, UnsupportedLayerError } from '../model/onnx/export.ts';
import { exportTextModel } from '../model/onnx/text.ts';
import { tokenFeeds } from '../data/token-input.ts';
import { predictInBatches } from './evaluate.ts';

/** How closely onnxruntime reproduces tfjs on some rows. */
export interface ParityCheck {
  rows: number;
  maxAbsDiff: number;
  argmaxAgreement: number;
}

/**
 * A variant's parity record. The top-level figures cover every validation row: of the whole
 * model, or, when `part` names a boundary, of the layers after it on their (cached) input, the
 * only part that differs between variants; `whole` then checks the whole exported model on the
 * first `whole.rows` validation rows, which is what catches a frozen part that exports wrongly.
 */
export interface Parity extends ParityCheck {
  /** Set when the rows ran the layers after this layer only, on its features. */
  part?: string;
  whole?: ParityCheck;
}

/** A variant's ONNX export: the model and how closely onnxruntime reproduces tfjs, or why there is none. */
export interface OnnxExportResult {
  bytes?: Uint8Array;
  parity?: Parity;
  skipped?: string;
}

/** Examples as one flat array of rows of `shape`. */
export interface Rows {
  x: Float32Array;
  shape: number[];
}

/** How many validation rows the whole model runs on when the part after a boundary ran on all of them. */
export const WHOLE_MODEL_ROWS = 32;

const BATCH = 256;

function argmax(row: Float32Array): number {
  let best = 0;
  for (let i = 1; i < row.length; i++) if (row[i] > row[best]) best = i;
  return best;
}

const rowsOf = (r: Rows): number => r.x.length / r.shape.reduce((a, b) => a * b, 1);
const firstRows = (r: Rows, n: number): Rows => ({ x: r.x.subarray(0, n * r.shape.reduce((a, b) => a * b, 1)), shape: r.shape });

/** Compares tfjs's outputs (in batches) with onnxruntime's, row by row. */
function compare(tfjs: Iterable<Float32Array>, onnx: Float32Array, classes: number, rows: number): ParityCheck {
  let maxAbsDiff = 0;
  let agree = 0;
  let row = 0;
  for (const batch of tfjs) {
    for (let i = 0; i < batch.length / classes && row < rows; i++, row++) {
      const a = batch.subarray(i * classes, (i + 1) * classes);
      const b = onnx.subarray(row * classes, (row + 1) * classes);
      for (let c = 0; c < classes; c++) maxAbsDiff = Math.max(maxAbsDiff, Math.abs(a[c] - b[c]));
      if (argmax(a) === argmax(b)) agree++;
    }
  }
  return { rows, maxAbsDiff, argmaxAgreement: rows ? agree / rows : 1 };
}

async function onOnnx(bytes: Uint8Array, run: (session: OnnxSession) => Promise<Float32Array>): Promise<Float32Array> {
  const session = await OnnxSession.load(bytes);
  try {
    return await run(session);
  } finally {
    await session.dispose();
  }
}

/** Export with `exportBytes`; an unsupported layer is reported, not thrown: the variant trained fine, it just has no ONNX twin. */
function tryExport<T>(exportBytes: () => T): T | { skipped: string } {
  try {
    return exportBytes();
  } catch (err) {
    if (err instanceof UnsupportedLayerError) return { skipped: `not exported to ONNX: ${err.message}` };
    throw err;
  }
}

/** The whole trained model exported, and compared with tfjs on every validation row. */
export async function exportWithParity(tf: Tf, trained: TF.LayersModel, validation: Rows, classes: number, metadata: Record<string, string>): Promise<OnnxExportResult> {
  const bytes = tryExport(() => exportOnnx(trained.inputs[0], trained.outputs[0], metadata).bytes);
  if (!(bytes instanceof Uint8Array)) return bytes;
  const rows = rowsOf(validation);
  const onnx = await onOnnx(bytes, async (s) => (await s.run(validation.x, validation.shape, BATCH)).data);
  return { bytes, parity: compare(predictInBatches(tf, trained, validation.x, validation.shape, rows, BATCH), onnx, classes, rows) };
}

export interface PartParityInput {
  /** The layers after the boundary, as tfjs trained them. */
  part: TF.LayersModel;
  /** The boundary's layer: what the part's input is the output of. */
  boundary: string;
  /** Every validation row as the part takes it (its cached features). */
  fed: Rows;
  /** The part's export (its input is the boundary's output). */
  exportPart: (metadata: Record<string, string>) => Uint8Array;
  /** The whole model's export from the part's; throws UnsupportedLayerError where the frozen part has no ONNX twin. */
  exportWhole: (part: Uint8Array) => Uint8Array;
  /** Every validation row as the whole model takes it. */
  raw: Rows;
  /**
   * The whole model in tfjs, whose outputs the export must reproduce on the first rows; without
   * one (an ONNX base, which tfjs cannot run) the export must reproduce the part's tfjs outputs.
   */
  whole?: TF.LayersModel;
}

/**
 * Export a variant whose layers up to a boundary are frozen and shared by the sweep: the part
 * after the boundary is compared with tfjs on every validation row's features, where variants
 * differ, and the whole exported model on the first WHOLE_MODEL_ROWS raw rows, which checks the
 * frozen part and the join without running it on every row for every variant.
 */
export async function exportPartWithParity(tf: Tf, input: PartParityInput, classes: number, metadata: Record<string, string>): Promise<OnnxExportResult> {
  const exported = tryExport(() => {
    const part = input.exportPart(metadata);
    return { part, whole: input.exportWhole(part) };
  });
  if ('skipped' in exported) return exported;
  const rows = rowsOf(input.fed);
  const partOnnx = await onOnnx(exported.part, async (s) => (await s.run(input.fed.x, input.fed.shape, BATCH)).data);
  const partTfjs = predictInBatches(tf, input.part, input.fed.x, input.fed.shape, rows, BATCH);
  const checked = compare(partTfjs, partOnnx, classes, rows);
  const n = Math.min(WHOLE_MODEL_ROWS, rows);
  const sample = firstRows(input.raw, n);
  const wholeOnnx = await onOnnx(exported.whole, async (s) => (await s.run(sample.x, sample.shape, BATCH)).data);
  const wholeTfjs = input.whole ? predictInBatches(tf, input.whole, sample.x, sample.shape, n, BATCH) : partTfjs;
  return { bytes: exported.whole, parity: { ...checked, part: input.boundary, whole: compare(wholeTfjs, wholeOnnx, classes, n) } };
}

/**
 * A text model's export (int64 input_ids, attention_mask… as data/token-input.ts names them),
 * compared with tfjs on the validation set: `fed` holds packed token rows [inputs, max_length].
 */
export async function exportTextWithParity(tf: Tf, trained: TF.LayersModel, fed: Rows, classes: number, metadata: Record<string, string>): Promise<OnnxExportResult> {
  const exported = tryExport(() => exportTextModel(trained, { metadata }));
  if ('skipped' in exported) return exported;
  const rows = rowsOf(fed);
  const onnx = await onOnnx(exported.bytes, async (s) => (await s.runNamed(tokenFeeds(fed.x, exported.inputNames, fed.shape[1]), BATCH)).data);
  return { bytes: exported.bytes, parity: compare(predictInBatches(tf, trained, fed.x, fed.shape, rows, BATCH), onnx, classes, rows) };
}
