import type * as TF from '@tensorflow/tfjs';
import type { Tf } from '../engine/backends.ts';
import { OnnxSession } from '../engine/onnx-runtime.ts';
import { exportOnnx, UnsupportedLayerError } from '../model/onnx/export.ts';
import { exportTextModel } from '../model/onnx/text.ts';
import { tokenFeeds } from '../data/token-input.ts';
import { predictRows } from './evaluate.ts';
import { rangeRows, type RowSource } from '../data/rows.ts';

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

/** How many validation rows the whole model runs on when the part after a boundary ran on all of them. */
export const WHOLE_MODEL_ROWS = 32;

const BATCH = 256;

function argmax(row: Float32Array): number {
  let best = 0;
  for (let i = 1; i < row.length; i++) if (row[i] > row[best]) best = i;
  return best;
}

/** One batch's class probabilities from each side, for the same examples. */
interface BatchPair {
  tfjs: Float32Array;
  onnx: Float32Array;
}

/** tfjs's outputs against onnxruntime's, row by row, over `rows` rows taken a batch at a time. */
async function compare(rows: number, classes: number, batch: (start: number, end: number) => Promise<BatchPair>): Promise<ParityCheck> {
  let maxAbsDiff = 0;
  let agree = 0;
  for (let start = 0; start < rows; start += BATCH) {
    const end = Math.min(rows, start + BATCH);
    const { tfjs, onnx } = await batch(start, end);
    for (let i = 0; i < end - start; i++) {
      const a = tfjs.subarray(i * classes, (i + 1) * classes);
      const b = onnx.subarray(i * classes, (i + 1) * classes);
      for (let c = 0; c < classes; c++) maxAbsDiff = Math.max(maxAbsDiff, Math.abs(a[c] - b[c]));
      if (argmax(a) === argmax(b)) agree++;
    }
  }
  return { rows, maxAbsDiff, argmaxAgreement: rows ? agree / rows : 1 };
}

async function onOnnx<T>(bytes: Uint8Array, run: (session: OnnxSession) => Promise<T>): Promise<T> {
  const session = await OnnxSession.load(bytes);
  try {
    return await run(session);
  } finally {
    await session.dispose();
  }
}

/** A model on the same rows in tfjs and in onnxruntime. */
function sameRows(tf: Tf, model: TF.LayersModel, session: OnnxSession, rows: RowSource) {
  return async (start: number, end: number): Promise<BatchPair> => {
    const x = rangeRows(rows, start, end);
    return { tfjs: predictRows(tf, model, x, end - start, rows.shape), onnx: (await session.run(x, rows.shape, BATCH)).data };
  };
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
export async function exportWithParity(tf: Tf, trained: TF.LayersModel, validation: RowSource, classes: number, metadata: Record<string, string>): Promise<OnnxExportResult> {
  const bytes = tryExport(() => exportOnnx(trained.inputs[0], trained.outputs[0], metadata).bytes);
  if (!(bytes instanceof Uint8Array)) return bytes;
  return { bytes, parity: await onOnnx(bytes, (s) => compare(validation.count, classes, sameRows(tf, trained, s, validation))) };
}

export interface PartParityInput {
  /** The layers after the boundary, as tfjs trained them. */
  part: TF.LayersModel;
  /** The boundary's layer: what the part's input is the output of. */
  boundary: string;
  /** Every validation row as the part takes it (its cached features). */
  fed: RowSource;
  /** The part's export (its input is the boundary's output). */
  exportPart: (metadata: Record<string, string>) => Uint8Array;
  /** The whole model's export from the part's; throws UnsupportedLayerError where the frozen part has no ONNX twin. */
  exportWhole: (part: Uint8Array) => Uint8Array;
  /** Every validation row as the whole model takes it. */
  raw: RowSource;
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
  const { fed, raw, whole } = input;
  const checked = await onOnnx(exported.part, (s) => compare(fed.count, classes, sameRows(tf, input.part, s, fed)));
  const n = Math.min(WHOLE_MODEL_ROWS, fed.count);
  const wholeCheck = await onOnnx(exported.whole, (s) =>
    compare(n, classes, async (start, end) => {
      const x = rangeRows(raw, start, end);
      const tfjs = whole ? predictRows(tf, whole, x, end - start, raw.shape) : predictRows(tf, input.part, rangeRows(fed, start, end), end - start, fed.shape);
      return { tfjs, onnx: (await s.run(x, raw.shape, BATCH)).data };
    }),
  );
  return { bytes: exported.whole, parity: { ...checked, part: input.boundary, whole: wholeCheck } };
}

/**
 * A text model's export (int64 input_ids, attention_mask… as data/token-input.ts names them),
 * compared with tfjs on the validation set: `fed` holds packed token rows [inputs, max_length].
 */
export async function exportTextWithParity(tf: Tf, trained: TF.LayersModel, fed: RowSource, classes: number, metadata: Record<string, string>): Promise<OnnxExportResult> {
  const exported = tryExport(() => exportTextModel(trained, { metadata }));
  if ('skipped' in exported) return exported;
  const parity = await onOnnx(exported.bytes, (s) =>
    compare(fed.count, classes, async (start, end) => {
      const x = rangeRows(fed, start, end);
      return { tfjs: predictRows(tf, trained, x, end - start, fed.shape), onnx: (await s.runNamed(tokenFeeds(x, exported.inputNames, fed.shape[1]), BATCH)).data };
    }),
  );
  return { bytes: exported.bytes, parity };
}
