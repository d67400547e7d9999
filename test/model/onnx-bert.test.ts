// The ONNX export of text models: the tiny random BERT with a pooling + dense softmax head, its
// frozen prefix (embeddings + block 0) and a segment starting at a cached boundary, each run on
// onnxruntime-node against tfjs on padded sentences; padding never moves a real token's output in
// ONNX either. The real all-MiniLM-L6-v2 encoder too, when `npm run models:text` laid it out.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type * as TF from '@tensorflow/tfjs';
import { selectEngine, type Tf } from '../../src/engine/backends.ts';
import { OnnxSession } from '../../src/engine/onnx-runtime.ts';
import { loadHfEncoder } from '../../src/model/hf/encoder.ts';
import { maskedPooling, type PoolingMode } from '../../src/model/layers/masked-pooling.ts';
import { onnx, type Onnx } from '../../src/model/onnx/proto.ts';
import { exportTextModel, exportTextPrefix, PREFIX_INPUT, PREFIX_OUTPUT, TEXT_OUTPUT } from '../../src/model/onnx/text.ts';
import { ROOT } from '../helpers/cli.ts';

const FIXTURES = join(ROOT, 'test', 'fixtures', 'text');
const TINY = join(FIXTURES, 'tiny-bert');
const MINILM = join(ROOT, '.cache', 'models', 'all-MiniLM-L6-v2');

interface Sentence {
  input_ids: number[];
  token_type_ids: number[];
}

const sentences = (fixture: string): Sentence[] => JSON.parse(readFileSync(join(FIXTURES, fixture), 'utf8')).sentences;

/** The three inputs of `rows` padded to `length`, as flat int32 rows. */
function padded(rows: Sentence[], length: number): Record<'input_ids' | 'attention_mask' | 'token_type_ids', Int32Array> {
  const flat = (pick: (s: Sentence, i: number) => number) => Int32Array.from(rows.flatMap((s) => Array.from({ length }, (_, i) => (i < s.input_ids.length ? pick(s, i) : 0))));
  return { input_ids: flat((s, i) => s.input_ids[i]), attention_mask: flat(() => 1), token_type_ids: flat((s, i) => s.token_type_ids[i]) };
}

type Feeds = ReturnType<typeof padded>;

function tfjsOutput(tf: Tf, model: TF.LayersModel, feeds: Feeds, length: number): Float32Array {
  const rows = feeds.input_ids.length / length;
  const inputs = model.inputs.map((t) => tf.tensor2d(feeds[t.sourceLayer.name as keyof Feeds], [rows, length], 'int32'));
  const y = model.predict(inputs) as TF.Tensor;
  const data = y.dataSync() as Float32Array;
  tf.dispose([...inputs, y]);
  return data;
}

async function onnxOutput(bytes: Uint8Array, feeds: Record<string, { data: Float32Array | Int32Array; rowShape: number[] }>, batch = 4): Promise<{ data: Float32Array; shape: number[] }> {
  const session = await OnnxSession.load(bytes);
  try {
    return await session.runNamed(feeds, batch);
  } finally {
    await session.dispose();
  }
}

const textFeeds = (feeds: Feeds, length: number) => Object.fromEntries(Object.entries(feeds).map(([k, v]) => [k, { data: v, rowShape: [length] }]));

function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

function argmaxes(x: Float32Array, width: number): number[] {
  return Array.from({ length: x.length / width }, (_, r) => {
    const row = x.subarray(r * width, (r + 1) * width);
    return row.indexOf(Math.max(...row));
  });
}

/** Hidden states [rows, length, width] at real tokens only. */
function realTokens(h: Float32Array, mask: Int32Array, width: number): number[] {
  return Array.from(mask).flatMap((m, t) => (m ? Array.from(h.subarray(t * width, (t + 1) * width)) : []));
}

async function tinyEncoder(): Promise<{ tf: Tf; encoder: TF.LayersModel }> {
  const { tf } = await selectEngine('wasm', []);
  return { tf, encoder: (await loadHfEncoder(tf, TINY)).model };
}

/** Encoder + pooling + dense softmax over 3 classes; the kernel scaled up so the classes really differ. */
function classifier(tf: Tf, encoder: TF.LayersModel, mode: PoolingMode): TF.LayersModel {
  const mask = encoder.inputs.find((t) => t.sourceLayer.name === 'attention_mask')!;
  const pooled = maskedPooling(tf, { mode, name: `pooling_${mode}` }).apply([encoder.outputs[0], mask]) as TF.SymbolicTensor;
  const dense = tf.layers.dense({ units: 3, activation: 'softmax', name: `classes_${mode}`, kernelInitializer: tf.initializers.randomNormal({ stddev: 3, seed: 11 }) });
  return tf.model({ inputs: encoder.inputs, outputs: dense.apply(pooled) as TF.SymbolicTensor });
}

const LENGTH = 24;

test('tiny BERT + pooling + dense softmax: onnxruntime reproduces tfjs on padded sentences (cls, mean, max)', async () => {
  const { tf, encoder } = await tinyEncoder();
  try {
    const rows = sentences('tiny-bert-reference.json');
    const feeds = padded(rows, LENGTH);
    for (const mode of ['cls', 'mean', 'max'] as const) {
      const model = classifier(tf, encoder, mode);
      const exported = exportTextModel(model, { metadata: { 'tunespec.test': mode } });
      assert.deepEqual(exported.inputNames, ['input_ids', 'attention_mask', 'token_type_ids']);
      assert.deepEqual(exported.outputNames, [TEXT_OUTPUT]);
      const want = tfjsOutput(tf, model, feeds, LENGTH);
      const got = await onnxOutput(exported.bytes, textFeeds(feeds, LENGTH));
      assert.deepEqual(got.shape, [3]);
      const diff = maxDiff(got.data, want);
      const agree = argmaxes(got.data, 3).filter((c, i) => c === argmaxes(want, 3)[i]).length;
      console.log(`# tiny BERT ${mode} head: ${rows.length} sentences padded to ${LENGTH}, max |diff| ${diff.toExponential(2)}, top-1 agreement ${agree}/${rows.length}`);
      assert.ok(diff < 1e-4, `max |diff| ${diff}`);
      assert.equal(agree, rows.length);
      assert.ok(new Set(argmaxes(want, 3)).size > 1, 'the head tells the sentences apart, so agreement means something');
    }
  } finally {
    encoder.dispose();
  }
});

test('the exported graph speaks Hugging Face: int64 token inputs, HF parameter and module names, opset 17', async () => {
  const { tf, encoder } = await tinyEncoder();
  try {
    const g = onnx.ModelProto.decode(exportTextModel(classifier(tf, encoder, 'mean')).bytes);
    const graph = g.graph as Onnx.GraphProto;
    assert.equal(Number(g.opsetImport.find((o) => !o.domain)!.version), 17);
    const INT64 = onnx.TensorProto.DataType.INT64;
    assert.deepEqual(
      (graph.input as Onnx.ValueInfoProto[]).map((i) => [i.name, i.type!.tensorType!.elemType]),
      [
        ['input_ids', INT64],
        ['attention_mask', INT64],
        ['token_type_ids', INT64],
      ],
    );
    const weights = new Set((graph.initializer as Onnx.TensorProto[]).map((t) => t.name));
    for (const name of ['embeddings.word_embeddings.weight', 'embeddings.LayerNorm.weight', 'encoder.layer.0.attention.self.query.weight', 'encoder.layer.1.output.LayerNorm.bias']) {
      assert.ok(weights.has(name), `initializer ${name}`);
    }
    const nodes = new Set((graph.node as Onnx.NodeProto[]).map((n) => n.name));
    for (const name of ['encoder.layer.0.attention.self.probs', 'encoder.layer.1.intermediate.gelu', 'encoder.layer.1.output.LayerNorm']) assert.ok(nodes.has(name), `node ${name}`);
    // One mask bias for all blocks, not one per block.
    assert.equal((graph.node as Onnx.NodeProto[]).filter((n) => n.opType === 'Unsqueeze' && n.name.endsWith('key_bias')).length, 1);
  } finally {
    encoder.dispose();
  }
});

test('the frozen prefix (embeddings + block 0) and a segment from its boundary give tfjs\'s hidden states', async () => {
  const { tf, encoder } = await tinyEncoder();
  try {
    const rows = sentences('tiny-bert-reference.json');
    const feeds = padded(rows, LENGTH);
    const block0 = encoder.getLayer('encoder.layer.0').output as TF.SymbolicTensor;
    const block1 = encoder.getLayer('encoder.layer.1').output as TF.SymbolicTensor;
    const prefix = exportTextPrefix(encoder, block0);
    assert.deepEqual(prefix.outputNames, [PREFIX_OUTPUT]);
    const want0 = tfjsOutput(tf, tf.model({ inputs: encoder.inputs, outputs: block0 }), feeds, LENGTH);
    const got0 = await onnxOutput(prefix.bytes, textFeeds(feeds, LENGTH));
    assert.deepEqual(got0.shape, [LENGTH, 32]);
    const d0 = maxDiff(got0.data, want0);

    const segment = exportTextPrefix(encoder, block1, { from: block0 });
    assert.deepEqual(segment.inputNames, [PREFIX_INPUT, 'attention_mask']);
    const want1 = tfjsOutput(tf, tf.model({ inputs: encoder.inputs, outputs: block1 }), feeds, LENGTH);
    const got1 = await onnxOutput(segment.bytes, { [PREFIX_INPUT]: { data: got0.data, rowShape: [LENGTH, 32] }, attention_mask: { data: feeds.attention_mask, rowShape: [LENGTH] } });
    const d1 = maxDiff(got1.data, want1);
    console.log(`# tiny BERT prefix to encoder.layer.0: max |diff| ${d0.toExponential(2)}; segment encoder.layer.0 -> encoder.layer.1: ${d1.toExponential(2)}`);
    assert.ok(d0 < 1e-4, `prefix max |diff| ${d0}`);
    assert.ok(d1 < 1e-4, `segment max |diff| ${d1}`);
  } finally {
    encoder.dispose();
  }
});

test('in ONNX too, padding a sentence to 16 or to 64 tokens never changes its real tokens\' outputs', async () => {
  const { tf, encoder } = await tinyEncoder();
  try {
    const sentence = sentences('tiny-bert-reference.json')[10];
    assert.ok(sentence.input_ids.length > 8 && sentence.input_ids.length <= 16);
    const prefix = exportTextPrefix(encoder, encoder.outputs[0]).bytes;
    const model = exportTextModel(classifier(tf, encoder, 'mean')).bytes;
    const at = async (length: number) => {
      const feeds = textFeeds(padded([sentence], length), length);
      const h = (await onnxOutput(prefix, feeds)).data;
      return { hidden: realTokens(h, padded([sentence], length).attention_mask, 32), probs: (await onnxOutput(model, feeds)).data };
    };
    const [short, long] = [await at(16), await at(64)];
    const dh = maxDiff(short.hidden, long.hidden);
    const dp = maxDiff(short.probs, long.probs);
    console.log(`# tiny BERT in ONNX, padded 16 vs 64: max |diff| real tokens' hidden states ${dh.toExponential(2)}, probabilities ${dp.toExponential(2)}`);
    assert.equal(short.hidden.length, sentence.input_ids.length * 32);
    assert.ok(dh < 1e-5, `hidden states differ by ${dh}`);
    assert.ok(dp < 1e-5, `probabilities differ by ${dp}`);
  } finally {
    encoder.dispose();
  }
});

test('the pooler exports too', async () => {
  const { tf, encoder } = await tinyEncoder();
  try {
    assert.equal(encoder.outputs.length, 2, 'the tiny checkpoint has a pooler');
    const model = tf.model({ inputs: encoder.inputs, outputs: encoder.outputs[1] });
    const feeds = padded(sentences('tiny-bert-reference.json'), LENGTH);
    const d = maxDiff((await onnxOutput(exportTextModel(model).bytes, textFeeds(feeds, LENGTH))).data, tfjsOutput(tf, model, feeds, LENGTH));
    console.log(`# tiny BERT pooler: max |diff| ${d.toExponential(2)}`);
    assert.ok(d < 1e-4, `max |diff| ${d}`);
  } finally {
    encoder.dispose();
  }
});

test('all-MiniLM-L6-v2: the exported encoder gives tfjs\'s last hidden states', { skip: !existsSync(join(MINILM, 'model.safetensors')) && `${MINILM} is absent: run \`npm run models:text\`` }, async () => {
  const { tf } = await selectEngine('wasm', []);
  const encoder = (await loadHfEncoder(tf, MINILM)).model;
  try {
    const rows = sentences('minilm-reference.json');
    const length = Math.max(...rows.map((s) => s.input_ids.length)) + 3;
    const feeds = padded(rows, length);
    const last = tf.model({ inputs: encoder.inputs, outputs: encoder.outputs[0] });
    const exported = exportTextPrefix(encoder, encoder.outputs[0]);
    const want = tfjsOutput(tf, last, feeds, length);
    const got = await onnxOutput(exported.bytes, textFeeds(feeds, length), 16);
    const d = maxDiff(got.data, want);
    const real = maxDiff(realTokens(got.data, feeds.attention_mask, 384), realTokens(want, feeds.attention_mask, 384));
    // And against the independent NumPy implementation: mean over real tokens, L2-normalised.
    const vectors = rows.flatMap((s, r) => {
      const tokens = realTokens(got.data.subarray(r * length * 384, (r + 1) * length * 384), feeds.attention_mask.subarray(r * length, (r + 1) * length), 384);
      const mean = Array.from({ length: 384 }, (_, j) => tokens.filter((_, i) => i % 384 === j).reduce((a, v) => a + v, 0) / s.input_ids.length);
      const norm = Math.hypot(...mean);
      return mean.map((v) => v / norm);
    });
    const reference = maxDiff(vectors, (rows as (Sentence & { embedding: number[] })[]).flatMap((s) => s.embedding));
    console.log(
      `# MiniLM encoder: ${rows.length} sentences padded to ${length}, max |diff| of last hidden states ONNX vs tfjs ${real.toExponential(2)} at real tokens (${d.toExponential(2)} with padding positions); sentence vectors vs NumPy ${reference.toExponential(2)}; ${(exported.bytes.length / 2 ** 20).toFixed(1)} MiB`,
    );
    assert.ok(real < 1e-4, `max |diff| at real tokens ${real}`);
    // Padding positions' states are never used (pooling and attention select them away) and run larger.
    assert.ok(d < 1e-3, `max |diff| ${d}`);
    assert.ok(reference < 1e-4, `sentence vectors differ from the NumPy reference by ${reference}`);
  } finally {
    encoder.dispose();
  }
});
