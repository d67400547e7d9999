// A generation variant stopped after epoch k, or mid-epoch with step checkpoints, and trained
// again resumes from its checkpoint and ends bit for bit as the unbroken run: per-epoch metrics,
// every step's loss, the merged model's bytes. Through loadSpec → runSweep into a real run store,
// on the tiny random Llama, training from the frozen-block cache as `tunespec run` does; and the
// causal loop alone with LoRA dropout, whose mask draws a checkpoint must carry too.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type * as TF from '@tensorflow/tfjs';
import { loadSpec } from '../../src/app/load-spec.ts';
import { runSweep } from '../../src/train/sweep.ts';
import { LocalRunStore } from '../../src/track/local-store.ts';
import { FrozenFeatureCache } from '../../src/engine/feature-cache.ts';
import { CheckpointStore } from '../../src/track/checkpoint-store.ts';
import { selectEngine } from '../../src/engine/backends.ts';
import { loadLlama } from '../../src/model/families/llama/load.ts';
import { applyLora } from '../../src/model/families/llama/lora.ts';
import { fitCausal } from '../../src/train/causal-fit.ts';
import { checkStructure } from '../../src/spec/structure.ts';
import { asGeneration } from '../../src/spec/derived.ts';
import { createRng } from '../../src/data/rng.ts';
import type { ChatExample } from '../../src/data/chat-dataset.ts';
import type { CheckpointIdentity } from '../../src/train/checkpoint.ts';
import type { EpochMetrics, ResumedFrom, SweepListener, VariantInfo, VariantResult } from '../../src/train/events.ts';
import { ROOT } from '../helpers/cli.ts';
import { tempDir, testEngine } from './helpers.ts';
import { tinyChatSpec } from '../helpers/generation-variant.ts';

const FIXTURES = join(ROOT, 'test', 'fixtures', 'text');
const TINY = join(FIXTURES, 'tiny-llama');
const TIMING = new Set(['epoch_seconds', 'tokens_per_second']);

interface Trace {
  epochs: EpochMetrics[];
  losses: Map<number, number | undefined>;
  notes: string[];
  resumed?: ResumedFrom;
  info?: VariantInfo;
  result?: VariantResult;
}

/** 15 training examples in batches of 2, two batches a step: 8 batches, 4 optimizer steps an epoch. */
async function specFile(dir: string, everySteps?: number): Promise<string> {
  const file = join(dir, `gen-${everySteps ?? 'epochs'}.yaml`);
  await writeFile(
    file,
    tinyChatSpec(
      'gen',
      `validation: { fraction: 0.25, seed: 1 }
freeze: [{ from: model.embed_tokens, to: model.layers.0 }]
training:
  epochs: 3
  batch_size: 2
  gradient_accumulation_steps: 2
  optimizer: adamw
  weight_decay: 0.01
  max_grad_norm: 1.0
  schedule: { type: warmup_linear, warmup_steps: 2 }
  learning_rate: 0.01
  early_stopping: { patience: 5 }
  seed: 1
checkpoint: ${everySteps ? `{ every_steps: ${everySteps} }` : '{}'}
`,
    ),
  );
  return file;
}

/** Train the spec's one variant into `runs`, aborting (as Ctrl-C does) once `stopAtBatch` batches are done. */
async function train(file: string, runs: string, cache: FrozenFeatureCache, stopAtBatch?: number): Promise<Trace> {
  const loaded = await loadSpec(file);
  const store = new LocalRunStore(runs);
  const controller = new AbortController();
  const t: Trace = { epochs: [], losses: new Map(), notes: [] };
  const listener: SweepListener = {
    onVariantStart: (i) => void ((t.resumed = i.resumed), (t.info = i)),
    onBatchEnd: (_i, epoch, batch, batches, loss) => {
      const b = epoch * batches + batch + 1;
      t.losses.set(b, loss);
      if (b === stopAtBatch) controller.abort();
    },
    onEpochEnd: (_i, _e, m) => void t.epochs.push(Object.fromEntries(Object.entries(m).filter(([k]) => !TIMING.has(k)))),
    onVariantNote: (_v, note) => void t.notes.push(note),
  };
  const results = await runSweep(
    { experiment: loaded.experiment.name, specFile: file, specText: loaded.text, dir: loaded.dir, plan: loaded.plan, model: loaded.model },
    { engine: testEngine('wasm'), only: [], skipReason: async () => undefined, signal: controller.signal, claims: store, featureCache: cache },
    [store, listener],
  );
  t.result = results.get(loaded.plan.variants[0].id);
  return t;
}

/** The completed variant's merged model, as the run store keeps it. */
function mergedWeights(runs: string): Buffer {
  const exp = join(runs, 'gen');
  const sweep = readdirSync(exp).find((n) => !n.startsWith('.'))!;
  const variant = readdirSync(join(exp, sweep)).find((n) => /^[0-9a-f]{12}$/.test(n))!;
  return readFileSync(join(exp, sweep, variant, 'merged', 'model.safetensors'));
}

function assertSame(resumed: Trace, stopped: Trace, unbroken: Trace, runs: string, reference: string): void {
  assert.equal(resumed.result?.status, 'completed', resumed.result?.reason);
  assert.equal(resumed.resumed?.inexact, undefined);
  assert.deepEqual([...stopped.epochs, ...resumed.epochs], unbroken.epochs, 'per-epoch metrics differ from the unbroken run');
  for (const [b, loss] of [...stopped.losses, ...resumed.losses]) assert.equal(loss, unbroken.losses.get(b), `batch ${b}`);
  assert.deepEqual(resumed.result!.metrics, unbroken.result!.metrics);
  assert.ok(mergedWeights(runs).equals(mergedWeights(reference)), 'the merged model differs from the unbroken run\'s');
}

test('a generation variant stopped after epoch 1 or 2, or mid-epoch with step checkpoints, resumes from the cache and ends bit for bit as the unbroken run', async () => {
  const dir = await tempDir();
  const cache = new FrozenFeatureCache(join(dir, 'cache'), 2 ** 30);
  const reference = join(dir, 'unbroken');
  const unbroken = await train(await specFile(dir), reference, cache);
  assert.equal(unbroken.result?.status, 'completed', unbroken.result?.reason);
  assert.equal(unbroken.losses.size, 24);
  assert.equal(unbroken.info?.featureCache.status, 'miss', unbroken.info?.featureCache.detail);

  for (const k of [1, 2]) {
    const runs = join(dir, `epoch-${k}`);
    const file = await specFile(dir);
    // Aborted in the first batch after epoch k: that step is redone from the epoch-end checkpoint.
    const stopped = await train(file, runs, cache, k * 8 + 1);
    assert.equal(stopped.result?.status, 'interrupted');
    assert.equal(stopped.info?.featureCache.status, 'hit', 'the second sweep reads the first one\'s hidden states');
    const resumed = await train(file, runs, cache);
    assert.deepEqual(resumed.notes, [`resuming from epoch ${k}/3`]);
    assertSame(resumed, stopped, unbroken, runs, reference);
  }

  // A checkpoint every 3 optimizer steps; aborted in batch 13 (epoch 2, step 3): resumed after step 6, batch 12.
  const runs = join(dir, 'mid-epoch');
  const file = await specFile(dir, 3);
  const stopped = await train(file, runs, cache, 13);
  const resumed = await train(file, runs, cache);
  assert.deepEqual(resumed.notes, ['resuming from step 2/4 of epoch 2/3']);
  assert.equal(Math.min(...resumed.losses.keys()), 13, 'batch 13 is trained again');
  assertSame(resumed, stopped, unbroken, runs, reference);
});

test('the causal loop resumed after an epoch continues LoRA dropout\'s mask draws, Adam and the shuffle bit for bit', async () => {
  const dir = await tempDir();
  const { tf } = await selectEngine(testEngine('wasm'), []);
  const rng = createRng(3);
  const data: ChatExample[] = Array.from({ length: 12 }, (_, i) => {
    const length = 5 + (i % 5);
    return { ids: Int32Array.from({ length }, () => 3 + Math.floor(rng() * 300)), labelMask: Uint8Array.from({ length }, (_, t) => (t >= length - 2 ? 1 : 0)) };
  });
  const spec = asGeneration(
    checkStructure({
      name: 'lora',
      task: 'generation',
      base_model: { source: TINY },
      data: { format: 'chat', path: 'x.jsonl' },
      training: { epochs: 3, batch_size: 4, learning_rate: 0.02, optimizer: 'adamw', weight_decay: 0.01, seed: 2 },
    }).spec!,
  );
  const identity: CheckpointIdentity = { variant: 'v', spec: 's', base: 'b', data: 'd', engine: 'e', features: 'end to end' };
  const info = { variant: { id: 'v', label: 'v' } } as unknown as VariantInfo;
  const model = async () => {
    const { model } = await loadLlama(tf, TINY);
    for (const l of model.layers) l.trainable = false;
    applyLora(tf, model, { rank: 2, alpha: 4, dropout: 0.3, targetModules: ['q_proj', 'v_proj'], blocks: [0, 1], seed: 2 });
    return model;
  };
  const weights = (m: TF.LayersModel) => m.trainableWeights.map((w) => Float32Array.from(w.read().dataSync()));
  const run = async (store: CheckpointStore | undefined, stopAfterEpoch?: number) => {
    const m = await model();
    const controller = new AbortController();
    const epochs: number[] = [];
    const listener: SweepListener = { onEpochEnd: (_i, e, metrics) => void (epochs.push(metrics.loss, metrics.val_loss), e + 1 === stopAfterEpoch && controller.abort()) };
    const from = store && (await store.latest(identity)).checkpoint;
    const checkpoints = store && { from, save: async (step: number, state: Record<string, unknown>, tensors: Parameters<CheckpointStore['save']>[0]['tensors']) => store.save({ identity, attempt: 'a', startedAt: 0, step, state, tensors }) };
    const outcome = await fitCausal(tf, m, spec, { train: data.slice(0, 9), validation: data.slice(9), padId: 2 }, info, [listener], controller.signal, { checkpoints }).catch((err: Error) => err);
    const w = weights(m);
    m.dispose();
    return { outcome, epochs, w };
  };
  const unbroken = await run(undefined);
  const store = new CheckpointStore(join(dir, 'checkpoints'));
  const stopped = await run(store, 1);
  assert.match(String(stopped.outcome), /interrupted/);
  const resumed = await run(store);
  assert.deepEqual([...stopped.epochs, ...resumed.epochs], unbroken.epochs);
  resumed.w.forEach((w, i) => assert.deepEqual(w, unbroken.w[i]));
});
