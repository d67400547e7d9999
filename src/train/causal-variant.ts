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
import { fitCausal } from './causal-fit.ts';
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
    const pick = (rows: Int32Array) => Array.from(rows, (i) => dataset.examples[i]);
    const info: VariantInfo = {
      variant: input.variant,
      attempt: input.attempt,
      startedAt: input.startedAt,
      position: input.position,
      total: input.total,
      engine: { name: input.engine.name, reason: input.engine.reason, version: input.engine.version },
      split: { train: split.train.length, validation: split.validation.length, digest: split.digest },
      data: { digest: dataset.digest, classNames: [], truncated: dataset.truncated, dropped: dataset.dropped },
      layers: setup.layers,
      trainableParams: llama.model.trainableWeights.reduce((n, w) => n + (w.shape as number[]).reduce((a, b) => a * b, 1), 0),
      featureCache: { status: 'off', detail: 'generation variants train end to end (no frozen-block cache yet)' },
    };
    input.started(info);
    await emit(input.listeners, 'onVariantStart', info);
    if (dataset.truncated) {
      const lost = dataset.dropped ? `; ${dataset.dropped} of them kept no completion token and were left out` : '';
      await emit(input.listeners, 'onVariantNote', input.variant, `${dataset.truncated} of ${dataset.examples.length + dataset.dropped} examples were longer than data.max_length ${spec.data.max_length} tokens and were truncated${lost}`);
    }
    const padId = renderer.eosId ?? 0;
    const outcome = await fitCausal(tf, llama.model, spec, { train: pick(split.train), validation: pick(split.validation), padId }, info, input.listeners, input.signal, input.limit);

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
      attempt: input.attempt,
      startedAt: input.startedAt,
      finishedAt: 0,
    };
  } catch (err) {
    if (outputDir) await rm(outputDir, { recursive: true, force: true });
    throw err;
  } finally {
    setup.dispose();
  }
}
