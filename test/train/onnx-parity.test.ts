import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { exportOnnx } from '../../src/model/onnx/export.ts';
import { joinExports } from '../../src/model/onnx/edit.ts';
import { readOnnx } from '../../src/model/onnx/read.ts';
import { modelFrom } from '../../src/model/graph.ts';
import { OnnxSession } from '../../src/engine/onnx-runtime.ts';
import { exportPartWithParity, WHOLE_MODEL_ROWS } from '../../src/train/onnx-parity.ts';
import { allRows, denseRows, type RowSource } from '../../src/data/rows.ts';

const ROWS = 40;
const SHAPE = [8, 8, 1];

/** A small frozen-base model: conv → flatten (the boundary) → softmax head; `seed` picks its weights. */
function model(seed: number): { model: tf.LayersModel; boundary: tf.SymbolicTensor } {
  const input = tf.input({ shape: SHAPE, name: 'input' });
  const conv = tf.layers.conv2d({ filters: 4, kernelSize: 3, activation: 'relu', name: 'conv', kernelInitializer: tf.initializers.glorotUniform({ seed }) }).apply(input);
  const boundary = tf.layers.flatten({ name: 'flatten' }).apply(conv) as tf.SymbolicTensor;
  const out = tf.layers.dense({ units: 3, activation: 'softmax', name: 'head', kernelInitializer: tf.initializers.glorotUniform({ seed: seed + 1 }) }).apply(boundary);
  return { model: tf.model({ inputs: input, outputs: out as tf.SymbolicTensor }), boundary };
}

function rows(): RowSource {
  return denseRows(tf.randomNormal([ROWS, ...SHAPE], 0, 1, 'float32', 3).dataSync() as Float32Array, SHAPE);
}

/** The frozen layers' output for `raw`, as the feature cache would hold it. */
function features(m: { model: tf.LayersModel; boundary: tf.SymbolicTensor }, raw: RowSource): RowSource {
  const prefix = tf.model({ inputs: m.model.inputs, outputs: m.boundary });
  const y = prefix.predict(tf.tensor(allRows(raw), [ROWS, ...SHAPE])) as tf.Tensor;
  return denseRows(y.dataSync() as Float32Array, y.shape.slice(1));
}

/** Parity of `m` trained on cached features, exported with the given prefix and head models' layers. */
function check(m: ReturnType<typeof model>, raw: RowSource, exported: { prefix: ReturnType<typeof model>; head: ReturnType<typeof model> }) {
  const part = modelFrom(tf, m.model, m.boundary);
  return exportPartWithParity(
    tf,
    {
      part,
      boundary: 'flatten',
      fed: features(m, raw),
      exportPart: (meta) => exportOnnx(exported.head.boundary, exported.head.model.outputs[0], meta).bytes,
      exportWhole: (p) => joinExports(exportOnnx(exported.prefix.model.inputs[0], exported.prefix.boundary).bytes, p),
      raw,
      whole: m.model,
    },
    3,
    {},
  );
}

test('joining a prefix export and a suffix export computes what the one-piece export does, keeping its names and shapes', async () => {
  const m = model(1);
  const raw = rows();
  const whole = exportOnnx(m.model.inputs[0], m.model.outputs[0]).bytes;
  const joined = joinExports(exportOnnx(m.model.inputs[0], m.boundary).bytes, exportOnnx(m.boundary, m.model.outputs[0], { k: 'v' }).bytes);
  const run = async (bytes: Uint8Array) => {
    const s = await OnnxSession.load(bytes);
    try {
      return (await s.run(allRows(raw), raw.shape, 16)).data;
    } finally {
      await s.dispose();
    }
  };
  const [a, b] = [await run(whole), await run(joined)];
  assert.equal(a.length, b.length);
  assert.deepEqual(Array.from(b), Array.from(a));
  const info = readOnnx(joined, 'joined');
  // Every layer's output keeps its name and declared shape (what `inspect model.onnx` lists).
  assert.deepEqual([...info.shapes], [...readOnnx(whole, 'whole').shapes]);
  assert.equal(info.metadata.k, 'v');
  assert.equal(info.inputs[0].name, 'input');
  assert.equal(info.outputs[0].name, 'output');
});

test('parity checks the part after the boundary on every row and the whole model on the first rows', async () => {
  const m = model(1);
  const p = (await check(m, rows(), { prefix: m, head: m })).parity!;
  assert.equal(p.rows, ROWS);
  assert.equal(p.part, 'flatten');
  assert.ok(p.maxAbsDiff < 1e-5, String(p.maxAbsDiff));
  assert.equal(p.argmaxAgreement, 1);
  assert.equal(p.whole!.rows, WHOLE_MODEL_ROWS);
  assert.ok(p.whole!.maxAbsDiff < 1e-5, String(p.whole!.maxAbsDiff));
});

test('a wrongly exported head fails the every-row check; a wrongly exported frozen part fails the whole-model check', async () => {
  const m = model(1);
  const other = model(11);
  const raw = rows();
  const badHead = (await check(m, raw, { prefix: m, head: other })).parity!;
  assert.ok(badHead.maxAbsDiff > 1e-2, String(badHead.maxAbsDiff));
  const badBase = (await check(m, raw, { prefix: other, head: m })).parity!;
  assert.ok(badBase.maxAbsDiff < 1e-5, 'the head itself exported right');
  assert.ok(badBase.whole!.maxAbsDiff > 1e-2, String(badBase.whole!.maxAbsDiff));
});
