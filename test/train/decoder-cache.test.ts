// The frozen-block cache of generation variants (src/train/decoder-features.ts) on the tiny random
// Llama: where it starts (the first block with LoRA or trainable weights), that training from the
// cached hidden states gives the metrics and weights end-to-end training gives, that the frozen
// blocks are not run while it trains, and that a second request reads the entry the first wrote.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import type * as TF from '@tensorflow/tfjs';
import { selectEngine } from '../../src/engine/backends.ts';
import { FrozenFeatureCache } from '../../src/engine/feature-cache.ts';
import { loadLlama } from '../../src/model/families/llama/load.ts';
import { applyLora } from '../../src/model/families/llama/lora.ts';
import { fitCausal, type CausalExample } from '../../src/train/causal-fit.ts';
import { decoderFeatures, firstTrainableBlock } from '../../src/train/decoder-features.ts';
import type { ChatExample } from '../../src/data/chat-dataset.ts';
import type { EpochMetrics, SweepListener, VariantInfo } from '../../src/train/events.ts';
import { checkStructure } from '../../src/spec/structure.ts';
import { asGeneration } from '../../src/spec/derived.ts';
import { createRng } from '../../src/data/rng.ts';
import { ROOT } from '../helpers/cli.ts';
import { tempDir } from './helpers.ts';

const TINY = join(ROOT, 'test', 'fixtures', 'text', 'tiny-llama');

/**
 * How close cached and end-to-end training must stay. The cached hidden states are computed in
 * batches of 8 padded to their longest row, training's batches hold 4 padded to theirs: the same
 * per-row sums over differently padded shapes, which a backend's matmul kernels may tile and round
 * differently in the last float32 bits (relative ~1e-7), and two epochs of Adam can grow such a
 * difference a few hundredfold on this tiny model. On wasm the two come out bit for bit equal here
 * (measured), and SmolLM2's 28 frozen blocks differ by up to 1.3e-5 in val_loss (bench/README.md);
 * 1e-4 is what is promised, and still fails any real divergence (a wrong boundary, a skipped
 * block, padding read as tokens: the losses differ from the second decimal).
 */
const TOLERANCE = 1e-4;

function examples(n: number): ChatExample[] {
  const rng = createRng(11);
  return Array.from({ length: n }, (_, i) => {
    const length = 5 + (i % 7);
    const ids = Int32Array.from({ length }, () => 3 + Math.floor(rng() * 300));
    return { ids, labelMask: Uint8Array.from({ length }, (_, t) => (t >= length - 3 ? 1 : 0)) };
  });
}

const spec = asGeneration(
  checkStructure({
    name: 'cache',
    task: 'generation',
    base_model: { source: TINY },
    data: { format: 'chat', path: 'x.jsonl' },
    training: { epochs: 2, batch_size: 4, learning_rate: 0.01, optimizer: 'adamw', weight_decay: 0.01, max_grad_norm: 1, seed: 5 },
  }).spec!,
);
const info = { variant: { id: 'test', label: 'test' } } as unknown as VariantInfo;
const DATA = examples(20);
const TRAIN = DATA.slice(0, 16);
const VALIDATION = DATA.slice(16);

async function llama(adapt: 'lora' | 'top') {
  const { tf } = await selectEngine('wasm', []);
  const { model } = await loadLlama(tf, TINY);
  if (adapt === 'lora') {
    for (const l of model.layers) l.trainable = false;
    // Dropout on: its masks must be the same draws whichever way the block's input is computed.
    applyLora(tf, model, { rank: 4, alpha: 8, dropout: 0.1, targetModules: ['q_proj', 'v_proj', 'down_proj'], blocks: [1], seed: 5 });
  } else {
    for (const l of model.layers) l.trainable = !['model.embed_tokens', 'model.layers.0'].includes(l.name);
  }
  return { tf, model };
}

const trainedWeights = (model: TF.LayersModel) => Object.fromEntries(model.trainableWeights.map((w) => [w.originalName, Float32Array.from(w.read().dataSync())]));

async function train(tf: Awaited<ReturnType<typeof llama>>['tf'], model: TF.LayersModel, cache?: FrozenFeatureCache) {
  const epochs: EpochMetrics[] = [];
  const listener: SweepListener = { onEpochEnd: (_i, _e, m) => void epochs.push({ loss: m.loss, val_loss: m.val_loss }) };
  let train: CausalExample[] = TRAIN;
  let validation: CausalExample[] = VALIDATION;
  let from;
  if (cache) {
    const got = await decoderFeatures({ tf, model, examples: DATA, padId: 2, baseDigest: 'tiny', dataDigest: 'data', tokenizerDigest: 'tok', maxLength: 128, engine: 'tfjs wasm', cache });
    assert.ok(got.features, got.report.detail);
    from = got.features.boundary;
    const rows = got.features.rows;
    train = TRAIN.map((e, i) => ({ ...e, hidden: rows[i] }));
    validation = VALIDATION.map((e, i) => ({ ...e, hidden: rows[16 + i] }));
  }
  const outcome = await fitCausal(tf, model, spec, { train, validation, padId: 2, from }, info, [listener], new AbortController().signal);
  return { epochs, outcome, weights: trainedWeights(model) };
}

function maxDiff(a: Record<string, Float32Array>, b: Record<string, Float32Array>): number {
  let d = 0;
  for (const [k, v] of Object.entries(a)) for (let i = 0; i < v.length; i++) d = Math.max(d, Math.abs(v[i] - b[k][i]));
  return d;
}

test('the cache starts at the first block with LoRA or trainable weights, and is off when the embeddings or block 0 train', async () => {
  const lora = await llama('lora');
  assert.deepEqual(firstTrainableBlock(lora.model), { block: 1 });
  lora.model.dispose();
  const top = await llama('top');
  assert.deepEqual(firstTrainableBlock(top.model), { block: 1 });
  for (const l of top.model.layers) l.trainable = l.name === 'lm_head';
  assert.deepEqual(firstTrainableBlock(top.model), { block: 2 }, 'only the LM head trains: the hidden states after the last block');
  top.model.getLayer('model.layers.0').trainable = true;
  assert.match((firstTrainableBlock(top.model) as { reason: string }).reason, /block 0 trains/);
  top.model.getLayer('model.embed_tokens').trainable = true;
  assert.match((firstTrainableBlock(top.model) as { reason: string }).reason, /token embeddings train/);
  top.model.dispose();
});

for (const adapt of ['lora', 'top'] as const) {
  test(`${adapt === 'lora' ? 'LoRA on block 1' : 'block 1, norm and head unfrozen'}: training from the cached hidden states gives end-to-end training's metrics and weights`, async () => {
    const cache = new FrozenFeatureCache(await tempDir(), 2 ** 30);
    const a = await llama(adapt);
    const end = await train(a.tf, a.model);
    a.model.dispose();
    const b = await llama(adapt);
    const cached = await train(b.tf, b.model, cache);
    b.model.dispose();
    assert.equal(cached.epochs.length, 2);
    end.epochs.forEach((m, e) => {
      for (const k of ['loss', 'val_loss'] as const) assert.ok(Math.abs(m[k] - cached.epochs[e][k]) < TOLERANCE, `epoch ${e + 1} ${k}: ${m[k]} end to end, ${cached.epochs[e][k]} cached`);
    });
    assert.ok(end.epochs[1].loss < end.epochs[0].loss - 1e-3, 'it trained');
    const d = maxDiff(end.weights, cached.weights);
    assert.ok(d < TOLERANCE, `trained weights differ by ${d}`);
  });
}

test('the frozen blocks are not run while training from the cache; a second request reads the entry the first wrote', async () => {
  const cache = new FrozenFeatureCache(await tempDir(), 2 ** 30);
  const request = (tf: Awaited<ReturnType<typeof llama>>['tf'], model: TF.LayersModel, engine = 'tfjs wasm') =>
    decoderFeatures({ tf, model, examples: DATA, padId: 2, baseDigest: 'tiny', dataDigest: 'data', tokenizerDigest: 'tok', maxLength: 128, engine, cache });
  const a = await llama('lora');
  const first = await request(a.tf, a.model);
  assert.equal(first.report.status, 'miss', first.report.detail);
  assert.match(first.report.detail, /hidden states at the input of model\.layers\.1 computed in [\d.]+s \(tfjs wasm\) and cached/);
  const intact = await train(a.tf, a.model, cache);
  a.model.dispose();

  // Block 0's weights made NaN after the entry exists: were it run, the loss would be NaN.
  const b = await llama('lora');
  for (const w of b.model.getLayer('model.layers.0').weights) w.write(b.tf.fill(w.shape as number[], Number.NaN));
  const second = await request(b.tf, b.model);
  assert.equal(second.report.status, 'hit', second.report.detail);
  assert.match(second.report.detail, /hidden states at the input of model\.layers\.1 from the cache, saving [\d.]+s/);
  second.features!.rows.forEach((r, i) => assert.deepEqual(r, first.features!.rows[i]));
  const poisoned = await train(b.tf, b.model, cache);
  assert.deepEqual(poisoned.epochs, intact.epochs, 'the same training as with block 0 intact, bit for bit');
  assert.deepEqual(poisoned.weights, intact.weights);
  // End to end, the same model does run block 0, and fails on it.
  await assert.rejects(fitCausal(b.tf, b.model, spec, { train: TRAIN, validation: VALIDATION, padId: 2 }, info, [], new AbortController().signal), /loss is NaN/);
  b.model.dispose();

  // Another engine's arithmetic is another entry; no cache is no entry at all.
  const c = await llama('lora');
  assert.equal((await request(c.tf, c.model, 'tfjs cpu')).report.status, 'miss');
  const off = await decoderFeatures({ tf: c.tf, model: c.model, examples: DATA, padId: 2, baseDigest: 'tiny', dataDigest: 'data', tokenizerDigest: 'tok', maxLength: 128, engine: 'tfjs wasm' });
  assert.deepEqual(off, { report: { status: 'off', detail: 'turned off (--no-feature-cache)' } });
  c.model.dispose();
});
