// LoRA fine-tuning end to end, as a user goes through it: `tunespec run` on a tiny-Llama generation
// spec with lora (into the run store and a real MLflow server, registering the best variant),
// `tunespec runs` printing the ft: name, `tunespec generate` and `tunespec serve` (through the
// official openai client) answering by that name exactly as training's eval completions did (the
// same chat-rendered prompt tokens at training and serving time), the adapter in PEFT's layout,
// merged/ giving the LoRA model's logits, and step 0 of LoRA being the base model.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import OpenAI from 'openai';
import type * as TF from '@tensorflow/tfjs';
import { ROOT, tempDir, tunespec } from '../helpers/cli.ts';
import { startMlflow, type MlflowServer } from '../helpers/mlflow-server.ts';
import { readExperiment } from '../helpers/mlflow-read.ts';
import { serveRuns } from '../helpers/serve.ts';
import { tinyChatSpec } from '../helpers/generation-variant.ts';
import { selectEngine } from '../../src/engine/backends.ts';
import { loadLlama } from '../../src/model/families/llama/load.ts';
import { loadLoraAdapter } from '../../src/model/families/llama/lora.ts';
import { parseSafetensors, tensorValues } from '../../src/model/hf/safetensors.ts';
import { ChatRenderer } from '../../src/data/chat-render.ts';
import { chatRecord } from '../../src/data/readers/chat.ts';
import { TextTokenizer } from '../../src/data/tokenize.ts';
import { causalLoss } from '../../src/train/causal-fit.ts';
import { setUpDecoder } from '../../src/train/variant-setup.ts';
import type { LlamaBase } from '../../src/model/families/llama-decoder.ts';
import type { GenerationExperiment } from '../../src/spec/types.ts';
import { MlflowClient } from '../../src/track/mlflow/client.ts';
import { resolveTrackingConfig } from '../../src/track/mlflow/config.ts';
import { downloadModelVersion } from '../../src/track/mlflow/registry.ts';

const dir = tempDir('tunespec-generation-lora-');
const FIXTURES = join(ROOT, 'test', 'fixtures', 'text');
const TINY = join(FIXTURES, 'tiny-llama');
const CHAT = join(FIXTURES, 'chat-reviews.jsonl');
const runs = join(dir, 'runs');
const PROMPTS = ['Review: The film was nice.\nSentiment:', 'Review: The room was bad.\nSentiment:'];
const TARGETS = ['q_proj', 'v_proj', 'o_proj'];

const spec = join(dir, 'reviews-lora.yaml');
writeFileSync(
  spec,
  tinyChatSpec(
    'reviews-lora',
    `validation: { fraction: 0.25, seed: 1 }
lora: { rank: 4, alpha: 8, dropout: 0.05, target_modules: ${JSON.stringify(TARGETS)} }
generation:
  eval_prompts: ${JSON.stringify(PROMPTS)}
  max_new_tokens: 6
register: { name: tiny-lora }
training: { epochs: 2, batch_size: 4, optimizer: adamw, learning_rate: 0.02, seed: 1 }
`,
  ),
);

let server: MlflowServer;
before(async () => {
  server = await startMlflow();
});
after(async () => {
  await server?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const logits = (tf: typeof TF, model: TF.LayersModel, ids: number[]) =>
  tf.tidy(() => (model.predict([tf.tensor2d([ids], [1, ids.length], 'int32'), tf.ones([1, ids.length], 'int32')]) as TF.Tensor).dataSync() as Float32Array);

const maxDiff = (a: Float32Array, b: Float32Array) => a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i])), 0);

test('step 0 of LoRA is the base: the variant set up as run sets it up has the base validation loss, with only the adapters trainable', async () => {
  const { tf } = await selectEngine('wasm', []);
  const base = await loadLlama(tf, TINY);
  const tokenizer = new TextTokenizer(readFileSync(join(TINY, 'tokenizer.json'), 'utf8'), base.tokenizerConfig);
  const renderer = new ChatRenderer(tokenizer, base.tokenizerConfig, base.config.eosTokenId);
  const examples = readFileSync(CHAT, 'utf8')
    .trim()
    .split('\n')
    .map((line, i) => renderer.example(chatRecord(JSON.parse(line), CHAT, i + 1), CHAT))
    .map((e) => ({ ids: Int32Array.from(e.ids), labelMask: Uint8Array.from(e.labels) }));
  const lora = { rank: 4, alpha: 8, dropout: 0.05, target_modules: TARGETS };
  const setup = await setUpDecoder(tf, { path: TINY, source: TINY } as LlamaBase, { freeze: [], lora, training: { seed: 1 } } as unknown as GenerationExperiment);
  try {
    const trainable = setup.llama.model.trainableWeights.map((w) => w.originalName);
    assert.equal(trainable.length, 2 * TARGETS.length * 2, trainable.join());
    assert.ok(trainable.every((n) => /\.lora_[AB]\.weight$/.test(n)), trainable.join());
    const before = causalLoss(tf, base.model, examples, 4, 2);
    const atStep0 = causalLoss(tf, setup.llama.model, examples, 4, 2);
    assert.ok(Number.isFinite(before) && before > 0);
    assert.ok(Math.abs(atStep0 - before) < 1e-6, `${atStep0} vs ${before}`);
  } finally {
    setup.dispose();
    base.model.dispose();
  }
});

test('run → runs → generate → serve by the ft: name; the adapter is PEFT-shaped, merged/ is the LoRA model, MLflow logs the adapter and registers the whole model', async () => {
  const r = tunespec(['run', spec, '--runs-dir', runs], dir, { MLFLOW_TRACKING_URI: server.uri });
  assert.equal(r.code, 0, r.stderr + r.stdout);
  assert.match(r.stdout, /1 completed, 0 skipped, 0 failed/);
  assert.match(r.stdout, /MLflow: best variant [0-9a-f]{12} \(.*\) registered as models:\/tiny-lora\/1/);
  const sweepDir = join(runs, 'reviews-lora', readdirSync(join(runs, 'reviews-lora'))[0]);
  const id = readdirSync(sweepDir).find((f) => /^[0-9a-f]{12}$/.test(f))!;
  const variant = join(sweepDir, id);
  const status = JSON.parse(readFileSync(join(variant, 'status.json'), 'utf8'));
  const name = `ft:tiny-llama:reviews-lora:${id}`;
  assert.equal(status.model.name, name);
  const table = JSON.parse(readFileSync(join(variant, 'completions.json'), 'utf8'));
  const [prompt, completion] = table.data[0] as [string, string];
  assert.equal(prompt, PROMPTS[0]);

  // runs prints the model's name, as hosted services print FINE_TUNED_MODEL.
  const listed = tunespec(['runs', spec, '--runs-dir', runs], dir);
  assert.equal(listed.code, 0, listed.stderr);
  assert.match(listed.stdout, new RegExp(`fine-tuned model: ${name}\\n`));

  // PEFT's adapter layout: config fields and tensor names and shapes ([r, in] and [out, r]) that peft's PeftModel reads.
  const config = JSON.parse(readFileSync(join(variant, 'adapter', 'adapter_config.json'), 'utf8'));
  assert.deepEqual(
    [config.peft_type, config.task_type, config.r, config.lora_alpha, config.lora_dropout, config.target_modules, config.layers_to_transform, config.base_model_name_or_path],
    ['LORA', 'CAUSAL_LM', 4, 8, 0.05, TARGETS, [0, 1], TINY],
  );
  const adapter = parseSafetensors(new Uint8Array(readFileSync(join(variant, 'adapter', 'adapter_model.safetensors'))), 'adapter');
  const modules = { q_proj: ['self_attn', 32, 32], v_proj: ['self_attn', 32, 16], o_proj: ['self_attn', 32, 32] } as const;
  const want = [0, 1].flatMap((b) =>
    TARGETS.flatMap((t) => {
      const [where, inDim, outDim] = modules[t as keyof typeof modules];
      const at = `base_model.model.model.layers.${b}.${where}.${t}`;
      return [`${at}.lora_A.weight:4,${inDim}`, `${at}.lora_B.weight:${outDim},4`];
    }),
  );
  assert.deepEqual([...adapter.entries].map(([n, e]) => `${n}:${e.shape.join()}`).sort(), want.sort());
  const trainedB = tensorValues(adapter, 'base_model.model.model.layers.1.self_attn.v_proj.lora_B.weight').values as Float32Array;
  assert.ok(trainedB.some((v) => v !== 0), 'B trained away from zero');

  // merged/ reloads to the LoRA model's logits: the base with the adapter applied.
  const { tf } = await selectEngine('wasm', []);
  const withAdapter = await loadLlama(tf, TINY);
  await loadLoraAdapter(tf, withAdapter.model, join(variant, 'adapter'));
  const merged = await loadLlama(tf, join(variant, 'merged'));
  const base = await loadLlama(tf, TINY);
  const tokenizer = new TextTokenizer(readFileSync(join(TINY, 'tokenizer.json'), 'utf8'), base.tokenizerConfig);
  const ids = new ChatRenderer(tokenizer, base.tokenizerConfig, 2).promptIds(PROMPTS[0]);
  const lora = logits(tf, withAdapter.model, ids);
  // Folding B·A·scale into W rounds once in float32: equal to 1e-5 of the logits' scale (measured ~3e-6 of it).
  const scale = lora.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
  const d = maxDiff(logits(tf, merged.model, ids), lora);
  assert.ok(d < 1e-5 * scale, `merged vs LoRA: max |diff| ${d}, largest logit ${scale}`);
  assert.ok(maxDiff(logits(tf, base.model, ids), lora) > 1e-3, 'the adapter changed the model');
  [withAdapter, merged, base].forEach((m) => m.model.dispose());

  // generate --chat by name: the eval prompt as a user message gives training's own completion.
  const g = tunespec(['generate', name, prompt, '--chat', '--max-tokens', '6', '--runs-dir', runs], dir);
  assert.equal(g.code, 0, g.stderr);
  assert.equal(g.stdout, `${completion}\n`);
  assert.match(g.stderr, new RegExp(`^generate: ${name} \\(${join(variant, 'merged')}\\)`, 'm'));

  // serve: the official client lists the model and streams the same answer.
  const served = await serveRuns(runs);
  try {
    const client = new OpenAI({ baseURL: `${served.url}/v1`, apiKey: 'unused', maxRetries: 0, timeout: 120_000 });
    const ids = [];
    for await (const m of client.models.list()) ids.push(m.id);
    assert.deepEqual(ids.sort(), [name, 'tiny-llama'].sort());
    const stream = await client.chat.completions.create({ model: name, messages: [{ role: 'user', content: prompt }], max_tokens: 6, temperature: 0, stream: true });
    let text = '';
    for await (const chunk of stream) text += chunk.choices[0]?.delta?.content ?? '';
    assert.equal(text, completion);
  } finally {
    assert.equal(await served.stop(), 0);
  }

  // MLflow: the run has the adapter and merged/'s config and tokenizer, not merged/'s weights
  // (the base's plus the adapter); the registered version is the whole model.
  const exp = await readExperiment(server.uri, 'reviews-lora');
  const child = exp.runs.find((x) => x.tags['tunespec.kind'] === 'variant')!;
  const paths = child.artifacts.map((a) => a.path);
  for (const p of ['adapter/adapter_config.json', 'adapter/adapter_model.safetensors', 'merged/config.json', 'merged/tokenizer.json', 'merged/tokenizer_config.json', 'completions.json']) assert.ok(paths.includes(p), p);
  assert.ok(!paths.includes('merged/model.safetensors'), paths.join());
  const tracking = resolveTrackingConfig({ flag: server.uri, spec: {}, specName: 'reviews-lora', env: {} })!;
  const { dir: downloaded } = await downloadModelVersion(new MlflowClient(tracking), 'models:/tiny-lora/1', join(dir, 'registry'));
  assert.deepEqual(readFileSync(join(downloaded, 'merged', 'model.safetensors')), readFileSync(join(variant, 'merged', 'model.safetensors')));
  assert.deepEqual(readFileSync(join(downloaded, 'adapter', 'adapter_model.safetensors')), readFileSync(join(variant, 'adapter', 'adapter_model.safetensors')));
  assert.match(readFileSync(join(downloaded, 'MLmodel'), 'utf8'), /format: hf-llama-folder\n\s+model: merged\n\s+adapter: adapter\n\s+model_name: ft:tiny-llama:reviews-lora:/);
  // `tunespec register` by id makes another version of the same logged model.
  const again = tunespec(['register', id, '--name', 'tiny-lora-cli', '--runs-dir', runs, '--tracking-uri', server.uri], dir);
  assert.equal(again.code, 0, again.stderr);
  assert.match(again.stdout, new RegExp(`variant ${id} \\(.*\\) registered as models:/tiny-lora-cli/1`));
});
