// `inspect` on the shipped model (path, URL, quantised copy, run store), on a spec, and on inputs
// that are not models: every failure a clear message and exit 1, never a stack trace.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import type { AddressInfo } from 'node:net';
import { PNG } from 'pngjs';
import { BASE_MODEL, ROOT, tempDir, tunespec, tunespecAsync, writeSmallSpec } from '../helpers/cli.ts';
import { serveBaseModel } from '../helpers/model-server.ts';
import { writeQuantizedModel } from '../helpers/quantize.ts';
import { anyTf } from '../../src/engine/backends.ts';
import { loadBase } from '../../src/model/build.ts';
import { readModelFiles } from '../../src/model/source.ts';
import { exportOnnx } from '../../src/model/onnx/export.ts';

const LAYERS = ['conv1', 'bn1', 'pool1', 'conv2', 'bn2', 'pool2', 'conv3', 'bn3', 'pool3', 'flatten', 'fc1', 'dropout', 'logits'];
const CLASSES = ['Conv2D', 'BatchNormalization', 'MaxPooling2D', 'Conv2D', 'BatchNormalization', 'MaxPooling2D', 'Conv2D', 'BatchNormalization', 'MaxPooling2D', 'Flatten', 'Dense', 'Dropout', 'Dense'];
const BASE_SHOWN = relative(ROOT, BASE_MODEL);

/** The table rows of text output: lines that start with a layer index. */
function rows(stdout: string): string[][] {
  return stdout.split('\n').filter((l) => /^\s*\d+  \S/.test(l)).map((l) => l.trim().split(/\s{2,}/));
}

function inspectJson(args: string[]): any {
  const r = tunespec(['inspect', ...args, '--json']);
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout);
}

function assertCleanFailure(r: { code: number | null; stdout: string; stderr: string }, message: RegExp): void {
  assert.equal(r.code, 1, r.stdout + r.stderr);
  assert.match(r.stderr, message);
  assert.doesNotMatch(r.stderr, /\n\s+at |internal error/, 'no stack trace');
}

const floatJson = inspectJson([BASE_MODEL]);

test('inspect <model.json> lists every layer with class, output shape, params and trainable, then totals and classes', () => {
  const r = tunespec(['inspect', BASE_SHOWN]);
  assert.equal(r.code, 0, r.stderr);
  const table = rows(r.stdout);
  assert.deepEqual(table.map((row) => row[1]), LAYERS);
  assert.deepEqual(table.map((row) => row[2]), CLASSES);
  assert.deepEqual(table.map((row) => Number(row[0])), LAYERS.map((_, i) => i));
  assert.deepEqual(table[12].slice(3), ['[null,5]', '325', 'yes']);
  assert.ok(table.every((row) => row[5] === 'yes'), 'the shipped model is stored fully trainable');
  const [, total, trainable, nonTrainable] = /params: (\d+) total, (\d+) trainable, (\d+) non-trainable/.exec(r.stdout)!.map(Number);
  assert.equal(table.reduce((n, row) => n + Number(row[4]), 0), total);
  // Batch norm's moving mean and variance are weights that no optimizer touches, as in Keras.
  assert.equal(nonTrainable, 2 * (16 + 32 + 64));
  assert.equal(trainable + nonTrainable, total);
  assert.match(r.stdout, /^input: \[null,28,28,1\] float32$/m);
  assert.match(r.stdout, /^output: \[null,5\], 5 classes \(model.json metadata\): T-shirt\/top, Trouser, Pullover, Dress, Coat$/m);
  assert.match(r.stdout, /^weights: 22 float32$/m);
});

test('inspect --json prints only JSON, with the same content', () => {
  const text = tunespec(['inspect', BASE_MODEL]).stdout;
  assert.deepEqual(floatJson.layers.map((l: any) => [l.index, l.name, l.className]), LAYERS.map((n, i) => [i, n, CLASSES[i]]));
  assert.deepEqual(floatJson.layers[12].outputShape, [null, 5]);
  assert.equal(floatJson.layers.reduce((n: number, l: any) => n + l.params, 0), floatJson.params.total);
  assert.ok(text.includes(`params: ${floatJson.params.total} total, ${floatJson.params.trainable} trainable`));
  assert.deepEqual(floatJson.inputs, [{ name: 'input', shape: [null, 28, 28, 1], dtype: 'float32' }]);
  assert.deepEqual(floatJson.output, { shape: [null, 5], units: 5, classNames: ['T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat'], classNamesFrom: 'model.json metadata' });
  assert.deepEqual(floatJson.weights, { float32: 22 });
  assert.deepEqual(floatJson.layers[0].weights.map((w: any) => [w.name, w.shape, w.stored]), [['conv1/kernel', [3, 3, 1, 16], 'float32'], ['conv1/bias', [16], 'float32']]);
});

const { port, requests, close } = await serveBaseModel();
after(close);

test('inspect <http:// URL> fetches model.json and its weights and describes the same model', async () => {
  const url = `http://127.0.0.1:${port}/models/model.json`;
  const r = await tunespecAsync(['inspect', url, '--json']);
  assert.equal(r.code, 0, r.stderr);
  const json = JSON.parse(r.stdout);
  assert.deepEqual({ ...json, source: BASE_MODEL }, { ...floatJson, source: BASE_MODEL });
  assert.ok(requests.includes('/models/model.json') && requests.includes('/models/weights.bin'), requests.join(' '));
  const missing = await tunespecAsync(['inspect', `http://127.0.0.1:${port}/models/nope.json`]);
  assertCleanFailure(missing, new RegExp(`cannot fetch http://127\\.0\\.0\\.1:${port}/models/nope\\.json: HTTP 404`));
});

test('an unreachable URL exits 1 naming it', async () => {
  const closed = createServer();
  await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
  const dead = (closed.address() as AddressInfo).port;
  await new Promise((r) => closed.close(r));
  assertCleanFailure(await tunespecAsync(['inspect', `http://127.0.0.1:${dead}/model.json`]), new RegExp(`cannot fetch http://127\\.0\\.0\\.1:${dead}/model\\.json: .*ECONNREFUSED`));
});

test('inspect <spec> shows the built model: frozen base, trainable head, and where the cut is', () => {
  const spec = writeSmallSpec(tempDir());
  const r = tunespec(['inspect', spec]);
  assert.equal(r.code, 0, r.stderr);
  const table = rows(r.stdout);
  assert.deepEqual(table.map((row) => row[1]), [...LAYERS.slice(0, 10), 'head_0_dense', 'head_1_dense']);
  assert.deepEqual(table.map((row) => `${row[5]} ${row[6]}`), [...Array(10).fill('frozen base'), 'trainable head', 'trainable head']);
  assert.deepEqual(table[10].slice(3, 5), ['[null,16]', String(576 * 16 + 16)]);
  assert.deepEqual(table[11].slice(3, 5), ['[null,5]', String(16 * 5 + 5)]);
  const lines = r.stdout.split('\n');
  const cut = lines.findIndex((l) => l.includes('cut after layer 9 "flatten"'));
  assert.ok(cut > 0, r.stdout);
  assert.match(lines[cut - 1], /^\s*9\s+flatten\s/);
  assert.match(lines[cut + 1], /^10\s+head_0_dense\s/);
  assert.match(r.stdout, /variant [0-9a-f]{12} \(first of 2\)/);
  assert.match(r.stdout, /^2 trainable, 10 frozen layers$/m);
  assert.doesNotMatch(r.stdout, /distinct model structures/, 'a learning-rate sweep builds one structure');

  const json = inspectJson([spec]);
  assert.deepEqual(json.cut, { index: 9, name: 'flatten' });
  assert.deepEqual(json.layers.map((l: any) => [l.part, l.frozen, l.trainable]), [...Array(10).fill(['base', true, false]), ['head', false, true], ['head', false, true]]);
  assert.equal(json.params.trainable, 576 * 16 + 16 + 16 * 5 + 5);
  assert.equal(json.structures, 1);
});

test('inspect <spec> says when the sweep builds several structures and points at plan', () => {
  const spec = writeSmallSpec(tempDir(), { sweep: '  head.0.units: [16, 32]\n  training.learning_rate: [0.01, 0.001]' });
  const r = tunespec(['inspect', spec]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /The sweep builds 2 distinct model structures .*this is the first\. `tunespec plan .*small\.yaml` shows them all\./);
  assert.equal(inspectJson([spec]).structures, 2);
});

test('a uint8-quantised model loads, is reported as such, and has the float model\'s parameter counts', async () => {
  const dir = tempDir();
  const { path, scales } = writeQuantizedModel(BASE_MODEL, join(dir, 'all'));
  const r = tunespec(['inspect', path]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^weights: 22 quantised uint8 \(min\/scale\)$/m);
  assert.deepEqual(rows(r.stdout)[0].slice(1), ['conv1', 'Conv2D', '[null,28,28,16]', '160', 'yes', 'uint8']);
  const json = inspectJson([path]);
  assert.deepEqual(json.params, floatJson.params);
  assert.deepEqual(json.layers.map((l: any) => l.params), floatJson.layers.map((l: any) => l.params));
  assert.deepEqual(json.weights, { uint8: 22 });
  const kernel = json.layers[0].weights[0];
  assert.deepEqual([kernel.dtype, kernel.stored, kernel.quantization.dtype, kernel.quantization.scale], ['float32', 'uint8', 'uint8', scales.get('conv1/kernel')]);

  // Only the kernels: a mixed model, counted per storage kind.
  const mixed = writeQuantizedModel(BASE_MODEL, join(dir, 'kernels'), { only: (name) => name.endsWith('/kernel') });
  assert.match(tunespec(['inspect', mixed.path]).stdout, /^weights: 5 quantised uint8 \(min\/scale\), 17 float32$/m);

  // tfjs expands the bytes on load (io.decodeWeights): each value within half a step of the original.
  const tf = await anyTf();
  const [float, quantised] = await Promise.all([BASE_MODEL, path].map(async (p) => loadBase(tf, await readModelFiles({ kind: 'file', path: p }))));
  for (const [i, w] of float.weights.entries()) {
    const diff = tf.tidy(() => tf.sub(w.read(), quantised.weights[i].read()).abs().max().dataSync()[0]);
    assert.ok(diff <= scales.get(w.originalName)! / 2 + 1e-6, `${w.originalName}: off by ${diff}`);
  }
  float.dispose();
  quantised.dispose();
});

test('a model in the run store takes its class names from the variant record; one without any says so', () => {
  const dir = tempDir();
  const strip = (target: string): void => {
    const json = JSON.parse(readFileSync(BASE_MODEL, 'utf8'));
    delete json.userDefinedMetadata;
    mkdirSync(target, { recursive: true });
    writeFileSync(join(target, 'model.json'), JSON.stringify(json));
    copyFileSync(join(BASE_MODEL, '..', 'weights.bin'), join(target, 'weights.bin'));
  };
  const variant = join(dir, 'runs', 'exp', 'sweep1', 'abcdef012345');
  strip(join(variant, 'model'));
  // A whole variant record: the run store's reader refuses one that lacks the fields every record has.
  const record = { variant: 'abcdef012345', label: 'lr=0.01', sweep: 'sweep1', attempt: 'a1', seconds: 1, started: '2026-01-01T00:00:00Z', finished: '2026-01-01T00:00:01Z' };
  writeFileSync(join(variant, 'status.json'), JSON.stringify({ status: 'completed', ...record, data: { digest: 'd', classNames: ['a', 'b', 'c', 'd', 'e'] } }));
  assert.match(tunespec(['inspect', join(variant, 'model', 'model.json')]).stdout, /^output: \[null,5\], 5 classes \(run store\): a, b, c, d, e$/m);
  assert.match(tunespec(['inspect', variant]).stdout, /^output: \[null,5\], 5 classes \(run store\)/m, 'a variant folder works too');

  strip(join(dir, 'bare'));
  const r = tunespec(['inspect', join(dir, 'bare', 'model.json')]);
  assert.match(r.stdout, /^output: \[null,5\], 5 units; class names are not recorded$/m);
  assert.equal(inspectJson([join(dir, 'bare', 'model.json')]).output.classNames, null);
});

test('inputs that are not models exit 1 with a message naming the file', () => {
  const dir = tempDir();
  const png = new PNG({ width: 2, height: 2 });
  writeFileSync(join(dir, 'picture.png'), PNG.sync.write(png));
  assertCleanFailure(tunespec(['inspect', join(dir, 'picture.png')]), new RegExp(`^${join(dir, 'picture.png')} is not a TensorFlow.js model.json: it is a PNG image\\n$`));
  assertCleanFailure(tunespec(['inspect', 'test/fixtures/not-a-model.json']), /^test\/fixtures\/not-a-model\.json is not a TensorFlow\.js LayersModel \(model\.json needs modelTopology and weightsManifest\)\n$/);
  assertCleanFailure(tunespec(['inspect', 'models/nope/model.json']), /^cannot read models\/nope\/model\.json: no such file\n$/);
  assertCleanFailure(tunespec(['inspect', dir]), new RegExp(`^${dir} is a folder without a model.json\\n$`));

  // A weights file cut short is named, not reported as a tensor of the wrong size.
  mkdirSync(join(dir, 'short'));
  copyFileSync(BASE_MODEL, join(dir, 'short', 'model.json'));
  writeFileSync(join(dir, 'short', 'weights.bin'), readFileSync(join(BASE_MODEL, '..', 'weights.bin')).subarray(0, 1000));
  assertCleanFailure(tunespec(['inspect', join(dir, 'short', 'model.json')]), /short\/model\.json: the weight files hold 1000 bytes but the manifest describes 243988/);
});

test('an .onnx model: every node as a layer, its parameters, input and output with class names', async () => {
  const dir = tempDir();
  const tf = await anyTf();
  const base = await loadBase(tf, await readModelFiles({ kind: 'file', path: BASE_MODEL }));
  const file = join(dir, 'base.onnx');
  writeFileSync(file, exportOnnx(base.inputs[0], base.outputs[0], { 'tunespec.class_names': JSON.stringify(['a', 'b', 'c', 'd', 'e']) }).bytes);
  const params = base.countParams();
  base.dispose();
  const r = tunespec(['inspect', file]);
  assert.equal(r.code, 0, r.stderr);
  const lines = r.stdout.trim().split('\n');
  assert.match(lines[0], /^ONNX model .*base\.onnx \(\d+ nodes, opset 13, from tunespec\):$/);
  assert.match(r.stdout, /\n\s*1\s+conv1_conv2d\s+Conv\s+\?\s+144\n/);
  assert.match(r.stdout, /\n\s*\d+\s+conv1\s+Relu\s+\[batch, 28, 28, 16\]\s+0\n/);
  assert.match(r.stdout, /\ninput: input \[batch, 28, 28, 1\] float32\n/);
  assert.match(r.stdout, /\noutput: output \[batch, 5\], 5 classes \(model metadata\): a, b, c, d, e\n$/);
  const json = JSON.parse(tunespec(['inspect', file, '--json']).stdout);
  assert.equal(json.kind, 'onnx');
  // Batch norm folds four weight vectors into two; everything else is counted as tfjs counts it.
  assert.equal(json.params.total, params - 2 * (16 + 32 + 64));
  assert.deepEqual(json.inputs, [{ name: 'input', shape: ['batch', 28, 28, 1], dtype: 'float32' }]);
  writeFileSync(join(dir, 'junk.onnx'), Buffer.from('definitely not protobuf \xff\xff\xff'));
  assertCleanFailure(tunespec(['inspect', join(dir, 'junk.onnx')]), /junk\.onnx is not an ONNX model: /);
  assertCleanFailure(tunespec(['inspect', join(dir, 'missing.onnx')]), /missing\.onnx: no such file\n$/);
});
