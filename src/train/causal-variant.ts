import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Engine } from '../engine/backends.ts';
import { ChatRenderer } from '../data/chat-render.ts';
import { loadChatDataset, splitChatDataset } from '../data/chat-dataset.ts';
import { TextTokenizer } from '../data/tokenize.ts';
import { greedyDecode } from '../model/families/llama/generate.ts';
import type { LlamaBase } from '../model/families/llama-decoder.ts';
import { baseModelName, fineTunedModelName } from '../model/model-name.ts';
import type { Variant } from '../plan/expand.ts';
import { asGeneration } from '../spec/derived.ts';
import { fitCausal, stepsPerEpoch, type CausalExample } from './causal-fit.ts';
import { decoderFeatures } from './decoder-features.ts';
import type { FrozenFeatureCache } from '../engine/feature-cache.ts';
import { arithmeticHost } from '../engine/arithmetic-host.ts';
import type { Rng } from '../data/rng.ts';
import { sha256Hex } from '../data/digest.ts';
import { canonicalJson } from '../plan/canonical.ts';
import { accumulationStepsOf, variantIdentity } from '../spec/derived.ts';
import { resumePoint } from './loop-position.ts';
import type { Checkpoint, CheckpointIdentity, LoopCheckpoints, VariantCheckpoints } from './checkpoint.ts';
import { emit, type SweepListener, type VariantInfo, type VariantResult } from './events.ts';
import type { TrainingLimit } from './fit.ts';
import { saveLlamaFolder } from '../model/families/llama/save.ts';
import { ADAPTER_FOLDER, COMPLETIONS_FILE, MERGED_FOLDER } from './generation-files.ts';
import { setUpDecoder } from './variant-setup.ts';


/** Why a generation variant has no model.onnx (status.json `onnx.skipped`). */
export const GENERATION_ONNX_SKIPPED = 'ONNX export and parity are not done for generation variants: merged/ (a Hugging Face folder) is the exported model';

export interface DecoderVariantInput {
  engine: Engine;
  base: LlamaBase;
  experiment: string;
  /** The spec's folder, which data paths are relative to. */
  dir: string;
  variant: Variant;
  attempt: string;
  startedAt: number;
  position: number;
  total: number;
  listeners: readonly SweepListener[];
  signal: AbortSignal;
  limit?: TrainingLimit;
  /** Where hidden states at the first trainable block are cached; undefined trains end to end (--no-feature-cache). */
  cache?: FrozenFeatureCache;
  /** The base model's digest: part of the cache key and of a checkpoint's identity. */
  baseDigest: string;
  /** The variant's checkpoints in the run store, and the sweep's choice of one to resume from (sweep.ts `resumable`). */
  checkpoints?: VariantCheckpoints;
  resumable?(identity: CheckpointIdentity, steps: number): Promise<Checkpoint | undefined>;
  /** The variant's seeded Math.random, whose state a checkpoint keeps. */
  random?: Rng;
  /** Told the variant's info once training starts (the sweep reports it at the variant's end). */
  started(info: VariantInfo): void;
}

/** The eval prompts' completions as MLflow's table-artifact JSON (what mlflow.log_table writes). */
export function completionsTable(rows: [string, string][]): { columns: string[]; data: [string, string][] } {
  return { columns: ['prompt', 'completion'], data: rows };
}

/**
 * Train one generation variant: the decoder set up as the spec says, fine-tuned on the chat data
 * (causal-fit.ts), then its eval prompts completed greedily, its adapters saved and merged, and
 * the merged model written as a Hugging Face folder, all into a temporary folder the run store
 * takes over (VariantResult.outputDir).
 */
export async function trainDecoderVariant(input: DecoderVariantInput): Promise<VariantResult> {
  const tf = input.engine.tf;
  const spec = asGeneration(input.variant.spec);
  const setup = await setUpDecoder(tf, input.base, spec);
  let outputDir: string | undefined;
  try {
    const { llama } = setup;
    const tokenizer = new TextTokenizer(JSON.stringify(llama.tokenizerJson), llama.tokenizerConfig, `${input.base.source} (tokenizer)`);
    const renderer = new ChatRenderer(tokenizer, llama.tokenizerConfig, llama.config.eosTokenId, `${input.base.source} (tokenizer_config)`);
    const dataset = await loadChatDataset(spec, input.dir, renderer, tokenizer.digest);
    const split = splitChatDataset(dataset, spec.validation);
    const padId = renderer.eosId ?? 0;
    const engineName = `${input.engine.name} ${input.engine.version}`;
    const cached = await decoderFeatures({
      tf,
      model: llama.model,
      examples: dataset.examples,
      padId,
      baseDigest: input.baseDigest,
      dataDigest: dataset.digest,
      tokenizerDigest: tokenizer.digest,
      maxLength: spec.data.max_length,
      engine: `tfjs ${engineName}`,
      cache: input.cache,
    });
    const hidden = cached.features?.rows;
    const examples: CausalExample[] = hidden ? dataset.examples.map((e, i) => ({ ...e, hidden: hidden[i] })) : dataset.examples;
    const pick = (r: Int32Array) => Array.from(r, (i) => examples[i]);
    const identity: CheckpointIdentity = {
      variant: input.variant.id,
      spec: sha256Hex([canonicalJson(variantIdentity(input.variant.spec))]),
      base: input.baseDigest,
      data: split.digest,
      engine: engineName,
      features: cached.features ? `on cached hidden states at model.layers.${cached.features.boundary.block}` : 'end to end',
    };
    const steps = stepsPerEpoch(Math.ceil(split.train.length / spec.training.batch_size), accumulationStepsOf(spec));
    const from = input.checkpoints && input.resumable ? await input.resumable(identity, steps) : undefined;
    const attempt = from?.attempt ?? input.attempt;
    const startedAt = from?.startedAt ?? input.startedAt;
    const host = arithmeticHost(input.engine.name);
    const otherHost = from && from.host !== host ? `checkpoint written on ${from.host ?? 'an unrecorded machine'}, resumed on ${host}` : undefined;
    if (otherHost) {
      await emit(input.listeners, 'onVariantNote', input.variant, `not bit for bit: ${otherHost}; native TensorFlow's kernels round differently across CPUs and thread counts, so this continues close to, not exactly as, an unbroken run`);
    }
    const info: VariantInfo = {
      variant: input.variant,
      attempt,
      startedAt,
      position: input.position,
      total: input.total,
      engine: { name: input.engine.name, reason: input.engine.reason, version: input.engine.version },
      split: { train: split.train.length, validation: split.validation.length, digest: split.digest },
      data: { digest: dataset.digest, classNames: [], truncated: dataset.truncated, dropped: dataset.dropped },
      layers: setup.layers,
      trainableParams: llama.model.trainableWeights.reduce((n, w) => n + (w.shape as number[]).reduce((a, b) => a * b, 1), 0),
      featureCache: cached.report,
      resumed: from && { ...resumePoint(from), epochs: spec.training.epochs, batches: steps, ...(otherHost ? { inexact: otherHost } : {}) },
    };
    input.started(info);
    await emit(input.listeners, 'onVariantStart', info);
    if (dataset.truncated) {
      const lost = dataset.dropped ? `; ${dataset.dropped} of them kept no completion token and were left out` : '';
      await emit(input.listeners, 'onVariantNote', input.variant, `${dataset.truncated} of ${dataset.examples.length + dataset.dropped} examples were longer than data.max_length ${spec.data.max_length} tokens and were truncated${lost}`);
    }
    const checkpoints = input.checkpoints;
    const saving: LoopCheckpoints | undefined = checkpoints && {
      from,
      everySteps: spec.checkpoint.every_steps,
      save: (step, state, tensors) => checkpoints.save({ identity, attempt, startedAt, host, step, state, tensors }),
    };
    const outcome = await fitCausal(
      tf,
      llama.model,
      spec,
      { train: pick(split.train), validation: pick(split.validation), padId, from: cached.features?.boundary },
      info,
      input.listeners,
      input.signal,
      { limit: input.limit, checkpoints: saving, random: input.random },
    );

    const stop = renderer.eosId === undefined ? [] : [renderer.eosId];
    const rows: [string, string][] = (spec.generation?.eval_prompts ?? []).map((prompt) => {
      const out = greedyDecode(tf, llama.model, llama.config, renderer.promptIds(prompt), { maxNewTokens: spec.generation!.max_new_tokens, stop });
      return [prompt, tokenizer.decode(out)];
    });
    outputDir = await mkdtemp(join(tmpdir(), 'tunespec-variant-'));
    if (setup.lora) {
      await setup.lora.saveAdapter(join(outputDir, ADAPTER_FOLDER));
      setup.lora.merge();
    }
    await saveLlamaFolder(llama.model, llama.config, llama.tokenizerJson, llama.tokenizerConfig, join(outputDir, MERGED_FOLDER));
    await writeFile(join(outputDir, COMPLETIONS_FILE), JSON.stringify(completionsTable(rows), null, 2) + '\n');
    const baseName = baseModelName(input.base.source);
    return {
      status: 'completed',
      metrics: outcome.metrics,
      bestEpoch: outcome.bestEpoch,
      onnx: { skipped: GENERATION_ONNX_SKIPPED },
      outputDir,
      modelRecord: { name: fineTunedModelName(baseName, input.experiment, input.variant.id), task: 'generation', base: { name: baseName, source: input.base.source }, folder: MERGED_FOLDER },
      seconds: 0,
      attempt,
      startedAt,
      finishedAt: 0,
    };
  } catch (err) {
    if (outputDir) await rm(outputDir, { recursive: true, force: true });
    throw err;
  } finally {
    setup.dispose();
  }
}
