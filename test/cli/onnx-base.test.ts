import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { QUICKSTART_IMAGES, QUICKSTART_LABELS, ROOT, tempDir, tunespec, writeSmallSpec } from '../helpers/cli.ts';

const ONNX_BASE = join(ROOT, 'models', 'onnx-base', 'model.onnx');
const CUT = 'functional_1/pool_b_1/MaxPool2d:0';

let dir: string;
let variants: string[];

function spec(name: string, extra: { freeze?: string; preprocess?: string; source?: string } = {}): string {
  const model = `base_model:
  source: ${JSON.stringify(extra.source ?? ONNX_BASE)}
  cut: ${JSON.stringify(CUT)}
  preprocess: ${extra.preprocess ?? '{ layout: nchw }'}
head:
  - { type: flatten }
  - { type: dense, units: 32, activation: relu }
  - { type: dense, units: 5, activation: softmax }
freeze:
${extra.freeze ?? `  - { from: 0, to: ${JSON.stringify(CUT)} }`}`;
  return writeSmallSpec(dir, { name, model, epochs: 3, sweep: '  training.learning_rate: [0.003, 0.001]' });
}

before(() => {
  dir = tempDir();
  const r = tunespec(['run', spec('onnxbase'), '--runs-dir', 'runs'], dir);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  const sweeps = join(dir, 'runs', 'onnxbase');
  const sweep = join(sweeps, readdirSync(sweeps)[0]);
  variants = readdirSync(sweep).map((v) => join(sweep, v)).filter((v) => statSync(v).isDirectory());
});

test('a peer-exported ONNX model trains as a frozen base: features computed once, head trained, base + head exported as one model.onnx', () => {
  assert.equal(variants.length, 2);
  const statuses = variants.map((v) => JSON.parse(readFileSync(join(v, 'status.json'), 'utf8')));
  assert.deepEqual(statuses.map((s) => s.featureCache.status).sort(), ['hit', 'miss']);
  for (const [i, s] of statuses.entries()) {
    assert.equal(s.status, 'completed');
    assert.match(s.featureCache.detail, new RegExp(`features of ${CUT.replace(/[/.]/g, '\\$&')} .*onnxruntime-node`));
    assert.equal(s.onnx.parity.rows, 75);
    assert.equal(s.onnx.parity.argmaxAgreement, 1);
    assert.ok(s.onnx.parity.maxAbsDiff < 1e-5);
    assert.equal(s.onnx.parity.whole.rows, 32);
    assert.ok(s.onnx.parity.whole.maxAbsDiff < 1e-5);
    const files = readdirSync(variants[i]);
    for (const f of ['model', 'model.onnx', 'base.onnx', 'metrics.jsonl']) assert.ok(files.includes(f), f);
    // Trained: better than chance on 5 classes.
    const result = JSON.parse(readFileSync(join(variants[i], 'result.json'), 'utf8'));
    assert.ok(result.metrics.val_accuracy > 0.5, `${result.metrics.val_accuracy}`);
    // The stored layers list the ONNX base's nodes, frozen, then the head.
    const layers = JSON.parse(readFileSync(join(variants[i], 'layers.json'), 'utf8'));
    assert.equal(layers.filter((l: any) => !l.trainable).length, 9);
  }
});

test('predict and evaluate use the base in front of the head; tfjs and onnx engines agree', () => {
  const target = variants[0];
  const tfjs = JSON.parse(tunespec(['predict', target, QUICKSTART_IMAGES, '--json', '--top', '1'], dir).stdout);
  const onnx = JSON.parse(tunespec(['predict', target, QUICKSTART_IMAGES, '--json', '--top', '1', '--engine', 'onnx'], dir).stdout);
  assert.equal(tfjs.predictions.length, 3000);
  let agree = 0;
  tfjs.predictions.forEach((p: any, i: number) => (agree += Number(p.top[0].name === onnx.predictions[i].top[0].name)));
  assert.ok(agree >= 2997, `${agree}/3000`);
  const r = tunespec(['evaluate', target, QUICKSTART_IMAGES, QUICKSTART_LABELS, '--json'], dir);
  assert.equal(r.code, 0, r.stderr);
  assert.ok(JSON.parse(r.stdout).accuracy > 0.5);
});

test('plan and inspect show the ONNX base nodes frozen, the cut, and the head', () => {
  const plan = tunespec(['plan', spec('onnxbase')], dir);
  assert.equal(plan.code, 0, plan.stderr);
  assert.match(plan.stdout, new RegExp(`^Model of onnxbase \\(cut after layer 8 "${CUT.replace(/[/.]/g, '\\$&')}"\\):`));
  assert.match(plan.stdout, /\n 1 +functional_1\/conv_a_1\/BiasAdd:0 +Conv +120 +frozen +base\n/);
  assert.match(plan.stdout, /\n10 +head_1_dense +Dense +37664 +trainable +head\n/);
  const inspect = tunespec(['inspect', spec('onnxbase')], dir);
  assert.match(inspect.stdout, /\ninput: \[null,28,28,1\] float32\n/);
  assert.match(inspect.stdout, /-- cut after layer 8 "functional_1\/pool_b_1\/MaxPool2d:0"; the head starts here --/);
});

test('an ONNX base can only be frozen whole; nchw is for ONNX bases; a wrong input size is named', () => {
  const partial = spec('partial', { freeze: '  - { from: 0, to: "functional_1/pool_a_1/MaxPool2d:0" }' });
  const r = tunespec(['validate', partial], dir);
  assert.equal(r.code, 1);
  assert.equal(
    r.stderr,
    `${partial}:11:3: freeze: the ONNX base must be frozen whole (partial unfreezing inside an ONNX base is not supported), but 3 of its layers would train, ` +
      `starting with "functional_1/conv_b_1/BiasAdd:0"; freeze from 0 to the cut: - { from: 0, to: "${CUT}" }\n`,
  );
  const tfjs = spec('tfjsnchw', { source: join(ROOT, 'models', 'fashion-base', 'model.json'), freeze: '  - { from: 0, to: flatten }' });
  writeFileSync(tfjs, readFileSync(tfjs, 'utf8').replace(`cut: ${JSON.stringify(CUT)}`, 'cut: flatten'));
  const t = tunespec(['validate', tfjs], dir);
  assert.equal(t.code, 1);
  assert.match(t.stderr, /tfjsnchw\.yaml:5:\d+: base_model\.preprocess\.layout: nchw is for ONNX base models; TensorFlow\.js models take NHWC\n$/);
  const resized = spec('resized', { preprocess: '{ layout: nchw, resize: { height: 32, width: 32 } }' });
  const run = tunespec(['run', resized, '--runs-dir', 'runs2'], dir);
  assert.equal(run.code, 1);
  assert.match(run.stdout, /failed in [\d.]+s: the ONNX base takes examples of shape \[28, 28, 1\] \(NHWC, after layout nchw\), but the data gives \[32, 32, 1\] after preprocessing/);
});
