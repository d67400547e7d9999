import { findLayer, resolveFreezeRanges } from './layer-refs.ts';
import type { PathIssue } from './structure.ts';
import { didYouMean } from './hints.ts';
import type { Experiment } from './types.ts';

/**
 * What the semantic checks need to know beyond the spec itself. The caller gathers it (reading
 * model.json, counting classes), so this module stays free of I/O and of the ML runtime.
 */
export interface SpecContext {
  /** The base model's layers, or null when it could not be read (that is reported elsewhere). */
  baseLayers: readonly { name: string }[] | null;
  /** The built model's layers for a cut index: kept base layers, then the head. */
  builtLayers(cutIndex: number, spec: Experiment): readonly { name: string }[];
  /** Number of classes the data holds after selection, or null when unknown. */
  classCount: number | null;
  /** What the base model is, or null when it could not be read. */
  baseFormat: 'tfjs' | 'onnx' | null;
}

export function cutIndexOf(spec: Experiment, baseLayers: readonly { name: string }[]): number | undefined {
  return findLayer(baseLayers, spec.base_model.cut ?? -1);
}

type Check = (spec: Experiment, ctx: SpecContext) => PathIssue[];

const cutExists: Check = (spec, ctx) => {
  if (!ctx.baseLayers || spec.base_model.cut === undefined) return [];
  if (cutIndexOf(spec, ctx.baseLayers) !== undefined) return [];
  const names = ctx.baseLayers.map((l) => l.name);
  const cut = spec.base_model.cut;
  return [
    {
      path: ['base_model', 'cut'],
      message:
        typeof cut === 'number'
          ? `base_model.cut: layer index ${cut} is out of range: the base model has ${names.length} layers`
          : `base_model.cut: the base model has no layer "${cut}"${didYouMean(cut, names)}; its layers: ${names.join(', ')}`,
    },
  ];
};

const headNamesUnique: Check = (spec, ctx) => {
  const taken = new Set(ctx.baseLayers?.map((l) => l.name) ?? []);
  const issues: PathIssue[] = [];
  spec.head.forEach((h, i) => {
    if (h.name === undefined) return;
    if (taken.has(h.name)) issues.push({ path: ['head', i, 'name'], message: `head.${i}.name: "${h.name}" is already a layer name` });
    taken.add(h.name);
  });
  return issues;
};

const freezeInBounds: Check = (spec, ctx) => {
  if (!ctx.baseLayers) return [];
  const cut = cutIndexOf(spec, ctx.baseLayers);
  if (cut === undefined) return [];
  const { frozen, issues } = resolveFreezeRanges(ctx.builtLayers(cut, spec), spec.freeze);
  const located: PathIssue[] = issues.map((i) => ({ path: ['freeze', i.range, i.field], message: `freeze.${i.range}.${i.field}: ${i.message}` }));
  if (!issues.length && frozen.every(Boolean)) located.push({ path: ['freeze'], message: 'freeze: every layer is frozen, so nothing would train' });
  return located;
};

const headEndsInSoftmax: Check = (spec) => {
  const last = spec.head.map((h, i) => ({ h, i })).filter(({ h }) => h.type !== 'dropout').pop();
  const ok =
    last && (last.h.type === 'dense' ? last.h.activation === 'softmax' : last.h.type === 'activation' && last.h.activation === 'softmax');
  if (ok) return [];
  return [
    {
      path: last ? ['head', last.i] : ['head'],
      message: `head: the last layer must output class probabilities (dense with activation: softmax, or an activation: softmax layer) for ${spec.training.loss}`,
    },
  ];
};

const headFitsClasses: Check = (spec, ctx) => {
  const denseAt = spec.head.map((h, i) => (h.type === 'dense' ? i : -1)).filter((i) => i >= 0).pop();
  if (denseAt === undefined) return [{ path: ['head'], message: 'head: needs at least one dense layer to produce class scores' }];
  const dense = spec.head[denseAt];
  if (ctx.classCount === null || dense.type !== 'dense' || dense.units === ctx.classCount) return [];
  return [
    {
      path: ['head', denseAt, 'units'],
      message: `head.${denseAt}.units: the output layer has ${dense.units} units but the data has ${ctx.classCount} classes`,
    },
  ];
};

const classNamesMatch: Check = (spec, ctx) => {
  const names = spec.data.class_names;
  const count = spec.data.classes?.length ?? ctx.classCount;
  if (!names || count === null || names.length === count) return [];
  return [{ path: ['data', 'class_names'], message: `data.class_names: ${names.length} names for ${count} classes` }];
};

/** An ONNX base is a frozen feature extractor: tunespec trains only what comes after it. */
const onnxBaseFrozen: Check = (spec, ctx) => {
  if (ctx.baseFormat !== 'onnx' || !ctx.baseLayers) return [];
  const cut = cutIndexOf(spec, ctx.baseLayers);
  if (cut === undefined) return [];
  const built = ctx.builtLayers(cut, spec);
  const { frozen, issues } = resolveFreezeRanges(built, spec.freeze);
  const base = built.length - spec.head.length;
  if (issues.length || frozen.slice(0, base).every(Boolean)) return [];
  const open = built.slice(0, base).filter((_, i) => !frozen[i]).map((l) => l.name);
  return [
    {
      path: ['freeze'],
      message:
        `freeze: the ONNX base must be frozen whole (partial unfreezing inside an ONNX base is not supported), but ${open.length} of its layers would train, ` +
        `starting with "${open[0]}"; freeze from 0 to the cut: - { from: 0, to: ${JSON.stringify(built[base - 1].name)} }`,
    },
  ];
};

const layoutNeedsOnnx: Check = (spec, ctx) =>
  spec.base_model.preprocess?.layout === 'nchw' && ctx.baseFormat === 'tfjs'
    ? [{ path: ['base_model', 'preprocess', 'layout'], message: 'base_model.preprocess.layout: nchw is for ONNX base models; TensorFlow.js models take NHWC' }]
    : [];

/** Text reaches a model only through a tokenizer and a text encoder; image and tabular bases take feature tensors. */
const textNeedsTextEncoder: Check = (spec, ctx) =>
  spec.data.format === 'text' && (ctx.baseFormat === 'tfjs' || ctx.baseFormat === 'onnx')
    ? [
        {
          path: ['base_model', 'source'],
          message: `base_model.source: data.format text needs a text encoder base (a Hugging Face model folder with tokenizer.json); this base is ${ctx.baseFormat === 'tfjs' ? 'a TensorFlow.js' : 'an ONNX'} model, which takes image or numeric input`,
        },
      ]
    : [];

/** Pooling reads [hidden states, attention mask], which only a text encoder produces, and only once, first. */
const poolingOnTextEncoder: Check = (spec, ctx) =>
  spec.head.flatMap((h, i) => {
    if (h.type !== 'pooling') return [];
    if (ctx.baseFormat === 'tfjs' || ctx.baseFormat === 'onnx') {
      return [{ path: ['head', i], message: `head.${i}: pooling takes a text encoder's hidden states and attention mask; this base is ${ctx.baseFormat === 'tfjs' ? 'a TensorFlow.js' : 'an ONNX'} model (use flatten or global_average_pooling)` }];
    }
    return i === 0 ? [] : [{ path: ['head', i], message: `head.${i}: pooling must be the first head layer (it reads the encoder's hidden states and attention mask)` }];
  });

/** Decoupled decay is AdamW's; on Adam or SGD it would silently mean something else (L2 in the gradient). */
const weightDecayNeedsAdamw: Check = (spec) =>
  spec.training.weight_decay !== undefined && spec.training.weight_decay > 0 && spec.training.optimizer !== 'adamw'
    ? [
        {
          path: ['training', 'weight_decay'],
          message: `training.weight_decay: decoupled weight decay is for optimizer adamw, not ${spec.training.optimizer}; use optimizer: adamw (or l2 on dense head layers)`,
        },
      ]
    : [];

const oneWarmup: Check = (spec) => {
  const s = spec.training.schedule;
  if ((s.type !== 'warmup_linear' && s.type !== 'warmup_cosine') || s.warmup_steps === undefined || s.warmup_fraction === undefined) return [];
  return [{ path: ['training', 'schedule', 'warmup_fraction'], message: 'training.schedule: give warmup_steps or warmup_fraction, not both' }];
};

/** Semantic checks run on a structurally valid spec; every one runs, every issue is reported. */
export const semanticChecks: readonly Check[] = [cutExists, headNamesUnique, freezeInBounds, onnxBaseFrozen, layoutNeedsOnnx, textNeedsTextEncoder, poolingOnTextEncoder, weightDecayNeedsAdamw, oneWarmup, headEndsInSoftmax, headFitsClasses, classNamesMatch];

export function checkSemantics(spec: Experiment, ctx: SpecContext): PathIssue[] {
  return semanticChecks.flatMap((check) => check(spec, ctx));
}
