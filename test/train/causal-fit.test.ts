// The generation epoch loop (src/train/causal-fit.ts) on the tiny random Llama: gradient
// accumulation equals one big batch (token-weighted, so per-batch padding and the split into
// micro-batches change nothing), frozen layers stay bit-identical, and early stopping restores
// the kept epoch's weights.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { selectEngine } from '../../src/engine/backends.ts';
import { loadLlama } from '../../src/model/families/llama/load.ts';
import { fitCausal, padBatch } from '../../src/train/causal-fit.ts';
import type { ChatExample } from '../../src/data/chat-dataset.ts';
import type { VariantInfo } from '../../src/train/events.ts';
import { checkStructure } from '../../src/spec/structure.ts';
import { asGeneration } from '../../src/spec/derived.ts';
import { createRng } from '../../src/data/rng.ts';
import { ROOT } from '../helpers/cli.ts';

const TINY = join(ROOT, 'test', 'fixtures', 'text', 'tiny-llama');

/** Examples of different lengths (4 to 11 tokens), the last 3 tokens of each learned. */
function examples(n: number): ChatExample[] {
  const rng = createRng(7);
  return Array.from({ length: n }, (_, i) => {
    const length = 4 + (i % 8);
    const ids = Int32Array.from({ length }, () => 3 + Math.floor(rng() * 300));
    return { ids, labelMask: Uint8Array.from({ length }, (_, t) => (t >= length - 3 ? 1 : 0)) };
  });
}

function specWith(training: Record<string, unknown>) {
  const checked = checkStructure({
    name: 'fit',
    task: 'generation',
    base_model: { source: TINY },
    data: { format: 'chat', path: 'x.jsonl' },
    training: { epochs: 1, learning_rate: 0.01, optimizer: 'adamw', weight_decay: 0.01, max_grad_norm: 1, seed: 3, ...training },
  });
  assert.ok(checked.spec, JSON.stringify(checked.issues));
  return asGeneration(checked.spec);
}

const info = { variant: { id: 'test', label: 'test' } } as unknown as VariantInfo;

async function train(training: Record<string, unknown>, listeners = [] as Parameters<typeof fitCausal>[5]) {
  const { tf } = await selectEngine('wasm', []);
  const { model } = await loadLlama(tf, TINY);
  for (const l of model.layers) l.trainable = !['model.embed_tokens', 'model.layers.0'].includes(l.name);
  const data = examples(8);
  const outcome = await fitCausal(tf, model, specWith(training), { train: data, validation: data.slice(0, 4), padId: 2 }, info, listeners, new AbortController().signal);
  const weights = Object.fromEntries(model.weights.map((w) => [w.originalName, Float32Array.from(w.read().dataSync())]));
  model.dispose();
  return { outcome, weights, tf };
}

test('rows are padded on the right to the batch\'s longest, masked out of attention and loss', () => {
  const b = padBatch(examples(3), 2);
  assert.equal(b.length, 6);
  assert.deepEqual(Array.from(b.attention), [1, 1, 1, 1, 0, 0, 1, 1, 1, 1, 1, 0, 1, 1, 1, 1, 1, 1]);
  assert.deepEqual(Array.from(b.ids.slice(4, 6)), [2, 2]);
  assert.deepEqual(Array.from(b.labels.slice(0, 6)), [0, 1, 1, 1, 0, 0]);
  assert.equal(b.tokens, 15);
});

test('two accumulated batches of 2 train the same weights as one batch of 4; frozen layers do not move', async () => {
  const big = await train({ batch_size: 4 });
  const small = await train({ batch_size: 2, gradient_accumulation_steps: 2 });
  const { tf } = big;
  const base = await loadLlama(tf, TINY);
  const baseWeights = Object.fromEntries(base.model.weights.map((w) => [w.originalName, Float32Array.from(w.read().dataSync())]));
  base.model.dispose();
  let moved = 0;
  for (const [name, w] of Object.entries(big.weights)) {
    const frozen = name.startsWith('model.embed_tokens/') || name.startsWith('model.layers.0/');
    if (frozen) {
      assert.deepEqual(w, baseWeights[name], `${name} is frozen`);
      assert.deepEqual(small.weights[name], baseWeights[name], `${name} is frozen`);
      continue;
    }
    let diff = 0;
    let change = 0;
    for (let i = 0; i < w.length; i++) {
      diff = Math.max(diff, Math.abs(w[i] - small.weights[name][i]));
      change = Math.max(change, Math.abs(w[i] - baseWeights[name][i]));
    }
    assert.ok(diff < 1e-5, `${name}: accumulated and big-batch weights differ by ${diff}`);
    if (change > 1e-4) moved++;
  }
  assert.ok(moved >= 3, 'the trainable layers trained');
  // Two optimizer steps either way: the same schedule position, the same metrics.
  assert.ok(Math.abs(big.outcome.metrics.val_loss - small.outcome.metrics.val_loss) < 1e-5);
});

test('early stopping restores the kept epoch\'s weights and reports its metrics', async () => {
  const seen: Record<string, Float32Array>[] = [];
  const epochs: number[] = [];
  const listener = { onEpochEnd: (_i: VariantInfo, _epoch: number, m: Record<string, number>) => void epochs.push(m.loss) };
  // Watching training loss for a maximum: it falls, so the first epoch stays the best, and patience 0 stops after the second.
  const { tf } = await selectEngine('wasm', []);
  const loaded = await loadLlama(tf, TINY);
  for (const l of loaded.model.layers) l.trainable = l.name === 'lm_head';
  const snapshot = () => Object.fromEntries(loaded.model.trainableWeights.map((w) => [w.originalName, Float32Array.from(w.read().dataSync())]));
  const data = examples(8);
  const spec = specWith({ epochs: 5, batch_size: 4, learning_rate: 0.05, early_stopping: { monitor: 'loss', mode: 'max', patience: 0 } });
  const capture = { onEpochEnd: () => void seen.push(snapshot()) };
  const outcome = await fitCausal(tf, loaded.model, spec, { train: data, validation: data.slice(0, 4), padId: 2 }, info, [listener, capture], new AbortController().signal);
  assert.equal(epochs.length, 2);
  assert.ok(epochs[1] < epochs[0]);
  assert.equal(outcome.bestEpoch, 1);
  assert.equal(outcome.metrics.kept_epoch, 1);
  assert.equal(outcome.metrics.epochs_run, 2);
  assert.deepEqual(snapshot(), seen[0]);
  assert.notDeepEqual(snapshot(), seen[1]);
  loaded.model.dispose();
});
