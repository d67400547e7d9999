// tunespec's BERT encoder against an independent implementation (scripts/text_reference.py: NumPy,
// float64, ids from Rust tokenizers): the same mean-pooled, L2-normalised sentence vectors on the
// tiny random BERT (always) and on the real all-MiniLM-L6-v2 (when `npm run models:text` laid it
// out). Also: padding never moves a real token's output, layer and weight names are Hugging Face's,
// weights export back to the checkpoint bit for bit, and a checkpoint that does not fit its
// config.json is refused naming the tensor.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { copyFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type * as TF from '@tensorflow/tfjs';
import { selectEngine, type Tf } from '../../src/engine/backends.ts';
import { loadHfEncoder } from '../../src/model/hf/encoder.ts';
import { encodeSafetensors } from '../../src/model/hf/safetensors-write.ts';
import { readHfWeights } from '../../src/model/hf/weights.ts';
import { saveHfFolder } from '../../src/model/hf/save-folder.ts';
import { assertSameCheckpoint } from '../helpers/checkpoint.ts';
import { ROOT, tempDir } from '../helpers/cli.ts';

const FIXTURES = join(ROOT, 'test', 'fixtures', 'text');
const TINY = join(FIXTURES, 'tiny-bert');
const MINILM = join(ROOT, '.cache', 'models', 'all-MiniLM-L6-v2');

interface Reference {
  sha256: Record<string, string>;
  sentences: { text: string; input_ids: number[]; token_type_ids: number[]; embedding: number[]; pooler_output?: number[] }[];
}

const reference = (name: string): Reference => JSON.parse(readFileSync(join(FIXTURES, name), 'utf8'));

/** Sentences padded to `length` (0s past the end), as a batch of the model's three inputs. */
function batch(tf: Tf, rows: { input_ids: number[]; token_type_ids: number[] }[], length: number): TF.Tensor[] {
  assert.ok(rows.every((r) => r.input_ids.length <= length), `every sentence fits in ${length} tokens`);
  const pad = (xs: number[], fill: (i: number) => number) => Array.from({ length }, (_, i) => (i < xs.length ? xs[i] : fill(i)));
  const ids = rows.map((r) => pad(r.input_ids, () => 0));
  const mask = rows.map((r) => pad(r.input_ids.map(() => 1), () => 0));
  const types = rows.map((r) => pad(r.token_type_ids, () => 0));
  return [ids, mask, types].map((m) => tf.tensor2d(m, [rows.length, length], 'int32'));
}

/** Mean of the real tokens' hidden states, L2-normalised: sentence-transformers' pooling. */
function sentenceVectors(tf: Tf, model: TF.LayersModel, inputs: TF.Tensor[]): { vectors: number[][]; pooled: number[][] | null } {
  const [unit, pooled] = tf.tidy(() => {
    const out = model.predict(inputs) as TF.Tensor[];
    const mask = tf.cast(inputs[1], 'float32').expandDims(-1);
    const mean = tf.div(tf.sum(tf.mul(out[0], mask), 1), tf.sum(mask, 1));
    return [tf.div(mean, tf.norm(mean, 2, -1, true)), out[1] ?? tf.zeros([0])];
  });
  const result = { vectors: unit.arraySync() as number[][], pooled: pooled.size ? (pooled.arraySync() as number[][]) : null };
  tf.dispose([unit, pooled]);
  return result;
}

function maxDiff(a: number[][], b: number[][]): number {
  let m = 0;
  a.forEach((row, i) => row.forEach((v, j) => (m = Math.max(m, Math.abs(v - b[i][j])))));
  return m;
}

async function parity(engine: 'wasm' | 'cpu', folder: string, fixture: string): Promise<{ vectors: number; pooler: number }> {
  const { tf } = await selectEngine(engine, []);
  const ref = reference(fixture);
  const { model } = await loadHfEncoder(tf, folder);
  const before = tf.memory().numTensors;
  try {
    // One padded batch: the reference ran every sentence unpadded, so this also checks the mask.
    const length = Math.max(...ref.sentences.map((s) => s.input_ids.length)) + 3;
    const inputs = batch(tf, ref.sentences, length);
    const got = sentenceVectors(tf, model, inputs);
    inputs.forEach((t) => t.dispose());
    assert.equal(tf.memory().numTensors, before, 'the forward pass leaks no tensors');
    const pooler = ref.sentences[0].pooler_output ? maxDiff(got.pooled!, ref.sentences.map((s) => s.pooler_output!)) : 0;
    return { vectors: maxDiff(got.vectors, ref.sentences.map((s) => s.embedding)), pooler };
  } finally {
    model.dispose();
  }
}

for (const engine of ['wasm', 'cpu'] as const) {
  test(`tiny BERT on ${engine}: sentence vectors and pooler output match the NumPy reference`, async () => {
    const d = await parity(engine, TINY, 'tiny-bert-reference.json');
    assert.ok(d.vectors < 1e-4, `max |diff| of sentence vectors ${d.vectors}`);
    assert.ok(d.pooler < 1e-4, `max |diff| of pooler output ${d.pooler}`);
    console.log(`# tiny BERT ${engine}: max |diff| vectors ${d.vectors.toExponential(2)}, pooler ${d.pooler.toExponential(2)}`);
  });
}

test('all-MiniLM-L6-v2: sentence vectors match the NumPy reference', { skip: !existsSync(join(MINILM, 'model.safetensors')) && `${MINILM} is absent: run \`npm run models:text\`` }, async () => {
  const ref = reference('minilm-reference.json');
  const want = JSON.parse(readFileSync(join(MINILM, 'config.json'), 'utf8'));
  assert.equal(createHash('sha256').update(readFileSync(join(MINILM, 'model.safetensors'))).digest('hex'), ref.sha256['model.safetensors'], 'the fixture was made from these weights');
  assert.equal(want.hidden_size, ref.sentences[0].embedding.length);
  const d = await parity('wasm', MINILM, 'minilm-reference.json');
  console.log(`# MiniLM wasm: max |diff| of sentence vectors ${d.vectors.toExponential(2)}`);
  assert.ok(d.vectors < 1e-4, `max |diff| ${d.vectors}`);
});

for (const [label, folder, fixture] of [
  ['tiny BERT', TINY, 'tiny-bert-reference.json'],
  ['all-MiniLM-L6-v2', MINILM, 'minilm-reference.json'],
] as const) {
  const absent = !existsSync(join(folder, 'model.safetensors')) && `${folder} is absent: run \`npm run models:text\``;
  test(`${label}: padding to 16 or to 64 tokens gives the same pooled vector`, { skip: absent }, async () => {
    const { tf } = await selectEngine('wasm', []);
    const { model } = await loadHfEncoder(tf, folder);
    const maxPositions = JSON.parse(readFileSync(join(folder, 'config.json'), 'utf8')).max_position_embeddings;
    try {
      const sentence = reference(fixture).sentences[10];
      assert.ok(sentence.input_ids.length > 8 && sentence.input_ids.length <= 16);
      const at = (length: number) => {
        const inputs = batch(tf, [sentence], length);
        const v = sentenceVectors(tf, model, inputs);
        inputs.forEach((t) => t.dispose());
        return v;
      };
      const [short, long] = [at(16), at(64)];
      console.log(`# ${label} padded 16 vs 64: max |diff| vectors ${maxDiff(short.vectors, long.vectors).toExponential(2)}, pooler ${maxDiff(short.pooled!, long.pooled!).toExponential(2)}`);
      assert.ok(maxDiff(short.vectors, long.vectors) < 1e-5, `sentence vectors differ by ${maxDiff(short.vectors, long.vectors)}`);
      assert.ok(maxDiff(short.pooled!, long.pooled!) < 1e-5, `pooler outputs differ by ${maxDiff(short.pooled!, long.pooled!)}`);
      // The mask is what makes them agree: unmasked padding would move the vector.
      const inputs = batch(tf, [sentence], 64);
      const unmasked = [inputs[0], tf.onesLike(inputs[1]), inputs[2]];
      const moved = sentenceVectors(tf, model, unmasked);
      tf.dispose([...inputs, unmasked[1]]);
      assert.ok(maxDiff(moved.pooled!, long.pooled!) > 1e-3, 'attending to padding changes the output');
      const tooLong = batch(tf, [sentence], maxPositions + 1);
      assert.throws(() => model.predict(tooLong), { message: `embeddings: a sequence of ${maxPositions + 1} tokens is longer than max_position_embeddings (${maxPositions}); truncate it (max_length)` });
      tf.dispose(tooLong);
    } finally {
      model.dispose();
    }
  });
}

test('layers and weights carry the Hugging Face names; export gives the checkpoint back bit for bit', async () => {
  const { tf } = await selectEngine('wasm', []);
  const { model, family, unused } = await loadHfEncoder(tf, TINY);
  try {
    assert.deepEqual(model.layers.map((l) => l.name), ['input_ids', 'token_type_ids', 'embeddings', 'attention_mask', 'encoder.layer.0', 'encoder.layer.1', 'pooler']);
    assert.deepEqual(unused, []);
    await assertSameCheckpoint(family.exportWeights(model), TINY, (n) => n === 'embeddings.position_ids');
  } finally {
    model.dispose();
  }
});

test('a trained encoder saves as a Hugging Face folder that loads back with the same outputs', async () => {
  const { tf } = await selectEngine('wasm', []);
  const { model, family } = await loadHfEncoder(tf, TINY);
  const out = join(tempDir(), 'saved');
  try {
    // Move the weights away from the checkpoint's, as training would, so the round trip proves something.
    model.setWeights(model.getWeights().map((w) => tf.tidy(() => tf.add(w, tf.randomNormal(w.shape, 0, 0.01, 'float32', 5)))));
    assert.deepEqual(await saveHfFolder(model, family, TINY, out), ['config.json', 'model.safetensors', 'special_tokens_map.json', 'tokenizer.json', 'tokenizer_config.json', 'vocab.txt']);
    const again = await loadHfEncoder(tf, out);
    const inputs = batch(tf, reference('tiny-bert-reference.json').sentences.slice(0, 4), 24);
    const [a, b] = [sentenceVectors(tf, model, inputs), sentenceVectors(tf, again.model, inputs)];
    assert.deepEqual(b, a);
    tf.dispose(inputs);
    again.model.dispose();
  } finally {
    model.dispose();
  }
});

test('a checkpoint that does not fit config.json is refused, naming the tensors', async () => {
  const { tf } = await selectEngine('wasm', []);
  const dir = tempDir();
  for (const f of ['config.json', 'tokenizer.json']) await copyFile(join(TINY, f), join(dir, f));
  const weights = await readHfWeights(TINY);
  const tensors = weights
    .names()
    .filter((n) => n !== 'encoder.layer.1.output.dense.bias')
    .map((name) => {
      const v = weights.values(name);
      const wrong = name === 'encoder.layer.0.intermediate.dense.weight';
      return { name, dtype: v.dtype === 'I64' ? ('I64' as const) : ('F32' as const), shape: wrong ? [v.shape[1], v.shape[0]] : v.shape, values: v.values };
    });
  await writeFile(join(dir, 'model.safetensors'), encodeSafetensors(tensors));
  await assert.rejects(loadHfEncoder(tf, dir), {
    message:
      `${join(dir, 'model.safetensors')} does not fit config.json: "encoder.layer.0.intermediate.dense.weight" has shape [32, 64] and config.json ` +
      '(hidden_size 32, intermediate_size 64, vocab_size 210) implies [64, 32]; "encoder.layer.1.output.dense.bias" is missing',
  });
  const config = JSON.parse(readFileSync(join(TINY, 'config.json'), 'utf8'));
  await writeFile(join(dir, 'config.json'), JSON.stringify({ ...config, model_type: 'gpt2' }));
  await assert.rejects(loadHfEncoder(tf, dir), { message: `${join(dir, 'config.json')}: model_type "gpt2" is not supported (supported: bert, roberta, xlm-roberta, distilbert)` });
  await writeFile(join(dir, 'config.json'), JSON.stringify({ ...config, hidden_act: 'gelu_new', num_attention_heads: 5 }));
  await assert.rejects(loadHfEncoder(tf, dir), {
    message: `${join(dir, 'config.json')}: hidden_act "gelu_new" is not supported (only "gelu", the erf form); hidden_size 32 is not a multiple of num_attention_heads 5`,
  });
});
