import type * as TF from '@tensorflow/tfjs';
import type { Tf } from '../engine/backends.ts';
import type { FrozenFeatureCache } from '../engine/feature-cache.ts';
import { denseRows, rowBatches, rowSize, type RowSource } from '../data/rows.ts';
import { OnnxSession, onnxRuntimeVersion } from '../engine/onnx-runtime.ts';
import { sha256Hex } from '../data/digest.ts';
import { stepsBetween } from '../model/graph.ts';
import { cacheBlocker, frozenBoundaries, passesThrough, type FrozenBoundary } from '../model/frozen-boundary.ts';
import { exportOnnx, UnsupportedLayerError, type OnnxGraphExport } from '../model/onnx/export.ts';
import { exportTextPrefix } from '../model/onnx/text.ts';
import { tokenFeeds } from '../data/token-input.ts';
import { VariantFailure } from './failure.ts';
import { modelInputs } from './model-inputs.ts';

/** What the run output, the run store and MLflow say about a variant's frozen-layer features. */
export interface FeatureCacheReport {
  status: 'hit' | 'miss' | 'off';
  detail: string;
  boundary?: string;
  engine?: string;
  /** Seconds this variant spent computing features (a miss). */
  seconds?: number;
  /** Seconds a hit saved: what computing the entry took. */
  savedSeconds?: number;
}

export interface FrozenFeatures {
  boundary: FrozenBoundary;
  /** One row per dataset example, in dataset order. */
  rows: RowSource;
  shape: number[];
}

/** Image features with the frozen layers before them as ONNX, or why they have no ONNX twin. */
export interface ImageFeatures extends FrozenFeatures {
  prefixOnnx: Uint8Array | UnsupportedLayerError;
}

const BATCH = 256;
const FORMAT = 1;

/**
 * A layer's configuration as far as its output goes: a parameter-free layer the boundary passed
 * (model/frozen-boundary.ts) counts as frozen, so freezing up to it or to the layer before it
 * names the same features.
 */
function configOf(layer: TF.layers.Layer): TF.serialization.ConfigDict {
  const config = layer.getConfig();
  return passesThrough(layer) ? { ...config, trainable: false } : config;
}

/** Weights, configuration and wiring of every layer between the input and the boundary. */
function prefixDigest(model: TF.LayersModel, boundary: TF.SymbolicTensor): string {
  const parts: (string | ArrayBufferView)[] = [`tunespec-features-v${FORMAT}\n`, JSON.stringify(model.inputs[0].shape)];
  for (const step of stepsBetween(model.inputs, [boundary])) {
    parts.push(JSON.stringify([step.layer.getClassName(), configOf(step.layer), step.inputs.map((t) => t.sourceLayer.name)]));
    for (const w of step.layer.weights) parts.push(w.read().dataSync() as Float32Array);
  }
  return sha256Hex(parts);
}

function cacheKey(prefix: string, boundary: FrozenBoundary, dataDigest: string, engine: string): string {
  return sha256Hex([JSON.stringify({ prefix, boundary: boundary.layer, data: dataDigest, engine })]).slice(0, 32);
}

/** The frozen segment as an ONNX graph, or why it cannot be one. */
function exportSegment(from: TF.SymbolicTensor, to: TF.SymbolicTensor): Uint8Array | UnsupportedLayerError {
  try {
    return exportOnnx(from, to).bytes;
  } catch (err) {
    if (err instanceof UnsupportedLayerError) return err;
    throw err;
  }
}

/**
 * The last frozen prefix exported, by its digest: every variant of a sweep that shares the frozen
 * layers shares their export (the feature computation's and the variant's model.onnx's front).
 * One slot, so a long-lived worker holds one base's export, not every base it has seen.
 */
let lastPrefix: { digest: string; onnx: Uint8Array | UnsupportedLayerError } | undefined;

function prefixExport(model: TF.LayersModel, boundary: TF.SymbolicTensor, digest: string): Uint8Array | UnsupportedLayerError {
  if (lastPrefix?.digest !== digest) lastPrefix = { digest, onnx: exportSegment(model.inputs[0], boundary) };
  return lastPrefix.onnx;
}

/** Each batch's inputs and the frozen part's outputs for them, in row order. */
type Emit = (inputs: Float32Array, outputs: Float32Array) => void;

const yieldTurn = () => new Promise((resolve) => setImmediate(resolve));

/** An ONNX graph over `source` a batch at a time; the shape of one output row. */
async function runOnnx(bytes: Uint8Array, source: RowSource, emitBatch: Emit): Promise<number[]> {
  const session = await OnnxSession.load(bytes);
  try {
    let shape: number[] = [];
    for (const { x } of rowBatches(source, BATCH)) {
      const out = await session.run(x, source.shape, BATCH);
      shape = out.shape;
      emitBatch(x, out.data);
      await yieldTurn();
    }
    return shape;
  } finally {
    await session.dispose();
  }
}

async function runTfjs(tf: Tf, model: TF.LayersModel, boundary: TF.SymbolicTensor, source: RowSource, emitBatch: Emit): Promise<number[]> {
  // A container over existing tensors: it calls no layer, so the layers' reference counts stay as they are.
  const prefix = tf.model({ inputs: model.inputs, outputs: boundary });
  for (const { x } of rowBatches(source, BATCH)) {
    const n = x.length / rowSize(source.shape);
    const y = tf.tidy(() => prefix.predict(tf.tensor(x, [n, ...source.shape])) as TF.Tensor);
    emitBatch(x, (await y.data()) as Float32Array);
    y.dispose();
  }
  return boundary.shape.slice(1) as number[];
}

export interface FeatureRequest {
  tf: Tf;
  model: TF.LayersModel;
  layers: readonly TF.layers.Layer[];
  frozen: readonly boolean[];
  augmented: boolean;
  data: { rows: RowSource; digest: string };
  /** The tfjs engine that runs the prefix when onnxruntime cannot, with its version. */
  tfjsEngine: string;
  cache: FrozenFeatureCache;
}

interface Computed {
  /** One output row's shape. */
  shape: number[];
  /** Where the computation started: "the input" or a shallower cached entry. */
  from: string;
}

/** Runs the frozen part over every example, handing each batch to `emitBatch`. */
type Compute = (emitBatch: Emit) => Promise<Computed>;

function nonFinite(values: Float32Array): number {
  let n = 0;
  for (let i = 0; i < values.length; i++) if (!Number.isFinite(values[i])) n++;
  return n;
}

/**
 * Infinite or NaN inputs (say, a data.scale that overflows float32) make NaN in tfjs and a NaN
 * loss, but onnxruntime's Relu and pooling can turn them into finite garbage that trains quietly;
 * either end of the frozen layers holding such values fails the variant, as training would.
 */
function checkFinite(inputs: Float32Array, outputs: Float32Array, layer: string): void {
  // Called per batch: the counts are the first bad batch's.
  const bad = nonFinite(inputs);
  if (bad) throw new VariantFailure(`the inputs hold ${bad} NaN or infinite values (check data.scale and base_model.preprocess)`);
  const out = nonFinite(outputs);
  if (out) throw new VariantFailure(`the frozen layers output ${out} NaN or infinite values at ${layer}`);
}

/**
 * Features under `key` from the cache, or computed, timed and stored; reported either way. A
 * miss streams: each batch's outputs go to the entry's file as they come, and training reads
 * the entry back by row, so neither all the inputs nor all the features are held at once.
 */
async function cachedOrComputed(
  cache: FrozenFeatureCache,
  key: string,
  layer: string,
  engine: string,
  note: string,
  compute: Compute,
): Promise<{ report: FeatureCacheReport; rows: RowSource; shape: number[] }> {
  const hit = await cache.open(key);
  if (hit) {
    return {
      report: { status: 'hit', detail: `features of ${layer} from the cache, saving ${hit.meta.seconds.toFixed(1)}s (${engine}${note})`, boundary: layer, engine, savedSeconds: hit.meta.seconds },
      rows: hit.rows,
      shape: hit.meta.shape,
    };
  }
  const started = performance.now();
  const writer = await cache.begin(key);
  let entry;
  let seconds;
  let computed;
  try {
    let values = 0;
    computed = await compute((inputs, outputs) => {
      checkFinite(inputs, outputs, layer);
      writer.append(outputs);
      values += outputs.length;
    });
    seconds = (performance.now() - started) / 1000;
    const rows = values / rowSize(computed.shape);
    entry = await writer.commit({ key, boundary: layer, shape: computed.shape, rows, engine, seconds, createdAt: new Date().toISOString() });
  } catch (err) {
    await writer.abort();
    throw err;
  }
  return {
    report: { status: 'miss', detail: `features of ${layer} computed from ${computed.from} in ${seconds.toFixed(1)}s (${engine}${note}) and cached`, boundary: layer, engine, seconds },
    rows: entry.rows,
    shape: entry.meta.shape,
  };
}

/**
 * The frozen layers' output for every example, from the cache or computed once (onnxruntime when
 * the prefix exports, else tfjs) and cached; undefined with the reason when the variant must
 * train end to end. A miss starts from the deepest shallower boundary already cached, if any.
 */
export async function frozenFeatures(req: FeatureRequest): Promise<{ report: FeatureCacheReport; features?: ImageFeatures }> {
  const blocker = cacheBlocker(req.frozen, req.augmented);
  if (blocker) return { report: { status: 'off', detail: blocker } };
  const [boundary, ...shallower] = frozenBoundaries(req.model, req.layers, req.frozen, { throughParameterFree: true });
  if (!boundary) return { report: { status: 'off', detail: 'no frozen layer output separates the input from the trainable layers' } };
  const digest = prefixDigest(req.model, boundary.tensor);
  const onnx = prefixExport(req.model, boundary.tensor, `${digest} ${boundary.layer}`);
  const engine = onnx instanceof Uint8Array ? onnxRuntimeVersion() : req.tfjsEngine;
  const note = onnx instanceof UnsupportedLayerError ? `; tfjs because ${onnx.message}` : '';
  const compute: Compute = async (emitBatch) => {
    if (!(onnx instanceof Uint8Array)) return { shape: await runTfjs(req.tf, req.model, boundary.tensor, req.data.rows, emitBatch), from: 'the input' };
    for (const b of shallower) {
      const earlier = await req.cache.open(cacheKey(prefixDigest(req.model, b.tensor), b, req.data.digest, engine));
      const segment = earlier && exportSegment(b.tensor, boundary.tensor);
      if (earlier && segment instanceof Uint8Array) return { shape: await runOnnx(segment, earlier.rows, emitBatch), from: `cached ${b.layer}` };
    }
    return { shape: await runOnnx(onnx, req.data.rows, emitBatch), from: 'the input' };
  };
  const got = await cachedOrComputed(req.cache, cacheKey(digest, boundary, req.data.digest, engine), boundary.layer, engine, note, compute);
  return { report: got.report, features: { boundary, rows: got.rows, shape: got.shape, prefixOnnx: onnx } };
}

export type PrefixRequest = Pick<FeatureRequest, 'model' | 'layers' | 'frozen'> & { exampleShape: number[] };

/** The frozen layers on onnxruntime, open for one variant: each call runs one batch through them. */
export interface OpenPrefix {
  boundary: FrozenBoundary;
  prefixOnnx: Uint8Array;
  /** Per-example shape of the boundary's output. */
  shape: number[];
  engine: string;
  run(x: Float32Array): Promise<Float32Array>;
  dispose(): Promise<void>;
}

/**
 * The frozen prefix as an onnxruntime session, for a variant that cannot train on cached features
 * (--no-feature-cache, augmentation) but can on the prefix's output batch by batch; why not when
 * it cannot (nothing frozen before a trainable layer, or a layer the exporter lacks).
 */
export async function openFrozenPrefix(req: PrefixRequest): Promise<OpenPrefix | string> {
  const blocker = cacheBlocker(req.frozen, false);
  if (blocker) return blocker;
  const [boundary] = frozenBoundaries(req.model, req.layers, req.frozen, { throughParameterFree: true });
  if (!boundary) return 'no frozen layer output separates the input from the trainable layers';
  const onnx = prefixExport(req.model, boundary.tensor, `${prefixDigest(req.model, boundary.tensor)} ${boundary.layer}`);
  if (!(onnx instanceof Uint8Array)) return onnx.message;
  const session = await OnnxSession.load(onnx, { interleaved: true });
  const size = rowSize(req.exampleShape);
  return {
    boundary,
    prefixOnnx: onnx,
    shape: boundary.tensor.shape.slice(1) as number[],
    engine: onnxRuntimeVersion(),
    run: async (x) => {
      const out = (await session.run(x, req.exampleShape, Math.max(1, Math.min(BATCH, x.length / size)))).data;
      checkFinite(x, out, boundary.layer);
      return out;
    },
    dispose: () => session.dispose(),
  };
}

/**
 * An ONNX base's output at its cut for every example: always computed once and cached, since the
 * whole base is frozen. `graph` is the base already cut (model/onnx/edit.ts truncateAt).
 */
export async function onnxBaseFeatures(
  graph: Uint8Array,
  layer: string,
  data: FeatureRequest['data'],
  cache: FrozenFeatureCache | undefined,
): Promise<{ report: FeatureCacheReport; rows: RowSource; shape: number[] }> {
  const engine = onnxRuntimeVersion();
  const compute: Compute = async (emitBatch) => ({ shape: await runOnnx(graph, data.rows, emitBatch), from: 'the input' });
  if (!cache) {
    // Nowhere to keep them but memory: the head trains on them.
    const started = performance.now();
    const batches: Float32Array[] = [];
    const { shape } = await compute((inputs, outputs) => {
      checkFinite(inputs, outputs, layer);
      batches.push(outputs);
    });
    const all = new Float32Array(batches.reduce((n, b) => n + b.length, 0));
    batches.reduce((at, b) => (all.set(b, at), at + b.length), 0);
    const seconds = (performance.now() - started) / 1000;
    const detail = `turned off (--no-feature-cache); features of the ONNX base at ${layer} computed in ${seconds.toFixed(1)}s (${engine})`;
    return { report: { status: 'off', detail, boundary: layer, engine, seconds }, rows: denseRows(all, shape), shape };
  }
  const key = sha256Hex([`tunespec-onnx-base-v${FORMAT}\n`, graph, `\n${layer}\n${data.digest}\n${engine}`]).slice(0, 32);
  return cachedOrComputed(cache, key, layer, engine, '', compute);
}

export interface EncoderFeatureRequest extends Omit<FeatureRequest, 'augmented'> {
  /** The model input the trainable layers read besides the hidden states: the attention mask. */
  mask: TF.SymbolicTensor;
  /** Which row of an example ([inputs, max_length], data/token-input.ts) holds the mask. */
  maskRow: number;
}

/** What locating and running a text encoder's frozen prefix needs: the request less the data and the cache. */
export type EncoderPrefixRequest = Omit<EncoderFeatureRequest, 'data' | 'cache' | 'tfjsEngine'>;

/** Cached encoder features as the suffix model takes them: hidden states [T, H], then the mask [T]. */
export interface EncoderFeatures extends FrozenFeatures {
  /** Per-example shapes of the suffix model's inputs: [[T, H], [T]]. */
  inputShapes: number[][];
}

/** The encoder prefix on onnxruntime: each batch of packed token rows to its hidden states. */
async function onnxPrefix(bytes: Uint8Array, inputNames: readonly string[], T: number, interleaved: boolean) {
  const session = await OnnxSession.load(bytes, { interleaved });
  return {
    run: async (x: Float32Array): Promise<Float32Array> => (await session.runNamed(tokenFeeds(x, inputNames, T), BATCH)).data,
    dispose: () => session.dispose(),
  };
}

/** The encoder prefix on tfjs, when the exporter lacks one of its layers. */
function tfjsPrefix(tf: Tf, model: TF.LayersModel, boundary: TF.SymbolicTensor, exampleShape: readonly number[]) {
  // A container over existing tensors: it calls no layer, so the layers' reference counts stay as they are.
  const prefix = tf.model({ inputs: model.inputs, outputs: boundary });
  return {
    run: async (x: Float32Array): Promise<Float32Array> => {
      const n = x.length / rowSize(exampleShape);
      const y = tf.tidy(() => prefix.predict(modelInputs(tf, model, x, n, exampleShape)) as TF.Tensor);
      const hidden = (await y.data()) as Float32Array;
      y.dispose();
      return hidden;
    },
    dispose: async () => {},
  };
}

/**
 * A text encoder's frozen prefix, ready to open: its boundary (beside the attention mask), the
 * engine that runs it (onnxruntime when it exports, else tfjs), and `open`, whose runner turns a
 * batch of packed token rows into feature rows: each example's hidden states [T, H], then its
 * attention mask [T], which the trainable blocks and a pooling head read. Why not, as a string.
 */
function encoderPrefix(req: EncoderPrefixRequest, tokenShape: readonly number[]) {
  const blocker = cacheBlocker(req.frozen, false);
  if (blocker) return blocker;
  const [boundary] = frozenBoundaries(req.model, req.layers, req.frozen, { beside: [req.mask] });
  if (!boundary) return 'no frozen layer output separates the input from the trainable layers';
  const [k, T] = tokenShape;
  const H = boundary.tensor.shape[2] as number;
  const width = T * H + T;
  let onnx: OnnxGraphExport | UnsupportedLayerError;
  try {
    onnx = exportTextPrefix(req.model, boundary.tensor);
  } catch (err) {
    if (!(err instanceof UnsupportedLayerError)) throw err;
    onnx = err;
  }
  /** `interleaved`: its runs alternate with training steps (OnnxSession.load). */
  const open = async (interleaved: boolean) => {
    const prefix = onnx instanceof UnsupportedLayerError ? tfjsPrefix(req.tf, req.model, boundary.tensor, tokenShape) : await onnxPrefix(onnx.bytes, onnx.inputNames, T, interleaved);
    return {
      run: async (x: Float32Array): Promise<Float32Array> => {
        const n = x.length / (k * T);
        const hidden = await prefix.run(x);
        const out = new Float32Array(n * width);
        for (let i = 0; i < n; i++) {
          out.set(hidden.subarray(i * T * H, (i + 1) * T * H), i * width);
          out.set(x.subarray((i * k + req.maskRow) * T, (i * k + req.maskRow + 1) * T), i * width + T * H);
        }
        return out;
      },
      dispose: () => prefix.dispose(),
    };
  };
  return { boundary, onnx, width, inputShapes: [[T, H], [T]], open };
}

/**
 * A text encoder's frozen embeddings and lower blocks, run once (onnxruntime when the prefix
 * exports, else tfjs) and cached. Undefined with the reason when the variant must train end to end.
 */
export async function encoderFrozenFeatures(req: EncoderFeatureRequest): Promise<{ report: FeatureCacheReport; features?: EncoderFeatures }> {
  const prefix = encoderPrefix(req, req.data.rows.shape);
  if (typeof prefix === 'string') return { report: { status: 'off', detail: prefix } };
  const { boundary, onnx, width } = prefix;
  const engine = onnx instanceof UnsupportedLayerError ? req.tfjsEngine : onnxRuntimeVersion();
  const note = onnx instanceof UnsupportedLayerError ? `; tfjs because ${onnx.message}` : '';
  const compute: Compute = async (emitBatch) => {
    const runner = await prefix.open(false);
    try {
      for (const { x } of rowBatches(req.data.rows, BATCH)) {
        emitBatch(x, await runner.run(x));
        await yieldTurn();
      }
    } finally {
      await runner.dispose();
    }
    return { shape: [width], from: 'the input' };
  };
  const got = await cachedOrComputed(req.cache, cacheKey(prefixDigest(req.model, boundary.tensor), boundary, req.data.digest, engine), boundary.layer, engine, note, compute);
  return { report: got.report, features: { boundary, rows: got.rows, shape: [width], inputShapes: prefix.inputShapes } };
}

/**
 * A text encoder's frozen prefix on onnxruntime, open for one variant that trains without cached
 * features (--no-feature-cache): each batch of token rows to the feature rows the cache would hold.
 * Why not where the prefix does not export: tfjs running it per batch would only repeat what
 * training the whole model in tfjs does.
 */
export async function openEncoderPrefix(req: EncoderPrefixRequest & { exampleShape: number[] }): Promise<(OpenPrefix & { inputShapes: number[][] }) | string> {
  const prefix = encoderPrefix(req, req.exampleShape);
  if (typeof prefix === 'string') return prefix;
  if (prefix.onnx instanceof UnsupportedLayerError) return prefix.onnx.message;
  const runner = await prefix.open(true);
  const layer = prefix.boundary.layer;
  return {
    boundary: prefix.boundary,
    prefixOnnx: prefix.onnx.bytes,
    shape: [prefix.width],
    inputShapes: prefix.inputShapes,
    engine: onnxRuntimeVersion(),
    run: async (x) => {
      const out = await runner.run(x);
      checkFinite(x, out, layer);
      return out;
    },
    dispose: () => runner.dispose(),
  };
}
