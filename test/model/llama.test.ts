// tunespec's Llama decoder and GGUF reader against independent implementations: the NumPy forward
// pass of scripts/llama_reference.py (float64) and the `gguf` and Rust `tokenizers` packages. On the
// tiny random Llama (a Hugging Face folder and its GGUF twin, always) and on SmolLM2-135M-Instruct
// (when `npm run models:gpt` has placed its GGUF): logits, greedy tokens, tokenizer ids, dequantised
// weights. Also: padding on either side never moves a real token's logits, names are Hugging
// Face's, weights export back bit for bit, and bad files and configs are refused, located.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { copyFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type * as TF from '@tensorflow/tfjs';
import { Tokenizer } from '@huggingface/tokenizers';
import { selectEngine, type Tf } from '../../src/engine/backends.ts';
import { dequantize } from '../../src/model/gguf/dequantize.ts';
import { parseGguf, readGguf } from '../../src/model/gguf/read.ts';
import { ggufTokenizer } from '../../src/model/gguf/tokenizer.ts';
import { greedyDecode } from '../../src/model/families/llama/generate.ts';
import { llamaFamily } from '../../src/model/families/llama/index.ts';
import { loadLlama } from '../../src/model/families/llama/load.ts';
import { encodeSafetensors } from '../../src/model/hf/safetensors-write.ts';
import { readHfWeights } from '../../src/model/hf/weights.ts';
import { assertSameCheckpoint } from '../helpers/checkpoint.ts';
import { ROOT, tempDir } from '../helpers/cli.ts';

const FIXTURES = join(ROOT, 'test', 'fixtures', 'text');
const TINY = join(FIXTURES, 'tiny-llama');
const TINY_GGUF = join(FIXTURES, 'tiny-llama.gguf');
const SMOLLM2 = join(ROOT, '.cache', 'models', 'SmolLM2-135M-Instruct.Q4_1.gguf');

interface TinyReference {
  vocab_size: number;
  prompts: { text: string; input_ids: number[]; logits: number[]; tied_logits: number[]; gguf_logits: number[]; greedy: number[] }[];
}
const tinyRef: TinyReference = JSON.parse(readFileSync(join(FIXTURES, 'tiny-llama-reference.json'), 'utf8'));

/** Sequences padded to `length` on the given side, as the model's two inputs. */
function batch(tf: Tf, rows: number[][], length: number, side: 'right' | 'left'): TF.Tensor[] {
  const pad = (xs: number[], fill: number) => (side === 'right' ? [...xs, ...Array(length - xs.length).fill(fill)] : [...Array(length - xs.length).fill(fill), ...xs]);
  const ids = rows.map((r) => pad(r, 2));
  const mask = rows.map((r) => pad(r.map(() => 1), 0));
  return [tf.tensor2d(ids, [rows.length, length], 'int32'), tf.tensor2d(mask, [rows.length, length], 'int32')];
}

/** Each row's logits at its real tokens, [tokens][vocab] flattened, from one padded batch. */
function realLogits(tf: Tf, model: TF.LayersModel, rows: number[][], side: 'right' | 'left'): number[][] {
  const length = Math.max(...rows.map((r) => r.length)) + 2;
  const inputs = batch(tf, rows, length, side);
  const logits = model.predict(inputs) as TF.Tensor;
  const all = logits.arraySync() as number[][][];
  tf.dispose([...inputs, logits]);
  return rows.map((r, i) => (side === 'right' ? all[i].slice(0, r.length) : all[i].slice(length - r.length)).flat());
}

const maxDiff = (a: ArrayLike<number>, b: ArrayLike<number>): number => {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
};

for (const engine of ['wasm', 'cpu'] as const) {
  test(`tiny Llama on ${engine}: logits of every position match the NumPy reference, padded on either side`, async () => {
    const { tf } = await selectEngine(engine, []);
    const { model, unused } = await loadLlama(tf, TINY);
    const before = tf.memory().numTensors;
    try {
      assert.deepEqual(unused, []);
      const rows = tinyRef.prompts.map((p) => p.input_ids);
      for (const side of ['right', 'left'] as const) {
        const got = realLogits(tf, model, rows, side);
        const d = Math.max(...got.map((g, i) => maxDiff(g, tinyRef.prompts[i].logits)));
        console.log(`# tiny Llama ${engine}, ${side}-padded: max |diff| of logits ${d.toExponential(2)}`);
        assert.ok(d < 1e-4, `max |diff| ${d}`);
      }
      assert.equal(tf.memory().numTensors, before, 'the forward pass leaks no tensors');
      // The padding mask is what makes padding harmless: attending to it moves the logits.
      const inputs = batch(tf, [rows[0]], rows[0].length + 3, 'left');
      const unmasked = tf.onesLike(inputs[1]);
      const moved = (model.predict([inputs[0], unmasked]) as TF.Tensor).arraySync() as number[][][];
      tf.dispose([...inputs, unmasked]);
      assert.ok(maxDiff(moved[0].slice(3).flat(), tinyRef.prompts[0].logits) > 1e-2, 'attending to padding changes the logits');
    } finally {
      model.dispose();
    }
  });
}

test('tiny Llama: greedy decoding with a KV cache gives the NumPy reference tokens', async () => {
  const { tf } = await selectEngine('wasm', []);
  const { model, config } = await loadLlama(tf, TINY);
  try {
    const before = tf.memory().numTensors;
    for (const p of tinyRef.prompts) {
      const streamed: number[] = [];
      const got = greedyDecode(tf, model, config, p.input_ids, { maxNewTokens: p.greedy.length, stop: [], onToken: (id) => streamed.push(id) });
      assert.deepEqual(got, p.greedy, p.text);
      assert.deepEqual(streamed, got);
    }
    assert.equal(tf.memory().numTensors, before, 'decoding leaks no tensors');
    assert.deepEqual(greedyDecode(tf, model, config, tinyRef.prompts[0].input_ids, { maxNewTokens: 8, stop: [tinyRef.prompts[0].greedy[2]] }), tinyRef.prompts[0].greedy.slice(0, 2), 'a stop token ends the answer');
    assert.throws(() => greedyDecode(tf, model, config, [5, 999], { maxNewTokens: 1, stop: [] }), { message: 'token id 999 is outside the 320-token vocabulary' });
  } finally {
    model.dispose();
  }
});

test('tiny Llama trains: every weight, embeddings included, gets a finite, non-zero gradient of the next-token loss on wasm', async () => {
  const { tf } = await selectEngine('wasm', []);
  const { model } = await loadLlama(tf, TINY);
  try {
    const rows = tinyRef.prompts.map((p) => p.input_ids);
    const [ids, mask] = batch(tf, rows, Math.max(...rows.map((r) => r.length)), 'right');
    const vars = model.trainableWeights.map((w) => w.read() as TF.Variable);
    const { value, grads } = tf.variableGrads(() => {
      const logits = model.apply([ids, mask], { training: true }) as TF.Tensor;
      const T = ids.shape[1]!;
      // Each position predicts the next token; padding positions do not count.
      const targets = tf.oneHot(tf.slice(ids, [0, 1], [-1, T - 1]).reshape([-1]), tinyRef.vocab_size);
      const weights = tf.cast(tf.slice(mask, [0, 1], [-1, T - 1]), 'float32').reshape([-1]);
      const predicted = tf.slice(logits, [0, 0, 0], [-1, T - 1, -1]).reshape([-1, tinyRef.vocab_size]);
      return tf.losses.softmaxCrossEntropy(targets, predicted, weights) as TF.Scalar;
    }, vars);
    assert.ok(Number.isFinite(value.dataSync()[0]));
    assert.deepEqual(Object.keys(grads).length, vars.length);
    for (const [name, g] of Object.entries(grads)) {
      const norm = tf.norm(g).dataSync()[0];
      assert.ok(Number.isFinite(norm) && norm > 0, `${name}: gradient norm ${norm}`);
    }
    tf.dispose([ids, mask, value, ...Object.values(grads)]);
  } finally {
    model.dispose();
  }
});

test('tiny Llama with the head tied to the embeddings matches the NumPy reference', async () => {
  const { tf } = await selectEngine('wasm', []);
  const dir = tempDir();
  const config = JSON.parse(readFileSync(join(TINY, 'config.json'), 'utf8'));
  await writeFile(join(dir, 'config.json'), JSON.stringify({ ...config, tie_word_embeddings: true }));
  await copyFile(join(TINY, 'tokenizer.json'), join(dir, 'tokenizer.json'));
  const weights = await readHfWeights(TINY);
  const kept = weights.names().filter((n) => n !== 'lm_head.weight');
  await writeFile(join(dir, 'model.safetensors'), encodeSafetensors(kept.map((name) => ({ name, dtype: 'F32' as const, shape: weights.values(name).shape, values: weights.values(name).values as Float32Array }))));
  const { model } = await loadLlama(tf, dir);
  try {
    assert.equal(model.weights.filter((w) => w.name.startsWith('lm_head')).length, 0, 'a tied head owns no weight');
    const got = realLogits(tf, model, tinyRef.prompts.map((p) => p.input_ids), 'right');
    const d = Math.max(...got.map((g, i) => maxDiff(g.slice(g.length - tinyRef.vocab_size), tinyRef.prompts[i].tied_logits)));
    console.log(`# tiny Llama tied: max |diff| ${d.toExponential(2)}`);
    assert.ok(d < 1e-4, `max |diff| ${d}`);
  } finally {
    model.dispose();
  }
});

test('tiny Llama GGUF (Q8_0, Q4_1, Q4_0, F16, BF16, F32; permuted q/k): logits match the NumPy reference on gguf-quantised weights', async () => {
  const { tf } = await selectEngine('wasm', []);
  const { model, unused, config } = await loadLlama(tf, TINY_GGUF);
  try {
    assert.deepEqual(unused, []);
    assert.equal(config.tieWordEmbeddings, false);
    const got = realLogits(tf, model, tinyRef.prompts.map((p) => p.input_ids), 'right');
    const d = Math.max(...got.map((g, i) => maxDiff(g.slice(g.length - tinyRef.vocab_size), tinyRef.prompts[i].gguf_logits)));
    console.log(`# tiny Llama GGUF: max |diff| ${d.toExponential(2)}`);
    assert.ok(d < 1e-4, `max |diff| ${d}`);
  } finally {
    model.dispose();
  }
});

test('the tokenizer rebuilt from GGUF metadata gives the ids of the Rust tokenizer', async () => {
  const file = await readGguf(TINY_GGUF);
  assert.equal(file.version, 3);
  assert.equal(file.metadata.get('general.architecture'), 'llama');
  assert.equal(file.tensors.get('blk.0.attn_q.weight')?.type.name, 'Q4_1');
  assert.deepEqual(file.tensors.get('blk.0.ffn_down.weight')?.shape, [32, 64]);
  const { tokenizerJson, tokenizerConfig } = ggufTokenizer(file);
  assert.equal(tokenizerConfig.eos_token, '<|im_end|>');
  assert.match(String(tokenizerConfig.chat_template), /<\|im_start\|>/);
  const fromGguf = new Tokenizer(tokenizerJson as never, tokenizerConfig as never);
  const fromFolder = new Tokenizer(JSON.parse(readFileSync(join(TINY, 'tokenizer.json'), 'utf8')), {});
  for (const p of tinyRef.prompts) {
    assert.deepEqual(fromGguf.encode(p.text).ids, p.input_ids, p.text);
    assert.deepEqual(fromFolder.encode(p.text).ids, p.input_ids, p.text);
    assert.equal(fromGguf.decode(p.input_ids, { skip_special_tokens: false }), p.text);
  }
});

test('layers carry the Hugging Face names; export gives the checkpoint back bit for bit', async () => {
  const { tf } = await selectEngine('wasm', []);
  const { model } = await loadLlama(tf, TINY);
  try {
    assert.deepEqual(model.layers.map((l) => l.name), ['input_ids', 'model.embed_tokens', 'attention_mask', 'model.layers.0', 'model.layers.1', 'model.norm', 'lm_head']);
    await assertSameCheckpoint(llamaFamily.exportWeights(model), TINY);
  } finally {
    model.dispose();
  }
});

test('bad GGUF files and Llama configs are refused, naming the file and the problem', async () => {
  const { tf } = await selectEngine('wasm', []);
  const bytes = new Uint8Array(readFileSync(TINY_GGUF));
  assert.throws(() => parseGguf(bytes.slice(0, 1000), 'x.gguf'), { message: /^x\.gguf is not a valid GGUF file: it ends at byte 1000 while reading/ });
  assert.throws(() => parseGguf(bytes.slice(0, bytes.length - 100), 'x.gguf'), { message: /^x\.gguf is not a valid GGUF file: tensor "blk\.1\.ffn_down\.weight" \(F16 \[64, 32\]\) ends at byte \d+ of a \d+-byte file \(truncated file\?\)$/ });
  assert.throws(() => parseGguf(new TextEncoder().encode('{"not": "gguf"}'), 'x.gguf'), { message: 'x.gguf is not a valid GGUF file: it does not start with the magic "GGUF"' });
  // The first tensor's type field, rewritten to Q4_K (12): the file still parses; reading that tensor is refused.
  const copy = bytes.slice();
  const name = new TextEncoder().encode('token_embd.weight');
  const at = Buffer.from(copy).indexOf(Buffer.from(name)) + name.length + 4 + 2 * 8;
  new DataView(copy.buffer).setUint32(at, 12, true);
  const file = parseGguf(copy, 'q4k.gguf');
  assert.throws(() => dequantize(file, file.tensors.get('token_embd.weight')!), {
    message: 'q4k.gguf: tensor "token_embd.weight" is Q4_K, which tunespec cannot dequantise (it reads F32, F16, Q4_0, Q4_1, Q8_0, BF16); convert the file with llama.cpp\'s llama-quantize to one of those',
  });
  await assert.rejects(loadLlama(tf, join(tempDir(), 'absent.gguf')), { message: /absent\.gguf does not exist$/ });

  const dir = tempDir();
  for (const f of ['tokenizer.json', 'model.safetensors']) await copyFile(join(TINY, f), join(dir, f));
  const config = JSON.parse(readFileSync(join(TINY, 'config.json'), 'utf8'));
  await writeFile(join(dir, 'config.json'), JSON.stringify({ ...config, num_key_value_heads: 3, hidden_act: 'gelu', rope_scaling: { rope_type: 'yarn', factor: 4 } }));
  await assert.rejects(loadLlama(tf, dir), {
    message: `${join(dir, 'config.json')}: hidden_act "gelu" is not supported (only "silu"); rope_scaling {"rope_type":"yarn","factor":4} is not supported (only plain RoPE); num_attention_heads 4 is not a multiple of num_key_value_heads 3`,
  });
  await writeFile(join(dir, 'config.json'), JSON.stringify({ ...config, intermediate_size: 48 }));
  await assert.rejects(loadLlama(tf, dir), {
    message: new RegExp(`^${join(dir, 'model.safetensors').replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} does not fit its config: "model\\.layers\\.0\\.mlp\\.gate_proj\\.weight" has shape \\[64, 32\\] and its config \\(hidden_size 32, intermediate_size 48, 4 heads / 2 key-value heads of 8, vocab_size 320\\) implies \\[48, 32\\];`),
  });
});

interface SmolReference {
  gguf_sha256: string;
  prompts: { text: string; input_ids: number[]; top: [number, number][]; sample_ids: number[]; sample_logits: number[] }[];
  chat: { text: string; input_ids: number[]; greedy: number[]; answer: string };
  tensor_sums: Record<string, [number, number]>;
}

const smolAbsent = !existsSync(SMOLLM2) && `${SMOLLM2} is absent: run \`npm run models:gpt\``;

test('SmolLM2-135M-Instruct (Q4_1 GGUF): dequantised weights, tokens, logits and the greedy answer match the NumPy reference', { skip: smolAbsent }, async () => {
  const ref: SmolReference = JSON.parse(readFileSync(join(FIXTURES, 'smollm2-reference.json'), 'utf8'));
  const { tf } = await selectEngine('wasm', []);
  const bytes = readFileSync(SMOLLM2);
  assert.equal(createHash('sha256').update(bytes).digest('hex'), ref.gguf_sha256, 'the fixture was made from this file');
  const file = parseGguf(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength), SMOLLM2);
  let worst = 0;
  for (const info of file.tensors.values()) {
    const v = dequantize(file, info);
    let sum = 0;
    let abs = 0;
    for (let i = 0; i < v.length; i++) (sum += v[i]), (abs += Math.abs(v[i]));
    const [wantSum, wantAbs] = ref.tensor_sums[info.name];
    worst = Math.max(worst, Math.abs(sum - wantSum) / (wantAbs + 1e-9), Math.abs(abs - wantAbs) / (wantAbs + 1e-9));
  }
  assert.ok(worst < 1e-9, `every tensor dequantises as the gguf package does (worst relative difference of sums ${worst})`);

  let t0 = performance.now();
  const { model, config, tokenizerJson, tokenizerConfig } = await loadLlama(tf, SMOLLM2);
  const loadMs = performance.now() - t0;
  try {
    const tok = new Tokenizer(tokenizerJson as never, tokenizerConfig as never);
    let logitDiff = 0;
    for (const p of ref.prompts) {
      assert.deepEqual(tok.encode(p.text).ids, p.input_ids, p.text);
      const inputs = batch(tf, [p.input_ids], p.input_ids.length, 'right');
      const logits = model.predict(inputs) as TF.Tensor;
      const last = (tf.tidy(() => tf.slice(logits, [0, p.input_ids.length - 1, 0], [1, 1, -1]).reshape([-1])).dataSync() as Float32Array);
      tf.dispose([...inputs, logits]);
      logitDiff = Math.max(logitDiff, maxDiff(p.sample_ids.map((i) => last[i]), p.sample_logits), maxDiff(p.top.map(([i]) => last[i]), p.top.map(([, v]) => v)));
      assert.equal(last.indexOf(Math.max(...last)), p.top[0][0], `${p.text}: the same next token`);
    }
    assert.ok(logitDiff < 2e-2, `max |diff| of next-token logits ${logitDiff}`);
    assert.deepEqual(tok.encode(ref.chat.text).ids, ref.chat.input_ids);
    const eos = config.eosTokenId!;
    t0 = performance.now();
    const answer = greedyDecode(tf, model, config, ref.chat.input_ids, { maxNewTokens: 24, stop: [eos] });
    const decodeMs = performance.now() - t0;
    assert.deepEqual(answer, ref.chat.greedy);
    assert.equal(tok.decode(answer, { skip_special_tokens: true }), 'The capital of France is Paris.');
    console.log(`# SmolLM2 wasm: load ${loadMs.toFixed(0)} ms; max |diff| next-token logits ${logitDiff.toExponential(2)}; greedy "${tok.decode(answer)}" (${answer.length} tokens + stop, ${(((answer.length + 1) * 1000) / decodeMs).toFixed(1)} tokens/s incl. the ${ref.chat.input_ids.length}-token prompt)`);
  } finally {
    model.dispose();
  }
});
