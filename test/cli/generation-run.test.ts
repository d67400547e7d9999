// A generation sweep on a Llama decoder through the real CLI, as a user runs it: validate, plan,
// run (into the run store and a real MLflow server), runs. On the tiny random Llama (2 blocks,
// hidden 32) and 20 chat lines (16 prompt/completion pairs, 4 conversations), fine-tuning the top
// block, the final norm and the LM head with the embeddings and block 0 frozen.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT, tempDir, tunespec } from '../helpers/cli.ts';
import { startMlflow, type MlflowServer } from '../helpers/mlflow-server.ts';
import { downloadArtifact, readExperiment } from '../helpers/mlflow-read.ts';
import { selectEngine } from '../../src/engine/backends.ts';
import { loadLlama } from '../../src/model/families/llama/load.ts';
import { greedyDecode } from '../../src/model/families/llama/generate.ts';
import { parseSafetensors, tensorValues } from '../../src/model/hf/safetensors.ts';
import { ChatRenderer } from '../../src/data/chat-render.ts';
import { TextTokenizer } from '../../src/data/tokenize.ts';

const dir = tempDir('tunespec-generation-run-');
const FIXTURES = join(ROOT, 'test', 'fixtures', 'text');
const TINY = join(FIXTURES, 'tiny-llama');
const CHAT = join(FIXTURES, 'chat-reviews.jsonl');
const runs = join(dir, 'runs');
const PROMPTS = ['Review: The film was nice.\nSentiment:', 'Review: The room was bad.\nSentiment:'];

let server: MlflowServer;
before(async () => {
  server = await startMlflow();
});
after(async () => {
  await server?.stop();
  rmSync(dir, { recursive: true, force: true });
});

function writeSpec(name: string, body: string): string {
  const file = join(dir, `${name}.yaml`);
  writeFileSync(file, `name: ${name}\n${body}`);
  return file;
}

const common = `base_model: { source: ${JSON.stringify(TINY)} }
data: { format: chat, path: ${JSON.stringify(CHAT)}, max_length: 128 }
validation: { fraction: 0.25, seed: 1 }
`;

const spec = writeSpec(
  'reviews-gen',
  `task: generation
${common}freeze:
  - { from: model.embed_tokens, to: model.layers.0 }
generation:
  eval_prompts: ${JSON.stringify(PROMPTS)}
  max_new_tokens: 6
training:
  epochs: 2
  batch_size: 4
  gradient_accumulation_steps: 2
  optimizer: adamw
  weight_decay: 0.01
  max_grad_norm: 1.0
  schedule: { type: warmup_linear, warmup_steps: 1 }
  learning_rate: 0.01
  seed: 1
sweep:
  training.learning_rate: [0.01, 0.03]
`,
);

test('validate and plan a generation spec: the decoder\'s layers by Hugging Face name, frozen as freeze says; LoRA weights counted per block', () => {
  const v = tunespec(['validate', spec], dir);
  assert.equal(v.code, 0, v.stderr);
  assert.equal(v.stdout.trim(), `${spec}: ok (2 variants)`);
  const p = tunespec(['plan', spec], dir);
  assert.equal(p.code, 0, p.stderr);
  assert.match(p.stdout, /0 +model\.embed_tokens +TunespecLlamaEmbedding +10240 +frozen/);
  assert.match(p.stdout, /1 +model\.layers\.0 +TunespecLlamaDecoderLayer +9280 +frozen/);
  assert.match(p.stdout, /2 +model\.layers\.1 +TunespecLlamaDecoderLayer +9280 +trainable/);
  assert.match(p.stdout, /4 +lm_head +TunespecLlamaLmHead +10240 +trainable/);
  const i = tunespec(['inspect', spec], dir);
  assert.equal(i.code, 0, i.stderr);
  assert.match(i.stdout, /params: 39072 total, 19552 trainable, 19520 non-trainable/);
  assert.match(i.stdout, /output: \[null,null,320\], 320-token vocabulary \(next-token logits\)/);
  // Every base weight frozen under LoRA (no freeze given); rank 4 on q/v of block 1: 4 × ((32 + 32) + (32 + 16)).
  const lora = writeSpec('lora', `task: generation\n${common}lora: { rank: 4, layers: { from: 1, to: model.layers.1 } }\ntraining: { epochs: 1, learning_rate: 0.001 }\nsweep: { lora.rank: [4, 8] }\n`);
  const l = tunespec(['plan', lora], dir);
  assert.equal(l.code, 0, l.stderr);
  assert.match(l.stdout, /1 +model\.layers\.0 +TunespecLlamaDecoderLayer +9280 +frozen/);
  assert.match(l.stdout, /2 +model\.layers\.1 +TunespecLlamaDecoderLayer +9728 +lora \(448 trainable\)/);
  assert.match(l.stdout, /4 +lm_head +TunespecLlamaLmHead +10240 +frozen/);
  assert.match(l.stdout, /1 +[0-9a-f]{12} +8 +896/);
});

test('generation specs are checked where they are wrong: head, data, objective, lora.layers, the base', () => {
  const cases: [string, string, RegExp][] = [
    ['head', `task: generation\n${common}head: [{ type: dense, units: 2, activation: softmax }]\ntraining: { epochs: 1, learning_rate: 0.1 }\n`, /head\.yaml:6:1: head: a generation spec has no head/],
    ['nohead', `${common}training: { epochs: 1, learning_rate: 0.1 }\n`, /missing required property "head"/],
    ['loss', `task: generation\n${common}training: { epochs: 1, learning_rate: 0.1, metrics: [] }\n`, /training\.metrics: a generation spec's loss is the completion tokens' cross-entropy/],
    ['accuracy', `task: generation\n${common}training: { epochs: 1, learning_rate: 0.1, objective: { metric: val_accuracy } }\n`, /training\.objective\.metric: a generation spec has no val_accuracy/],
    ['blocks', `task: generation\n${common}lora: { layers: { from: model.embed_tokens, to: 5 } }\ntraining: { epochs: 1, learning_rate: 0.1 }\n`, /lora\.layers\.from: no decoder block named "model\.embed_tokens".*\n.*lora\.layers\.to: layer index 5 is out of range: the decoder has 2 blocks/],
    ['textdata', `task: generation\nbase_model: { source: ${JSON.stringify(TINY)} }\ndata: { format: text, path: x.csv }\ntraining: { epochs: 1, learning_rate: 0.1 }\n`, /data\.format: task: generation trains on prompts and completions \(format: chat\), not text data/],
    ['encoder', `task: generation\nbase_model: { source: ${JSON.stringify(join(FIXTURES, 'tiny-bert'))} }\ndata: { format: chat, path: ${JSON.stringify(CHAT)} }\ntraining: { epochs: 1, learning_rate: 0.1 }\n`, /base_model\.source: .*tiny-bert\/config\.json: model_type "bert" is not a Llama decoder; task: generation fine-tunes Llama models/],
    ['gguf-classifier', `base_model: { source: ${JSON.stringify(join(FIXTURES, 'tiny-llama.gguf'))} }\nhead: [{ type: dense, units: 2, activation: softmax }]\ndata: { format: text, path: ${JSON.stringify(join(FIXTURES, 'reviews-64.csv'))} }\ntraining: { epochs: 1, learning_rate: 0.1 }\n`, /base_model\.source: this is a Llama decoder, which tunespec fine-tunes for text generation: set task: generation/],
  ];
  for (const [name, body, re] of cases) {
    const r = tunespec(['validate', writeSpec(name, body)], dir);
    assert.equal(r.code, 1, `${name}: ${r.stdout}`);
    assert.match(r.stderr, re, name);
  }
  const bad = join(dir, 'bad.jsonl');
  writeFileSync(bad, '{"prompt": "a", "completion": " b"}\n{"messages": [{"role": "bot", "content": "x"}]}\n');
  const r = tunespec(['validate', writeSpec('baddata', `task: generation\nbase_model: { source: ${JSON.stringify(TINY)} }\ndata: { format: chat, path: bad.jsonl }\ntraining: { epochs: 1, learning_rate: 0.1 }\n`)], dir);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /data\.path: bad\.jsonl:2: messages\[0\]\.role: must be one of system, user, assistant; found "bot"/);
  // The GGUF twin of the tiny Llama is a base as good as its folder.
  const gguf = tunespec(['validate', writeSpec('gguf', `task: generation\nbase_model: { source: ${JSON.stringify(join(FIXTURES, 'tiny-llama.gguf'))} }\ndata: { format: chat, path: ${JSON.stringify(CHAT)} }\ntraining: { epochs: 1, learning_rate: 0.1 }\n`)], dir);
  assert.equal(gguf.code, 0, gguf.stderr);
});

function variantDirs(): string[] {
  const root = join(runs, 'reviews-gen');
  return readdirSync(root).flatMap((s) => readdirSync(join(root, s)).filter((v) => !v.includes('.')).map((v) => join(root, s, v)));
}

const weights = (folder: string) => parseSafetensors(new Uint8Array(readFileSync(join(folder, 'model.safetensors'))), folder);

test('run trains each variant, stores metrics, the merged model (frozen weights bit-identical), greedy completions and the model name; MLflow gets the curves and the completions table', async () => {
  const r = tunespec(['run', spec, '--runs-dir', runs], dir, { MLFLOW_TRACKING_URI: server.uri });
  assert.equal(r.code, 0, r.stderr + r.stdout);
  assert.match(r.stdout, /2 completed, 0 skipped, 0 failed/);
  assert.match(r.stdout, /epoch 2\/2 loss [\d.]+ val_loss [\d.]+ val_ppl [\d.]+ lr [\d.e-]+ \d+ tokens\/s/);
  const dirs = variantDirs();
  assert.equal(dirs.length, 2);
  const { tf } = await selectEngine('wasm', []);
  const base = await loadLlama(tf, TINY);
  const baseWeights = weights(TINY);
  const tokenizer = new TextTokenizer(readFileSync(join(TINY, 'tokenizer.json'), 'utf8'), base.tokenizerConfig);
  const renderer = new ChatRenderer(tokenizer, base.tokenizerConfig, 2);
  const ids = renderer.promptIds(PROMPTS[0]);
  const input = [tf.tensor2d([ids], [1, ids.length], 'int32'), tf.ones([1, ids.length], 'int32')];
  const baseLogits = (base.model.predict(input) as ReturnType<typeof tf.tensor>).dataSync();
  for (const d of dirs) {
    const status = JSON.parse(readFileSync(join(d, 'status.json'), 'utf8'));
    assert.equal(status.status, 'completed');
    assert.equal(status.model.name, `ft:tiny-llama:reviews-gen:${status.variant}`);
    assert.deepEqual(status.model.base, { name: 'tiny-llama', source: TINY });
    assert.equal(status.model.task, 'generation');
    assert.equal(status.model.folder, 'merged');
    assert.match(status.onnx.skipped, /not done for generation variants/);
    assert.deepEqual([status.data.truncated, status.data.dropped, status.split.train, status.split.validation], [0, 0, 15, 5]);

    const epochs = readFileSync(join(d, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    assert.deepEqual(epochs.map((e) => e.epoch), [1, 2]);
    for (const e of epochs) {
      assert.deepEqual(Object.keys(e).sort(), ['epoch', 'epoch_seconds', 'learning_rate', 'loss', 'timestamp', 'tokens_per_second', 'val_loss', 'val_perplexity']);
      assert.ok(Math.abs(e.val_perplexity - Math.exp(e.val_loss)) < 1e-9 * e.val_perplexity);
      assert.ok(e.tokens_per_second > 0 && e.loss > 0);
    }
    assert.ok(epochs[1].loss < epochs[0].loss, 'training loss falls');
    const result = JSON.parse(readFileSync(join(d, 'result.json'), 'utf8'));
    assert.deepEqual(result.metrics, { val_loss: epochs[1].val_loss, val_perplexity: epochs[1].val_perplexity, kept_epoch: 2, epochs_run: 2 });

    // The merged folder is a Llama model folder: it loads, and answers differently from the base.
    const merged = join(d, 'merged');
    const tuned = await loadLlama(tf, merged);
    assert.deepEqual(tuned.unused, []);
    const tunedLogits = (tuned.model.predict(input) as ReturnType<typeof tf.tensor>).dataSync();
    assert.notDeepEqual(Array.from(tunedLogits), Array.from(baseLogits));
    const saved = weights(merged);
    const value = (w: typeof saved, n: string) => tensorValues(w, n).values as Float32Array;
    for (const n of ['model.embed_tokens.weight', 'model.layers.0.self_attn.q_proj.weight', 'model.layers.0.mlp.down_proj.weight', 'model.layers.0.input_layernorm.weight']) {
      assert.deepEqual(value(saved, n), value(baseWeights, n), `${n} is frozen`);
    }
    for (const n of ['model.layers.1.self_attn.q_proj.weight', 'model.norm.weight', 'lm_head.weight']) assert.notDeepEqual(value(saved, n), value(baseWeights, n), `${n} trained`);

    // completions.json: MLflow's table JSON, each prompt's greedy answer from the kept weights.
    const table = JSON.parse(readFileSync(join(d, 'completions.json'), 'utf8'));
    assert.deepEqual(table.columns, ['prompt', 'completion']);
    assert.deepEqual(table.data.map((row: string[]) => row[0]), PROMPTS);
    for (const [prompt, completion] of table.data) {
      const out = greedyDecode(tf, tuned.model, tuned.config, renderer.promptIds(prompt), { maxNewTokens: 6, stop: [2] });
      assert.equal(completion, tokenizer.decode(out));
    }
    tuned.model.dispose();
  }
  tf.dispose(input);
  base.model.dispose();

  // runs names the best variant's model, as hosted services print FINE_TUNED_MODEL.
  const best = tunespec(['runs', spec, '--runs-dir', runs], dir);
  assert.equal(best.code, 0, best.stderr);
  const bestId = best.stdout.match(/best: ([0-9a-f]{12}) \(lr=0\.0[13]\) val_loss [\d.]+/)?.[1];
  assert.ok(bestId, best.stdout);
  assert.match(best.stdout, new RegExp(`fine-tuned model: ft:tiny-llama:reviews-gen:${bestId}\\n`));
  assert.match(best.stdout, /variant +swept +status +val_loss +val_perplexity +epoch +seconds/);
  const predict = tunespec(['predict', 'best', '--spec', spec, '--runs-dir', runs, 'some text'], dir);
  assert.equal(predict.code, 1);
  assert.match(predict.stderr, new RegExp(`is a generation variant \\(ft:tiny-llama:reviews-gen:${bestId}\\): predict and evaluate take classifiers`));

  const exp = await readExperiment(server.uri, 'reviews-gen');
  assert.equal(exp.tags['mlflow.experiment.primaryMetric.name'], 'kept/val/loss');
  assert.equal(exp.tags['mlflow.experiment.primaryMetric.greaterIsBetter'], 'false');
  const children = exp.runs.filter((x) => x.tags['tunespec.kind'] === 'variant');
  assert.equal(children.length, 2);
  for (const child of children) {
    assert.equal(child.status, 'FINISHED');
    for (const key of ['train/loss', 'val/loss', 'val/perplexity', 'train/learning_rate', 'diag/tokens_per_second', 'diag/epoch_seconds']) {
      assert.deepEqual(child.history[key]?.map((m) => m.step), [1, 2], key);
    }
    assert.equal(child.history['kept/val/perplexity']?.length, 1);
    assert.deepEqual(JSON.parse(child.tags['mlflow.loggedArtifacts']), [{ path: 'completions.json', type: 'table' }]);
    assert.equal(child.tags['tunespec.model'], `ft:tiny-llama:reviews-gen:${child.tags['tunespec.variant_id']}`);
    assert.equal(child.params['generation.eval_prompts.0'], undefined, 'eval prompts are not part of the variant');
    const stored = dirs.find((d) => d.endsWith(child.tags['tunespec.variant_id']))!;
    assert.deepEqual(await downloadArtifact(server.uri, child, 'completions.json'), readFileSync(join(stored, 'completions.json')));
    assert.ok(child.artifacts.some((a) => a.path === 'merged/model.safetensors'));
  }
});
