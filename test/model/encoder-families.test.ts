// The RoBERTa and DistilBERT families against an independent implementation
// (scripts/text_reference.py: NumPy, float64, Hugging Face's modeling code for each family; ids from
// Rust tokenizers), on tiny random folders made by scripts/make_tiny_bert.py --family. For each:
// tunespec's tokenizer gives the Rust ids, the encoder gives the reference sentence vectors (and
// pooler output) from a padded batch, layers carry the checkpoint's names, weights export back bit
// for bit, and the ONNX export agrees with tfjs at every real token.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type * as TF from '@tensorflow/tfjs';
import { selectEngine, type Tf } from '../../src/engine/backends.ts';
import { OnnxSession } from '../../src/engine/onnx-runtime.ts';
import { loadTokenizer } from '../../src/data/tokenize.ts';
import { loadHfEncoder } from '../../src/model/hf/encoder.ts';
import { readHfWeights } from '../../src/model/hf/weights.ts';
import { exportTextModel } from '../../src/model/onnx/text.ts';
import { assertSameCheckpoint } from '../helpers/checkpoint.ts';
import { ROOT } from '../helpers/cli.ts';

const FIXTURES = join(ROOT, 'test', 'fixtures', 'text');

interface Sentence {
  text: string;
  input_ids: number[];
  embedding: number[];
  pooler_output?: number[];
}

const FAMILIES = [
  {
    family: 'roberta',
    folder: join(FIXTURES, 'tiny-roberta'),
    layers: ['input_ids', 'embeddings', 'attention_mask', 'encoder.layer.0', 'encoder.layer.1', 'pooler'],
    unused: [] as string[],
    // The position table has 130 rows; the first token takes row padding_idx + 1 = 2.
    maxTokens: 128,
  },
  {
    family: 'distilbert',
    folder: join(FIXTURES, 'tiny-distilbert'),
    layers: ['input_ids', 'embeddings', 'attention_mask', 'transformer.layer.0', 'transformer.layer.1'],
    // A DistilBertForSequenceClassification checkpoint: its task head is not the encoder's.
    unused: ['classifier.bias', 'classifier.weight', 'pre_classifier.bias', 'pre_classifier.weight'],
    maxTokens: 128,
  },
] as const;

const sentencesOf = (family: string): Sentence[] => JSON.parse(readFileSync(join(FIXTURES, `tiny-${family}-reference.json`), 'utf8')).sentences;
const padIdOf = (folder: string): number => JSON.parse(readFileSync(join(folder, 'config.json'), 'utf8')).pad_token_id;

/** input_ids and attention_mask of `rows` padded with `padId` to `length`. */
function batch(tf: Tf, rows: { input_ids: number[] }[], length: number, padId: number): TF.Tensor[] {
  const pad = (xs: number[], fill: number) => Array.from({ length }, (_, i) => (i < xs.length ? xs[i] : fill));
  return [rows.map((r) => pad(r.input_ids, padId)), rows.map((r) => pad(r.input_ids.map(() => 1), 0))].map((m) => tf.tensor2d(m, [rows.length, length], 'int32'));
}

function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

for (const f of FAMILIES) {
  test(`tiny ${f.family}: tunespec's tokenizer gives Rust tokenizers' ids for the reference sentences`, async () => {
    const tokenizer = await loadTokenizer(f.folder);
    for (const s of sentencesOf(f.family)) {
      const enc = tokenizer.encode(s.text, undefined, s.input_ids.length + 4);
      assert.deepEqual(enc.ids.slice(0, s.input_ids.length), s.input_ids, s.text);
      assert.deepEqual(enc.ids.slice(s.input_ids.length), new Array(4).fill(padIdOf(f.folder)), `${s.text}: padded with the pad token`);
    }
  });

  test(`tiny ${f.family}: padded sentence vectors match the NumPy reference; names are the checkpoint's; weights export back bit for bit`, async () => {
    const { tf } = await selectEngine('wasm', []);
    const ref = sentencesOf(f.family);
    const { model, family, unused } = await loadHfEncoder(tf, f.folder);
    try {
      assert.deepEqual(model.layers.map((l) => l.name), f.layers);
      assert.deepEqual(family.inputs, ['input_ids', 'attention_mask']);
      assert.deepEqual(unused.sort(), f.unused);
      const length = Math.max(...ref.map((s) => s.input_ids.length)) + 5;
      const inputs = batch(tf, ref, length, padIdOf(f.folder));
      const [vectors, pooled] = tf.tidy(() => {
        const out = [model.predict(inputs)].flat() as TF.Tensor[];
        const mask = tf.cast(inputs[1], 'float32').expandDims(-1);
        const mean = tf.div(tf.sum(tf.mul(out[0], mask), 1), tf.sum(mask, 1));
        return [tf.div(mean, tf.norm(mean, 2, -1, true)), out[1] ?? tf.zeros([0])];
      });
      const dv = maxDiff(vectors.dataSync(), ref.flatMap((s) => s.embedding));
      const dp = ref[0].pooler_output ? maxDiff(pooled.dataSync(), ref.flatMap((s) => s.pooler_output!)) : 0;
      tf.dispose([vectors, pooled, ...inputs]);
      console.log(`# tiny ${f.family} wasm: max |diff| vectors ${dv.toExponential(2)}, pooler ${dp.toExponential(2)}`);
      assert.ok(dv < 1e-4, `sentence vectors differ by ${dv}`);
      assert.ok(dp < 1e-4, `pooler outputs differ by ${dp}`);
      const tooLong = batch(tf, [ref[0]], f.maxTokens + 1, padIdOf(f.folder));
      assert.throws(() => model.predict(tooLong), new RegExp(`^ModelError: embeddings: a sequence of ${f.maxTokens + 1} tokens is longer than `));
      tf.dispose(tooLong);
      const exported = family.exportWeights(model);
      if (f.family === 'distilbert') {
        // Exported as the encoder's own checkpoint (DistilBertModel): no task prefix, no task head, no position_ids buffer.
        const weights = await readHfWeights(f.folder);
        const encoderTensors = weights.names().filter((n) => n.startsWith('distilbert.') && !n.endsWith('.position_ids'));
        assert.deepEqual(exported.map((t) => `distilbert.${t.name}`).sort(), encoderTensors.sort());
        for (const t of exported) assert.deepEqual(Float32Array.from(t.values), weights.values(`distilbert.${t.name}`).values, t.name);
      } else {
        await assertSameCheckpoint(exported, f.folder);
      }
    } finally {
      model.dispose();
    }
  });

  test(`tiny ${f.family}: the ONNX export gives tfjs's hidden states at every real token`, async () => {
    const { tf } = await selectEngine('wasm', []);
    const ref = sentencesOf(f.family).slice(0, 8);
    const { model } = await loadHfEncoder(tf, f.folder);
    const length = 24;
    try {
      const graph = exportTextModel(model);
      const inputs = batch(tf, ref, length, padIdOf(f.folder));
      const hidden = [model.predict(inputs)].flat()[0] as TF.Tensor;
      const want = hidden.dataSync() as Float32Array;
      const [ids, mask] = inputs.map((t) => t.dataSync() as Int32Array);
      tf.dispose([hidden, ...inputs]);
      const session = await OnnxSession.load(graph.bytes);
      let got: Float32Array;
      try {
        got = (await session.runNamed({ input_ids: { data: ids, rowShape: [length] }, attention_mask: { data: mask, rowShape: [length] } }, 4)).data;
      } finally {
        await session.dispose();
      }
      const H = want.length / ids.length;
      const real = (h: Float32Array) => Array.from(mask).flatMap((m, t) => (m ? Array.from(h.subarray(t * H, (t + 1) * H)) : []));
      const d = maxDiff(real(got), real(want));
      console.log(`# tiny ${f.family} ONNX vs tfjs: max |diff| at real tokens ${d.toExponential(2)}`);
      assert.ok(d < 1e-4, `max |diff| ${d}`);
    } finally {
      model.dispose();
    }
  });
}
