import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { QUICKSTART_IMAGES, QUICKSTART_LABELS, tempDir, tunespec, writeSmallSpec } from '../helpers/cli.ts';

// evaluate --engine onnx scores the variant's model.onnx on onnxruntime, as predict --engine onnx
// predicts with it; the shipped quickstart sample stands in for held-out data.
let dir: string;
let variant: string;

before(() => {
  dir = tempDir();
  const spec = writeSmallSpec(dir, { name: 'engines', epochs: 1, sweep: '  training.learning_rate: [0.003]' });
  const r = tunespec(['run', spec, '--runs-dir', 'runs'], dir);
  assert.equal(r.code, 0, r.stderr);
  const [sweep] = readdirSync(join(dir, 'runs', 'engines'));
  variant = readdirSync(join(dir, 'runs', 'engines', sweep!)).find((f) => /^[0-9a-f]{12}$/.test(f))!;
});

interface Report {
  engine: string;
  examples: number;
  loss: number;
  accuracy: number;
  confusion: number[][];
}

function evaluateJson(engine: string): Report {
  const r = tunespec(['evaluate', variant, QUICKSTART_IMAGES, QUICKSTART_LABELS, '--runs-dir', 'runs', '--engine', engine, '--json'], dir);
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout) as Report;
}

test('evaluate --engine onnx scores model.onnx on onnxruntime, agreeing with the tfjs model', () => {
  const tfjs = evaluateJson('tfjs');
  const onnx = evaluateJson('onnx');
  assert.match(onnx.engine, /^onnxruntime/);
  assert.doesNotMatch(tfjs.engine, /^onnxruntime/);
  assert.equal(onnx.examples, 3000);
  assert.equal(tfjs.examples, 3000);
  const moved = onnx.confusion.flat().reduce((n, c, i) => n + Math.abs(c - tfjs.confusion.flat()[i]!), 0) / 2;
  assert.ok(moved <= 3, `${moved} of 3000 examples change class between engines`);
  assert.ok(Math.abs(onnx.accuracy - tfjs.accuracy) <= 0.001, `${onnx.accuracy} vs ${tfjs.accuracy}`);
  assert.ok(Math.abs(onnx.loss - tfjs.loss) <= 1e-3, `${onnx.loss} vs ${tfjs.loss}`);
  const text = tunespec(['evaluate', variant, QUICKSTART_IMAGES, QUICKSTART_LABELS, '--runs-dir', 'runs', '--engine', 'onnx'], dir);
  assert.match(text.stdout.split('\n')[0]!, new RegExp(`^variant ${variant} \\(lr=0\\.003\\) on 3000 examples from .*, engine onnxruntime`));
});
