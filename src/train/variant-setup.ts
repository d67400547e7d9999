import type * as TF from '@tensorflow/tfjs';
import type { Engine } from '../engine/backends.ts';
import type { FrozenFeatureCache } from '../engine/feature-cache.ts';
import { cutOnnxBase } from '../model/onnx/cut.ts';
import { activeAugmentation } from '../data/augment.ts';
import type { Dataset } from '../data/dataset.ts';
import { denseRows, pickRows, rowBatches, rowSize, type RowSource } from '../data/rows.ts';
import type { Split } from '../data/split.ts';
import { buildHfVariant } from '../model/families/hf.ts';
import { tokenizerFiles } from '../model/hf/tokenizer-files.ts';
import { buildHeadModel, buildModel, disposeVariantModel, loadBase, type BuiltModel } from '../model/build.ts';
import { modelFrom } from '../model/graph.ts';
import type { BaseModel } from '../model/source.ts';
import type { LayerInfo } from '../model/topology.ts';
import type { Experiment } from '../spec/types.ts';
import { layoutOf } from '../spec/derived.ts';
import { InternalError } from '../errors.ts';
import { loadLlama, type LoadedLlama } from '../model/families/llama/load.ts';
import { applyLora, mergeLora, saveLoraAdapter, type LoraSettings, type LoraTarget } from '../model/families/llama/lora.ts';
import { decoderFrozen, type LlamaBase } from '../model/families/llama-decoder.ts';
import { loraBlocks } from '../spec/layer-refs.ts';
import type { GenerationExperiment, LoraSpec } from '../spec/types.ts';
import type { VariantInfo } from './events.ts';
import type { TrainingData } from './fit.ts';
import { encoderFrozenFeatures, frozenFeatures, onnxBaseFeatures, openEncoderPrefix, openFrozenPrefix, type FeatureCacheReport, type FrozenFeatures, type OpenPrefix } from './frozen-features.ts';
import { exportPartWithParity, exportTextWithParity, exportWithParity, type OnnxExportResult } from './onnx-parity.ts';
import { chain, joinExports } from '../model/onnx/edit.ts';
import { exportOnnx } from '../model/onnx/export.ts';

/** One variant made ready to train: what fit trains and on what, what is saved, how it exports. */
export interface VariantSetup {
  /** The model fit trains: the whole model, or the layers after cached features. */
  trainOn: TF.LayersModel;
  data: TrainingData;
  /** What the run store keeps as the variant's tfjs model. */
  saved: TF.LayersModel;
  layers: VariantInfo['layers'];
  featureCache: FeatureCacheReport;
  /** For an ONNX base: its graph cut at the spec's cut, NHWC in; kept with the run for predict. */
  baseGraph?: Uint8Array;
  exportOnnx(metadata: Record<string, string>): Promise<OnnxExportResult>;
  /** Files saved beside the variant's model.json (a text encoder's tokenizer), by name. */
  modelFiles?: Record<string, Uint8Array>;
  dispose(): void;
}

export interface SetupInput {
  engine: Engine;
  base: BaseModel;
  baseLayers: LayerInfo[];
  cutIndex: number;
  spec: Experiment;
  dataset: Dataset;
  split: Split;
  data: TrainingData;
  cache?: FrozenFeatureCache;
}

/** Training data on a feature-cache entry's rows, which stay where the cache keeps them. */
function onFeatures(features: RowSource, shape: number[], input: SetupInput): TrainingData {
  const side = (r: Int32Array) => ({ x: pickRows(features, r), y: Int32Array.from(r, (i) => input.dataset.labels[i]) });
  return { exampleShape: shape, classes: input.data.classes, train: side(input.split.train), validation: side(input.split.validation) };
}

const describe = (built: BuiltModel) => built.layers.map((l, i) => ({ name: l.name, className: l.getClassName(), params: l.countParams(), trainable: !built.frozen[i] }));

const rawValidation = (input: SetupInput) => input.data.validation.x;

type SetupOf<F extends BaseModel['format']> = (input: SetupInput & { base: Extract<BaseModel, { format: F }> }) => Promise<VariantSetup>;

const CACHE_OFF: FeatureCacheReport = { status: 'off', detail: 'turned off (--no-feature-cache)' };

/** Every row of `rows` through the prefix, a batch at a time, kept in memory (small: the boundary's rows). */
async function throughOnce(prefix: OpenPrefix, rows: RowSource): Promise<RowSource> {
  const width = rowSize(prefix.shape);
  const out = new Float32Array(rows.count * width);
  for (const { start, x } of rowBatches(rows, PREFIX_BATCH)) out.set(await prefix.run(x), start * width);
  return denseRows(out, prefix.shape);
}

/** Rows per onnxruntime run when the validation rows go through the prefix. */
const PREFIX_BATCH = 256;

/**
 * Training data for the layers after an open frozen prefix: the train rows stay inputs, run through
 * the prefix batch by batch as fit draws them (after augmentation); the validation rows, which
 * never change, go through it once here.
 */
async function throughPrefix(prefix: OpenPrefix, input: SetupInput): Promise<TrainingData> {
  const { train, validation } = input.data;
  return {
    ...input.data,
    exampleShape: prefix.shape,
    train,
    validation: { x: await throughOnce(prefix, validation.x), y: validation.y },
    prefix: { inputShape: input.data.exampleShape, run: (x) => prefix.run(x) },
  };
}

/**
 * A variant whose kept base layers run inside tfjs: with cached frozen features (when the cache is
 * on and they exist) the layers past the boundary train on them as `suffixOf` wires them; else,
 * where `openPrefix` gives the frozen layers as an onnxruntime session, they train on its output
 * batch by batch; else the whole model trains. `built` and `base` are freed here on failure, and
 * by the setup's dispose.
 */
async function inTfjs<F extends FrozenFeatures>(
  input: SetupInput,
  built: BuiltModel,
  base: TF.LayersModel,
  features: () => Promise<{ report: FeatureCacheReport; features?: F }>,
  suffixOf: (f: Omit<F, 'rows'>) => TF.LayersModel,
  rest: (suffix?: { model: TF.LayersModel; features: Omit<F, 'rows'>; data: TrainingData }) => Promise<Pick<VariantSetup, 'exportOnnx' | 'modelFiles'>>,
  openPrefix?: () => Promise<(OpenPrefix & Omit<F, 'rows'>) | string>,
): Promise<VariantSetup> {
  let suffix: TF.LayersModel | undefined;
  let prefix: OpenPrefix | undefined;
  const close = () => void prefix?.dispose().catch(() => {});
  try {
    const cached = input.cache ? await features() : { report: CACHE_OFF };
    let report = cached.report;
    let f: Omit<F, 'rows'> | undefined = cached.features;
    let data = cached.features ? onFeatures(cached.features.rows, cached.features.shape, input) : input.data;
    if (!f && openPrefix) {
      const opened = await openPrefix();
      if (typeof opened === 'string') {
        if (report.detail === CACHE_OFF.detail) report = { ...report, detail: `${report.detail}; the whole model trains in tfjs: ${opened}` };
      } else {
        prefix = opened;
        f = opened;
        data = await throughPrefix(opened, input);
        const { engine } = opened;
        report = { status: 'off', detail: `${report.detail}: frozen layers up to ${opened.boundary.layer} run on onnxruntime each batch (${engine})`, boundary: opened.boundary.layer, engine };
      }
    }
    // The layers after the boundary train on its features; they are the built model's own layers.
    if (f) suffix = suffixOf(f);
    return {
      trainOn: suffix ?? built.model,
      data,
      saved: built.model,
      layers: describe(built),
      featureCache: report,
      ...(await rest(suffix && f && { model: suffix, features: f, data })),
      dispose: () => {
        close();
        suffix?.dispose();
        disposeVariantModel(built, base);
      },
    };
  } catch (err) {
    close();
    suffix?.dispose();
    disposeVariantModel(built, base);
    throw err;
  }
}

const tfjsEngineName = (input: SetupInput) => `tfjs ${input.engine.name} ${input.engine.version}`;

const tfjsBase: SetupOf<'tfjs'> = async (input) => {
  const tf = input.engine.tf;
  const base = await loadBase(tf, input.base.files);
  let built: BuiltModel;
  try {
    built = buildModel(tf, base, input.baseLayers[input.cutIndex].name, input.spec);
  } catch (err) {
    base.dispose();
    throw err;
  }
  return inTfjs(
    input,
    built,
    base,
    () =>
      frozenFeatures({
        tf,
        model: built.model,
        layers: built.layers,
        frozen: built.frozen,
        augmented: activeAugmentation(input.spec.data) !== undefined,
        data: input.dataset,
        tfjsEngine: tfjsEngineName(input),
        cache: input.cache!,
      }),
    (f) => modelFrom(tf, built.model, f.boundary.tensor),
    async (cached) => ({
      exportOnnx: (metadata) => {
        if (!cached) return exportWithParity(tf, built.model, rawValidation(input), input.data.classes, metadata);
        const { model, features, data } = cached;
        return exportPartWithParity(
          tf,
          {
            part: model,
            boundary: features.boundary.layer,
            fed: data.validation.x,
            // The frozen layers come first in the graph, so an unsupported one among them is the one reported.
            exportPart: (meta) => {
              if (!(features.prefixOnnx instanceof Uint8Array)) throw features.prefixOnnx;
              return exportOnnx(features.boundary.tensor, built.model.outputs[0], meta).bytes;
            },
            exportWhole: (part) => joinExports(features.prefixOnnx as Uint8Array, part),
            raw: rawValidation(input),
            whole: built.model,
          },
          input.data.classes,
          metadata,
        );
      },
    }),
    () => openFrozenPrefix({ model: built.model, layers: built.layers, frozen: built.frozen, exampleShape: input.data.exampleShape }),
  );
};

const onnxBase: SetupOf<'onnx'> = async (input) => {
  const tf = input.engine.tf;
  const cut = input.baseLayers[input.cutIndex].name;
  const layout = layoutOf(input.spec);
  const { graph } = await cutOnnxBase(input.base.bytes, cut, layout, { x: input.dataset.rows.gather([0]), shape: input.dataset.exampleShape });
  const features = await onnxBaseFeatures(graph, cut, input.dataset, input.cache);
  const kept = input.baseLayers.slice(0, input.cutIndex + 1);
  const built = buildHeadModel(tf, features.shape, kept, input.spec);
  const data = onFeatures(features.rows, features.shape, input);
  return {
    trainOn: built.model,
    data,
    saved: built.model,
    layers: [...kept.map((l) => ({ name: l.name, className: l.className, params: l.params, trainable: false })), ...describe(built)],
    featureCache: features.report,
    baseGraph: graph,
    exportOnnx: (metadata) =>
      exportPartWithParity(
        tf,
        {
          part: built.model,
          boundary: cut,
          fed: data.validation.x,
          exportPart: (meta) => exportOnnx(built.model.inputs[0], built.model.outputs[0], meta).bytes,
          exportWhole: (part) => chain(graph, part),
          raw: rawValidation(input),
        },
        input.data.classes,
        metadata,
      ),
    dispose: () => built.model.dispose(),
  };
};

const hfBase: SetupOf<'hf'> = async (input) => {
  const tf = input.engine.tf;
  const { encoder, built, inputs } = await buildHfVariant(tf, input.base, input.baseLayers, input.cutIndex, input.spec);
  const maskRow = inputs.indexOf('attention_mask');
  const mask = built.model.inputs[maskRow];
  return inTfjs(
    input,
    built,
    encoder,
    () =>
      encoderFrozenFeatures({
        tf,
        model: built.model,
        layers: built.layers,
        frozen: built.frozen,
        mask,
        maskRow,
        data: input.dataset,
        tfjsEngine: tfjsEngineName(input),
        cache: input.cache!,
      }),
    // The upper blocks and the head read the cached hidden states and the attention mask.
    (f) => modelFrom(tf, built.model, [f.boundary.tensor, mask], f.inputShapes),
    async () => ({
      exportOnnx: (metadata) => exportTextWithParity(tf, built.model, rawValidation(input), input.data.classes, metadata),
      modelFiles: await tokenizerFiles(input.base.folder),
    }),
    () => openEncoderPrefix({ tf, model: built.model, layers: built.layers, frozen: built.frozen, mask, maskRow, exampleShape: input.data.exampleShape }),
  );
};

/** A Llama decoder has no head to put on it: it trains through setUpDecoder (task: generation), which the semantic checks make sure of. */
const llamaBase: SetupOf<'llama'> = async () => {
  throw new InternalError('a classification variant on a Llama decoder passed the spec checks');
};

/**
 * How each model family (model/families) trains: its base run inside tfjs with cached frozen
 * features, or outside it with the head on its features. A new family adds its entry here.
 */
const SETUP: { [F in BaseModel['format']]: SetupOf<F> } = { tfjs: tfjsBase, onnx: onnxBase, hf: hfBase, llama: llamaBase };

/** The model a variant trains, built on its engine, with its data in the form that model takes. */
export function setUpVariant(input: SetupInput): Promise<VariantSetup> {
  return (SETUP[input.base.format] as SetupOf<BaseModel['format']>)(input);
}

/** What LoRA added to a decoder, and how the variant's outputs use it. */
export interface LoraAdapters {
  /** Write the adapter alone (PEFT's adapter_config.json + adapter_model.safetensors) into `dir`. */
  saveAdapter(dir: string): Promise<void>;
  /** Fold the adapters into the base weights, leaving a plain Llama model. */
  merge(): void;
}

/** A decoder made ready to train (task: generation): the loaded model, frozen as the spec says, with its LoRA adapters. */
export interface DecoderSetup {
  llama: LoadedLlama;
  layers: VariantInfo['layers'];
  lora?: LoraAdapters;
  dispose(): void;
}

/**
 * The one place the spec's `lora` reaches the model: adapters on the chosen blocks' projections
 * (A seeded from the training seed, B zero, so step 0 is the base model). Called after the
 * freeze flags are set, since applyLora itself freezes the adapted projections' base weights.
 */
function adaptWithLora(tf: Engine['tf'], model: TF.LayersModel, lora: LoraSpec, blocks: number[], seed: number, baseName: string): LoraAdapters {
  const settings: LoraSettings = { rank: lora.rank!, alpha: lora.alpha!, dropout: lora.dropout!, targetModules: lora.target_modules as LoraTarget[], blocks, seed };
  applyLora(tf, model, settings);
  return {
    saveAdapter: (dir) => saveLoraAdapter(model, settings, baseName, dir),
    merge: () => mergeLora(tf, model),
  };
}

/**
 * A generation variant's model: the decoder loaded fresh (so no variant sees another's weights),
 * its layers frozen as `decoderFrozen` says (the spec's freeze, or everything under LoRA), then
 * LoRA adapters on the chosen blocks.
 */
export async function setUpDecoder(tf: Engine['tf'], base: LlamaBase, spec: GenerationExperiment): Promise<DecoderSetup> {
  const llama = await loadLlama(tf, base.path);
  const { model } = llama;
  try {
    const layers = model.layers.filter((l) => l.getClassName() !== 'InputLayer');
    const frozen = decoderFrozen(layers, spec);
    layers.forEach((l, i) => (l.trainable = !frozen[i]));
    const lora = spec.lora ? adaptWithLora(tf, model, spec.lora, loraBlocks(layers, spec.lora.layers).blocks, spec.training.seed, base.source) : undefined;
    return {
      llama,
      layers: layers.map((l) => ({ name: l.name, className: l.getClassName(), params: l.countParams(), trainable: l.trainableWeights.length > 0 })),
      lora,
      dispose: () => model.dispose(),
    };
  } catch (err) {
    model.dispose();
    throw err;
  }
}
