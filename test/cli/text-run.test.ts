// A text classification sweep on a Hugging Face BERT folder, through the real CLI as a user runs
// it: validate, plan, inspect, run, runs, predict (texts and a file), evaluate, on the tiny random
// BERT (2 blocks, hidden 32) and 64 short reviews (scripts/make_text_reviews.py).
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ROOT, tempDir, tunespec } from '../helpers/cli.ts';
import { assertTextVariant } from '../helpers/text-variant.ts';
import { roughDuration } from '../../src/train/duration.ts';
import { parseSafetensors, tensorValues } from '../../src/model/hf/safetensors.ts';

const dir = tempDir('tunespec-text-run-');
after(() => rmSync(dir, { recursive: true, force: true }));

const TINY = join(ROOT, 'test', 'fixtures', 'text', 'tiny-bert');
const REVIEWS = join(ROOT, 'test', 'fixtures', 'text', 'reviews-64.csv');
const runs = join(dir, 'runs');

function writeSpec(name: string, lines: { source?: string; freeze?: string; cut?: string; data?: string } = {}): string {
  const file = join(dir, `${name}.yaml`);
  writeFileSync(
    file,
    `name: ${name}
base_model:
  source: ${lines.source ?? JSON.stringify(TINY)}
  cut: ${lines.cut ?? 'encoder.layer.1'}
head:
  - { type: pooling, mode: mean }
  - { type: dense, units: 2, activation: softmax }
freeze:
${lines.freeze ?? '  - { from: embeddings, to: encoder.layer.0 }'}
data:
${lines.data ?? `  format: text\n  path: ${JSON.stringify(REVIEWS)}\n  max_length: 16`}
validation: { fraction: 0.25, seed: 3 }
training:
  epochs: 2
  batch_size: 16
  optimizer: adamw
  learning_rate: 0.001
  seed: 1
sweep:
  training.learning_rate: [0.001, 0.003]
`,
  );
  return file;
}

const spec = writeSpec('reviews');

test('validate and plan list the encoder layers by their Hugging Face names, frozen as the ranges say', () => {
  const v = tunespec(['validate', spec], dir);
  assert.equal(v.code, 0, v.stderr);
  assert.equal(v.stdout.trim(), `${spec}: ok (2 variants)`);
  const p = tunespec(['plan', spec], dir);
  assert.equal(p.code, 0, p.stderr);
  assert.match(p.stdout, /0 +embeddings +TunespecBertEmbeddings +10944 +frozen +base/);
  assert.match(p.stdout, /1 +encoder\.layer\.0 +TunespecBertLayer +8544 +frozen +base/);
  assert.match(p.stdout, /2 +encoder\.layer\.1 +TunespecBertLayer +8544 +trainable +base/);
  assert.match(p.stdout, /3 +head_0_pooling +TunespecMaskedPooling +0 +trainable +head/);
});

test('plan estimates a text variant from a measured step: the upper blocks on cached hidden states, or with the frozen blocks on onnxruntime each batch', () => {
  const cache = join(dir, 'plan-cache');
  const env = { TUNESPEC_CACHE_DIR: cache };
  const probes = () => readdirSync(join(cache, 'step-probes')).map((f) => JSON.parse(readFileSync(join(cache, 'step-probes', f), 'utf8')));
  const p = tunespec(['plan', spec, '--backend', 'cpu'], dir, env);
  assert.equal(p.code, 0, p.stderr);
  // 48 training rows in batches of 16, 2 epochs: 6 steps of the one probe the two rates share.
  const [cached] = probes();
  assert.equal(cached.prefix, undefined);
  const estimate = (seconds: number) => new RegExp(`\\d +[0-9a-f]{12} +0\\.00[13] +\\d+ +cpu [\\d.]+ +~${roughDuration(seconds * 6).replace(/[.]/g, '\\.')}\n`, 'g');
  assert.equal(p.stdout.match(estimate(cached.stepSeconds))?.length, 2, p.stdout);

  const off = tunespec(['plan', spec, '--backend', 'cpu', '--no-feature-cache'], dir, env);
  assert.equal(off.code, 0, off.stderr);
  const streamed = probes().find((s) => s.prefix);
  assert.equal(streamed?.prefix.boundary, 'encoder.layer.0');
  assert.match(streamed.prefix.engine, /^onnxruntime/);
  assert.equal(off.stdout.match(estimate(streamed.stepSeconds))?.length, 2, off.stdout);
});

test('freeze by regex over the HF names checks out, a file:// source works like a path, and a wrong cut names the layers', () => {
  const regex = writeSpec('regex', { freeze: "  - { match: '^encoder\\.layer\\.0|^embeddings' }" });
  const p = tunespec(['plan', regex], dir);
  assert.equal(p.code, 0, p.stderr);
  assert.match(p.stdout, /1 +encoder\.layer\.0 +TunespecBertLayer +8544 +frozen/);
  assert.match(p.stdout, /2 +encoder\.layer\.1 +TunespecBertLayer +8544 +trainable/);
  const url = writeSpec('url', { source: JSON.stringify(pathToFileURL(TINY).toString()) });
  const u = tunespec(['validate', url], dir);
  assert.equal(u.code, 0, u.stderr);
  const bad = writeSpec('badcut', { cut: 'encoder.layer.5' });
  const r = tunespec(['validate', bad], dir);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /base_model\.cut: the base model has no layer "encoder\.layer\.5".*its layers: embeddings, encoder\.layer\.0, encoder\.layer\.1/);
});

test('an image data section on a text encoder is refused at data.format', () => {
  const img = writeSpec('img', { data: `  format: csv\n  path: ${JSON.stringify(REVIEWS)}` });
  const r = tunespec(['validate', img], dir);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /data\.format: a Hugging Face text encoder base takes text \(format: text\), not csv data/);
});

test('inspect shows the variant model on the encoder', () => {
  const r = tunespec(['inspect', spec], dir);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /cut after layer 2 "encoder\.layer\.1"; the head starts here/);
  assert.match(r.stdout, /params: 28098 total, 8610 trainable, 19488 non-trainable/);
});

function variantDirs(root = runs): string[] {
  const sweepRoot = join(root, 'reviews');
  return readdirSync(sweepRoot).flatMap((s) => readdirSync(join(sweepRoot, s)).filter((v) => v !== 'sweep.json' && !v.includes('.')).map((v) => join(sweepRoot, s, v)));
}

/** A tensor of a saved tfjs model by weight name. */
function savedWeight(modelDir: string, name: string): Float32Array {
  const json = JSON.parse(readFileSync(join(modelDir, 'model.json'), 'utf8'));
  const bin = readFileSync(join(modelDir, 'weights.bin'));
  let offset = 0;
  for (const w of json.weightsManifest[0].weights) {
    const size = w.shape.reduce((a: number, b: number) => a * b, 1);
    if (w.name === name) return new Float32Array(bin.buffer.slice(bin.byteOffset + offset, bin.byteOffset + offset + size * 4));
    offset += size * 4;
  }
  throw new Error(`no weight ${name}`);
}

test('run trains every variant from frozen blocks run once on onnxruntime and cached, saves the model with its tokenizer and model.onnx with its parity; frozen weights stay bit-identical', () => {
  const r = tunespec(['run', spec, '--runs-dir', runs], dir);
  assert.equal(r.code, 0, r.stderr + r.stdout);
  assert.match(r.stdout, /2 completed, 0 skipped, 0 failed/);
  assert.match(r.stdout, /\[1\/2\] .*feature cache miss: features of encoder\.layer\.0 computed from the input in [\d.]+s \(onnxruntime-node [\d.]+\) and cached/);
  assert.match(r.stdout, /\[2\/2\] .*feature cache hit: features of encoder\.layer\.0 from the cache/);
  assert.match(r.stdout, /model\.onnx: onnxruntime vs tfjs on 16 validation rows, max \|diff\| [\d.e+-]+, top-1 agreement 100\.00%/);
  const dirs = variantDirs();
  assert.equal(dirs.length, 2);
  const checkpoint = parseSafetensors(new Uint8Array(readFileSync(join(TINY, 'model.safetensors'))), 'tiny');
  const hf = (n: string) => tensorValues(checkpoint, n).values as Float32Array;
  for (const d of dirs) {
    assertTextVariant(d, TINY);
    const model = join(d, 'model');
    assert.deepEqual(savedWeight(model, 'embeddings/word_embeddings.weight'), hf('embeddings.word_embeddings.weight'));
    assert.deepEqual(savedWeight(model, 'encoder.layer.0/output.LayerNorm.weight'), hf('encoder.layer.0.output.LayerNorm.weight'));
    assert.notDeepEqual(savedWeight(model, 'encoder.layer.1/output.LayerNorm.weight'), hf('encoder.layer.1.output.LayerNorm.weight'));
  }
  const best = tunespec(['runs', spec, '--runs-dir', runs], dir);
  assert.equal(best.code, 0, best.stderr);
  assert.match(best.stdout, /best: [0-9a-f]{12} \(lr=0\.00[13]\) val_accuracy/);
});

test('predict classifies texts and the rows of a file with the variant\'s own tokenizer; evaluate scores a labelled file', () => {
  const texts = tunespec(['predict', 'best', '--spec', spec, '--runs-dir', runs, '--json', 'The film was wonderful.', 'The room was bad.'], dir);
  assert.equal(texts.code, 0, texts.stderr);
  const out = JSON.parse(texts.stdout);
  assert.deepEqual(out.predictions.map((p: { input: string }) => p.input), ['The film was wonderful.', 'The room was bad.']);
  for (const p of out.predictions) {
    assert.equal(p.top.length, 2);
    assert.ok(Math.abs(p.top[0].probability + p.top[1].probability - 1) < 1e-5);
  }
  const file = join(dir, 'unlabelled.jsonl');
  writeFileSync(file, '{"text": "Nice film."}\n\n{"text": "Hated it."}\n');
  const rows = tunespec(['predict', 'best', '--spec', spec, '--runs-dir', runs, '--json', file], dir);
  assert.equal(rows.code, 0, rows.stderr);
  assert.deepEqual(JSON.parse(rows.stdout).predictions.map((p: { input: string }) => p.input), [`${file}:1`, `${file}:3`]);
  const ev = tunespec(['evaluate', 'best', '--spec', spec, '--runs-dir', runs, '--json', REVIEWS], dir);
  assert.equal(ev.code, 0, ev.stderr);
  const report = JSON.parse(ev.stdout);
  assert.equal(report.examples, 64);
  assert.deepEqual(report.classes.map((c: { name: string }) => c.name), ['neg', 'pos']);
  const onnx = tunespec(['predict', 'best', '--spec', spec, '--runs-dir', runs, '--engine', 'onnx', '--json', 'The film was wonderful.', 'The room was bad.'], dir);
  assert.equal(onnx.code, 0, onnx.stderr);
  const onnxOut = JSON.parse(onnx.stdout);
  assert.match(onnxOut.engine, /onnxruntime/);
  onnxOut.predictions.forEach((p: { top: { name: string; probability: number }[] }, i: number) => {
    assert.equal(p.top[0].name, out.predictions[i].top[0].name);
    assert.ok(Math.abs(p.top[0].probability - out.predictions[i].top[0].probability) < 1e-4);
  });
  const evOnnx = tunespec(['evaluate', 'best', '--spec', spec, '--runs-dir', runs, '--engine', 'onnx', '--json', REVIEWS], dir);
  assert.equal(evOnnx.code, 0, evOnnx.stderr);
  const onnxReport = JSON.parse(evOnnx.stdout);
  assert.equal(onnxReport.examples, 64);
  assert.deepEqual(onnxReport.confusion, report.confusion);
});

test('a variant of run store format 2, with its tokenizer files inside model/, still predicts and evaluates', () => {
  const old = join(dir, 'runs-format-2');
  cpSync(runs, old, { recursive: true });
  for (const d of variantDirs(old)) {
    for (const f of ['tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json']) renameSync(join(d, f), join(d, 'model', f));
    const status = JSON.parse(readFileSync(join(d, 'status.json'), 'utf8'));
    writeFileSync(join(d, 'status.json'), JSON.stringify({ ...status, format: 2 }));
  }
  const now = tunespec(['predict', 'best', '--spec', spec, '--runs-dir', runs, '--json', 'The film was wonderful.'], dir);
  const then = tunespec(['predict', 'best', '--spec', spec, '--runs-dir', old, '--json', 'The film was wonderful.'], dir);
  assert.equal(then.code, 0, then.stderr);
  assert.deepEqual(JSON.parse(then.stdout).predictions, JSON.parse(now.stdout).predictions);
  const ev = tunespec(['evaluate', 'best', '--spec', spec, '--runs-dir', old, '--json', REVIEWS], dir);
  assert.equal(ev.code, 0, ev.stderr);
  assert.equal(JSON.parse(ev.stdout).examples, 64);
});

test('evaluate refuses a test file with a label the variant never saw, at its line', () => {
  const file = join(dir, 'stray.csv');
  writeFileSync(file, 'text,label\nGood.,pos\nMeh.,meh\n');
  const r = tunespec(['evaluate', 'best', '--spec', spec, '--runs-dir', runs, file], dir);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /stray\.csv:3: unknown label "meh"/);
});

test('a second sweep reads every variant\'s frozen blocks from the cache; without it they run on onnxruntime each batch, and both train alike', () => {
  const again = join(dir, 'runs-again');
  const r = tunespec(['run', spec, '--runs-dir', again], dir);
  assert.equal(r.code, 0, r.stderr + r.stdout);
  assert.match(r.stdout, /feature cache: 2 hit\(s\), 0 miss\(es\)/);
  const plain = join(dir, 'runs-plain');
  const p = tunespec(['run', spec, '--runs-dir', plain, '--no-feature-cache'], dir);
  assert.equal(p.code, 0, p.stderr + p.stdout);
  assert.match(p.stdout, /feature cache off: turned off \(--no-feature-cache\): frozen layers up to encoder\.layer\.0 run on onnxruntime each batch/);
  const metrics = (root: string) => variantDirs(root).map((d) => JSON.parse(readFileSync(join(d, 'result.json'), 'utf8')).metrics);
  const cached = metrics(again);
  const direct = metrics(plain);
  assert.equal(cached.length, 2);
  cached.forEach((m, i) => {
    assert.equal(m.val_accuracy, direct[i].val_accuracy);
    assert.ok(Math.abs(m.val_loss - direct[i].val_loss) < 1e-5, `${m.val_loss} vs ${direct[i].val_loss}`);
  });
});
