import { findLayer, loraBlocks, resolveFreezeRanges } from './layer-refs.ts';
import { quoted, type PathIssue } from './structure.ts';
import { didYouMean, excerpt } from './hints.ts';
import type { Experiment } from './types.ts';
import { taskOf } from './derived.ts';

/**
 * What the semantic checks need to know beyond the spec itself. The caller gathers it (reading
 * model.json, counting classes), so this module stays free of I/O and of the ML runtime.
 */
export interface SpecContext {
  /**
   * The base model's layers, or null when it could not be read (that is reported elsewhere), with
   * their weight count and the trainable flag the model file stores, where it stores one.
   */
  baseLayers: readonly { name: string; params?: number; trainable?: boolean }[] | null;
  /** The built model's layers for a cut index: kept base layers, then the head. */
  builtLayers(cutIndex: number, spec: Experiment): readonly { name: string }[];
  /** Number of classes the data holds after selection, or null when unknown. */
  classCount: number | null;
  /** What the base model is, or null when it could not be read. */
  baseFormat: 'tfjs' | 'onnx' | 'hf' | 'llama' | null;
  /** The most tokens a text encoder base takes in one input (its position table's reach), when known. */
  maxTokens?: number | null;
}

export function cutIndexOf(spec: Experiment, baseLayers: readonly { name: string }[]): number | undefined {
  return findLayer(baseLayers, spec.base_model.cut ?? -1);
}

type Check = (spec: Experiment, ctx: SpecContext) => PathIssue[];

/**
 * Swept fields that no check or warning here reads: variants that differ only in these are checked
 * once (a 10,000-variant learning-rate x batch-size x seed grid is one check). A check that starts
 * reading one of them must take it out of this list.
 */
export const UNCHECKED_FIELDS: ReadonlySet<string> = new Set(['training.learning_rate', 'training.batch_size', 'training.seed', 'training.epochs', 'validation.seed', 'validation.fraction']);

/** The built model's layers and which of them the freeze ranges freeze; undefined when the cut or a range is wrong (reported by other checks). */
function frozenLayers(spec: Experiment, ctx: SpecContext): { built: readonly { name: string }[]; frozen: boolean[]; headStart: number } | undefined {
  if (!ctx.baseLayers) return undefined;
  const cut = cutIndexOf(spec, ctx.baseLayers);
  if (cut === undefined) return undefined;
  const built = ctx.builtLayers(cut, spec);
  const { frozen, issues } = resolveFreezeRanges(built, spec.freeze);
  return issues.length ? undefined : { built, frozen, headStart: built.length - spec.head.length };
}

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
          : `base_model.cut: the base model has no layer ${quoted(cut)}${didYouMean(cut, names)}; its layers: ${names.length <= 20 ? names.join(', ') : `${names.slice(0, 20).join(', ')} and ${names.length - 20} more (tunespec inspect lists them)`}`,
    },
  ];
};

const headNamesUnique: Check = (spec, ctx) => {
  const taken = new Set(ctx.baseLayers?.map((l) => l.name) ?? []);
  const issues: PathIssue[] = [];
  spec.head.forEach((h, i) => {
    if (h.name === undefined) return;
    if (taken.has(h.name)) issues.push({ path: ['head', i, 'name'], message: `head.${i}.name: ${quoted(h.name)} is already a layer name` });
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
  const f = ctx.baseFormat === 'onnx' ? frozenLayers(spec, ctx) : undefined;
  if (!f || f.frozen.slice(0, f.headStart).every(Boolean)) return [];
  const { built, frozen, headStart: base } = f;
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

/** Up to three names, then how many more: enough to recognise a set of layers. */
function someNames(names: string[]): string {
  const shown = names.slice(0, 3).map((n) => `"${excerpt(n, 40)}"`).join(', ');
  return names.length > 3 ? `${shown} and ${names.length - 3} more` : shown;
}

/**
 * The head is new: it starts from random weights. Frozen whole, its output layer stays a random
 * map from features to classes whatever the base learns, so the sweep would train for nothing.
 * An error rather than a warning: no spec means that (a frozen head only makes sense once it
 * has been trained, and tunespec always builds a fresh one).
 */
const headLearns: Check = (spec, ctx) => {
  const f = frozenLayers(spec, ctx);
  if (!f || f.frozen.every(Boolean)) return []; // freezeInBounds says that nothing trains
  const weighted = spec.head.flatMap((h, i) => (h.type === 'dense' || h.type === 'batch_norm' ? [f.headStart + i] : []));
  if (!weighted.length || weighted.some((i) => !f.frozen[i])) return [];
  const range = spec.freeze.findIndex((r) => resolveFreezeRanges(f.built, [r]).frozen.some((on, i) => on && weighted.includes(i)));
  return [
    {
      path: ['freeze', range],
      message:
        `freeze.${range}: freezes every layer of the new head that has weights (${someNames(weighted.map((i) => f.built[i].name))}); ` +
        'the head starts from random weights, so frozen it cannot learn: leave at least its output layer trainable',
    },
  ];
};

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

/** A text encoder reads token ids its own tokenizer makes from text; pixels or numeric columns mean nothing to it. */
const textEncoderNeedsText: Check = (spec, ctx) =>
  ctx.baseFormat === 'hf' && spec.data.format !== 'text'
    ? [{ path: ['data', 'format'], message: `data.format: a Hugging Face text encoder base takes text (format: text), not ${spec.data.format} data` }]
    : [];

/** A text encoder has a position for each of at most so many tokens; a longer max_length would fail in the first batch. */
const maxLengthFitsBase: Check = (spec, ctx) =>
  spec.data.format === 'text' && ctx.maxTokens && spec.data.max_length > ctx.maxTokens
    ? [
        {
          path: ['data', 'max_length'],
          message: `data.max_length: ${spec.data.max_length} tokens is more than the base model's position embeddings take (${ctx.maxTokens}, from its config.json max_position_embeddings); use at most ${ctx.maxTokens}`,
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

/** A decoder predicts tokens; a classification head on it is not something tunespec builds. */
const decoderNeedsGeneration: Check = (spec, ctx) =>
  ctx.baseFormat === 'llama'
    ? [{ path: ['base_model', 'source'], message: 'base_model.source: this is a Llama decoder, which tunespec fine-tunes for text generation: set task: generation (with data.format: chat), or use an encoder base for classification' }]
    : [];

/** Semantic checks run on a structurally valid classification spec; every one runs, every issue is reported. */
export const semanticChecks: readonly Check[] = [cutExists, headNamesUnique, freezeInBounds, headLearns, onnxBaseFrozen, layoutNeedsOnnx, textNeedsTextEncoder, textEncoderNeedsText, maxLengthFitsBase, poolingOnTextEncoder, weightDecayNeedsAdamw, oneWarmup, headEndsInSoftmax, headFitsClasses, classNamesMatch, decoderNeedsGeneration];

/** Freeze ranges over the decoder's own layers (no cut, no head); everything frozen trains nothing unless LoRA adds weights. */
const decoderFreeze: Check = (spec, ctx) => {
  if (!ctx.baseLayers) return [];
  const { frozen, issues } = resolveFreezeRanges(ctx.baseLayers, spec.freeze);
  const located: PathIssue[] = issues.map((i) => ({ path: ['freeze', i.range, i.field], message: `freeze.${i.range}.${i.field}: ${i.message}` }));
  if (!issues.length && spec.freeze.length && frozen.every(Boolean) && !spec.lora) {
    located.push({ path: ['freeze'], message: 'freeze: every layer of the decoder is frozen and there is no lora, so nothing would train' });
  }
  return located;
};

/** lora.layers must name decoder blocks: a typo there would adapt nothing, or the wrong blocks. */
const loraLayersExist: Check = (spec, ctx) => {
  if (!ctx.baseLayers || !spec.lora?.layers) return [];
  return loraBlocks(ctx.baseLayers, spec.lora.layers).issues.map((i) => ({ path: ['lora', 'layers', i.field], message: `lora.layers.${i.field}: ${i.message}` }));
};

/** Semantic checks of a generation spec (task: generation). */
export const generationChecks: readonly Check[] = [decoderFreeze, loraLayersExist, weightDecayNeedsAdamw, oneWarmup];

export function checkSemantics(spec: Experiment, ctx: SpecContext): PathIssue[] {
  return (taskOf(spec) === 'generation' ? generationChecks : semanticChecks).flatMap((check) => check(spec, ctx));
}

/**
 * tunespec trains what `freeze` says, whatever trainable flags the base model was saved with: a
 * base saved with frozen layers, fine-tuned with no `freeze`, trains them all. That may be what
 * the spec means, so it is said, not refused.
 */
const storedFlagsOverridden: Check = (spec, ctx) => {
  const f = frozenLayers(spec, ctx);
  if (!f || ctx.baseFormat !== 'tfjs') return [];
  const stored = new Map(ctx.baseLayers!.map((l) => [l.name, l]));
  const unfrozen = f.built.slice(0, f.headStart).flatMap((l, i) => {
    const s = stored.get(l.name);
    return !f.frozen[i] && s?.trainable === false && (s.params ?? 0) > 0 ? [i] : [];
  });
  if (!unfrozen.length) return [];
  const at = spec.freeze.length ? 'freeze' : 'base_model.source';
  const last = unfrozen[unfrozen.length - 1];
  const n = unfrozen.length;
  // A range is the fix only when the saved-frozen layers are the base's first ones (the usual case); else name them.
  const prefix = f.built.slice(0, last + 1).every((l) => (stored.get(l.name)?.params ?? 0) === 0 || stored.get(l.name)?.trainable === false);
  const fix = prefix ? `add - { from: 0, to: ${JSON.stringify(excerpt(f.built[last].name, 40))} } to freeze` : 'list them in freeze';
  return [
    {
      path: spec.freeze.length ? ['freeze'] : ['base_model', 'source'],
      message:
        `${at}: the base model was saved with ${n} layer${n === 1 ? '' : 's'} not trainable (${someNames(unfrozen.map((i) => f.built[i].name))}), ` +
        `but ${spec.freeze.length ? 'freeze leaves' : 'with no freeze, tunespec trains'} ${n === 1 ? 'it' : 'them'}` +
        `${spec.freeze.length ? ' trainable' : ''}: tunespec follows freeze, not the saved flags; ` +
        `to keep ${n === 1 ? 'it' : 'them'} frozen, ${fix}`,
    },
  ];
};

/** Checks whose findings may be intended: reported as warnings, and the spec still passes. */
export const semanticWarnings: readonly Check[] = [storedFlagsOverridden];

export function checkWarnings(spec: Experiment, ctx: SpecContext): PathIssue[] {
  if (taskOf(spec) === 'generation') return [];
  return semanticWarnings.flatMap((check) => check(spec, ctx));
}
