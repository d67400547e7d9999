// RoBERTa and DistilBERT bases through the real CLI, as a user runs them: inspect lists each
// family's modules under its own names; validate refuses a max_length past RoBERTa's position
// table (which starts after padding_idx); a one-variant sweep trains from frozen blocks run on
// onnxruntime, exports model.onnx with parity and the tokenizer files beside it, and predict
// gives the same classes on tfjs and on the ONNX export. Tiny random folders from
// scripts/make_tiny_bert.py --family, 64 short reviews.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT, tempDir, tunespec } from '../helpers/cli.ts';

const dir = tempDir('tunespec-text-families-');
after(() => rmSync(dir, { recursive: true, force: true }));

const FIXTURES = join(ROOT, 'test', 'fixtures', 'text');
const REVIEWS = join(FIXTURES, 'reviews-64.csv');

test('inspect a DistilBERT task checkpoint: transformer.layer.N with q_lin…ffn.lin2, no token types, the task head left unused', () => {
  const r = tunespec(['inspect', 'test/fixtures/text/tiny-distilbert']);
  assert.equal(r.code, 0, r.stderr);
  const lines = r.stdout.split('\n');
  assert.equal(lines[0], `Model ${join(FIXTURES, 'tiny-distilbert')} (Hugging Face folder, model_type distilbert; 3 layers):`);
  const row = (name: string) => lines.find((l) => l.split(/\s{2,}/).map((c) => c.trim()).includes(name));
  assert.match(row('embeddings')!, /^0\s+embeddings\s+TunespecBertEmbeddings\s+\[null,null,32\]\s+10880$/);
  assert.match(row('transformer.layer.1')!, /^2\s+transformer\.layer\.1\s+TunespecBertLayer\s+\[null,null,32\]\s+8544$/);
  assert.match(row('transformer.layer.0.attention.q_lin')!, /weight \[32, 32\], bias \[32\]\s+1056$/);
  assert.match(row('transformer.layer.0.ffn.lin1')!, /weight \[64, 32\], bias \[64\]\s+2112$/);
  assert.match(row('transformer.layer.0.sa_layer_norm')!, /weight \[32\], bias \[32\]\s+64$/);
  assert.ok(lines.includes('params: 27968 total, 27968 trainable, 0 non-trainable'));
  assert.deepEqual(lines.filter((l) => l.startsWith('input: ')), ['input: input_ids [null,null] int32', 'input: attention_mask [null,null] int32']);
  assert.ok(lines.includes('checkpoint tensors not used by the model: 4 (classifier.bias, classifier.weight, pre_classifier.bias, pre_classifier.weight)'), r.stdout);
});

test('inspect a RoBERTa folder: BERT names, a one-row token type table, the pooler', () => {
  const r = tunespec(['inspect', 'test/fixtures/text/tiny-roberta', '--json']);
  assert.equal(r.code, 0, r.stderr);
  const j = JSON.parse(r.stdout);
  assert.equal(j.modelType, 'roberta');
  assert.deepEqual(j.layers.map((l: { name: string }) => l.name), ['embeddings', 'encoder.layer.0', 'encoder.layer.1', 'pooler']);
  assert.deepEqual(j.layers[0].modules.find((m: { name: string }) => m.name === 'embeddings.token_type_embeddings').shapes, { weight: [1, 32] });
  assert.equal(j.params.total, 35200);
  assert.equal(j.config.positionOffset, 2);
});

function writeSpec(family: 'roberta' | 'distilbert', maxLength = 16): string {
  const blocks = family === 'distilbert' ? 'transformer.layer' : 'encoder.layer';
  const file = join(dir, `${family}-${maxLength}.yaml`);
  writeFileSync(
    file,
    `name: ${family}
base_model:
  source: ${JSON.stringify(join(FIXTURES, `tiny-${family}`))}
  cut: ${blocks}.1
head:
  - { type: pooling, mode: mean }
  - { type: dense, units: 2, activation: softmax }
freeze:
  - { from: embeddings, to: ${blocks}.0 }
data: { format: text, path: ${JSON.stringify(REVIEWS)}, max_length: ${maxLength} }
validation: { fraction: 0.25, seed: 3 }
training: { epochs: 1, batch_size: 16, optimizer: adamw, learning_rate: 0.003, seed: 1 }
`,
  );
  return file;
}

test('validate refuses a max_length past what RoBERTa\'s position table leaves after padding_idx, at data.max_length', () => {
  const r = tunespec(['validate', writeSpec('roberta', 129)], dir);
  assert.equal(r.code, 1, r.stdout);
  assert.match(r.stderr, /:10:\d+: data\.max_length: 129 tokens is more than the base model's position embeddings take \(128, from its config\.json max_position_embeddings\); use at most 128/);
  assert.equal(tunespec(['validate', writeSpec('roberta', 128)], dir).code, 0);
});

for (const family of ['roberta', 'distilbert'] as const) {
  test(`a ${family} variant trains from its frozen blocks on onnxruntime, exports model.onnx with parity and its tokenizer, and predicts alike on tfjs and ONNX`, () => {
    const spec = writeSpec(family);
    const runs = join(dir, `runs-${family}`);
    const p = tunespec(['plan', spec], dir);
    assert.equal(p.code, 0, p.stderr);
    assert.match(p.stdout, family === 'distilbert' ? /1 +transformer\.layer\.0 +TunespecBertLayer +8544 +frozen +base/ : /1 +encoder\.layer\.0 +TunespecBertLayer +8544 +frozen +base/);
    const r = tunespec(['run', spec, '--runs-dir', runs], dir);
    assert.equal(r.code, 0, r.stderr + r.stdout);
    assert.match(r.stdout, /feature cache miss: features of (encoder|transformer)\.layer\.0 computed from the input in [\d.]+s \(onnxruntime-node [\d.]+\) and cached/);
    assert.match(r.stdout, /model\.onnx: onnxruntime vs tfjs on 16 validation rows, max \|diff\| [\d.e+-]+, top-1 agreement 100\.00%/);
    const [sweep] = readdirSync(join(runs, family));
    const [variant] = readdirSync(join(runs, family, sweep)).filter((v) => /^[0-9a-f]{12}$/.test(v));
    const v = join(runs, family, sweep, variant);
    assert.equal(JSON.parse(readFileSync(join(v, 'status.json'), 'utf8')).onnx.parity.argmaxAgreement, 1);
    assert.equal(existsSync(join(v, 'model.onnx')), true);
    assert.deepEqual(readFileSync(join(v, 'tokenizer.json')), readFileSync(join(FIXTURES, `tiny-${family}`, 'tokenizer.json')));
    const texts = ['The film was wonderful.', 'The room was bad.'];
    const predict = (engine: string) => {
      const out = tunespec(['predict', v, '--engine', engine, '--json', ...texts], dir);
      assert.equal(out.code, 0, out.stderr);
      return JSON.parse(out.stdout).predictions as { top: { name: string; probability: number }[] }[];
    };
    const [tfjs, onnx] = [predict('tfjs'), predict('onnx')];
    tfjs.forEach((t, i) => {
      assert.equal(onnx[i].top[0].name, t.top[0].name);
      assert.ok(Math.abs(onnx[i].top[0].probability - t.top[0].probability) < 1e-4);
    });
  });
}
