// LoRA on the Llama decoder against an independent implementation: scripts/lora_reference.py writes
// a fixed PEFT adapter for the tiny Llama and computes, in NumPy float64, its logits, the masked
// causal LM loss of a padded batch and that loss's gradient w.r.t. LoRA matrices (central
// differences). tunespec reads the adapter as PEFT wrote it and must give the same numbers on wasm
// and cpu, through the model's forward pass, the KV-cache decoder and causalLmLoss's gradient.
// Also: a fresh LoRA starts exactly at the base, only LoRA weights train, merging folds the branch
// into the base weights, and adapters and merged models are written in the layouts PEFT and
// transformers read, and read back.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { readFile, writeFile, copyFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type * as TF from '@tensorflow/tfjs';
import { selectEngine, type Tf } from '../../src/engine/backends.ts';
import { causalLmLoss } from '../../src/model/families/llama/causal-loss.ts';
import { greedyDecode } from '../../src/model/families/llama/generate.ts';
import type { LlamaBlockLayer, LlamaEmbeddingLayer } from '../../src/model/families/llama/layers.ts';
import { loadLlama } from '../../src/model/families/llama/load.ts';
import { applyLora, loadLoraAdapter, mergeLora, saveLoraAdapter, type LoraSettings } from '../../src/model/families/llama/lora.ts';
import { saveLlamaFolder } from '../../src/model/families/llama/save.ts';
import { hfParameterName, transpose2d } from '../../src/model/hf/checkpoint.ts';
import { parseSafetensors, tensorValues } from '../../src/model/hf/safetensors.ts';
import { ROOT, tempDir } from '../helpers/cli.ts';

const FIXTURES = join(ROOT, 'test', 'fixtures', 'text');
const TINY = join(FIXTURES, 'tiny-llama');
const TINY_GGUF = join(FIXTURES, 'tiny-llama.gguf');
const ADAPTER = join(FIXTURES, 'tiny-llama-lora');

interface LoraReference {
  scale: number;
  prompts: { text: string; input_ids: number[]; logits: number[]; greedy: number[]; max_abs_change_from_base: number }[];
  loss: { input_ids: number[][]; attention_mask: number[][]; label_mask: number[][]; loss: number; tokens: number };
  grads: { name: string; shape: number[]; values: number[] }[];
}
const ref: LoraReference = JSON.parse(readFileSync(join(FIXTURES, 'tiny-llama-lora-reference.json'), 'utf8'));

const maxDiff = (a: ArrayLike<number>, b: ArrayLike<number>): number => {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
};

/** Every position's logits of one unpadded sequence, flattened. */
function logitsOf(tf: Tf, model: TF.LayersModel, ids: number[]): Float32Array {
  const inputs = [tf.tensor2d([ids], [1, ids.length], 'int32'), tf.ones([1, ids.length], 'int32')];
  const out = model.predict(inputs) as TF.Tensor;
  const values = out.dataSync() as Float32Array;
  tf.dispose([...inputs, out]);
  return values;
}

function lossBatch(tf: Tf): [TF.Tensor, TF.Tensor, TF.Tensor] {
  const { input_ids, attention_mask, label_mask } = ref.loss;
  const shape: [number, number] = [input_ids.length, input_ids[0].length];
  return [tf.tensor2d(input_ids, shape, 'int32'), tf.tensor2d(attention_mask, shape, 'int32'), tf.tensor2d(label_mask, shape, 'int32')];
}

const names = (ws: readonly { originalName?: string; name: string }[]) => ws.map(hfParameterName).sort();
const loraName = /\.lora_[AB]\.weight$/;

for (const engine of ['wasm', 'cpu'] as const) {
  test(`a PEFT adapter on tiny Llama (${engine}): logits, KV-cache greedy tokens, masked causal loss and LoRA gradients match the NumPy reference`, async () => {
    const { tf } = await selectEngine(engine, []);
    const { model, config } = await loadLlama(tf, TINY);
    try {
      const settings = await loadLoraAdapter(tf, model, ADAPTER);
      assert.deepEqual({ ...settings, targetModules: [...settings.targetModules] }, { rank: 4, alpha: 8, dropout: 0.1, targetModules: ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'down_proj'], blocks: [0, 1], seed: 0 });
      // With the other layers frozen (the spec's default under LoRA), only the LoRA weights train: 2 blocks × 6 projections × (A, B).
      for (const l of model.layers) if (!l.name.startsWith('model.layers.')) l.trainable = false;
      const trainable = names(model.trainableWeights);
      assert.equal(trainable.length, 24);
      assert.ok(trainable.every((n) => loraName.test(n)), trainable.join(', '));
      assert.ok(trainable.includes('model.layers.1.mlp.down_proj.lora_B.weight'));

      for (const p of ref.prompts) {
        const d = maxDiff(logitsOf(tf, model, p.input_ids), p.logits);
        console.log(`# LoRA ${engine} "${p.text}": max |diff| of logits ${d.toExponential(2)} (the adapter moves them by up to ${p.max_abs_change_from_base})`);
        assert.ok(d < 1e-4, `max |diff| ${d}`);
        // The KV-cache decoder runs the same blocks, LoRA branches included.
        assert.deepEqual(greedyDecode(tf, model, config, p.input_ids, { maxNewTokens: p.greedy.length, stop: [] }), p.greedy, p.text);
      }

      const batch = lossBatch(tf);
      const before = tf.memory().numTensors;
      const evalLoss = causalLmLoss(tf, model, ...batch);
      assert.equal(evalLoss.tokens, ref.loss.tokens);
      const lossDiff = Math.abs(evalLoss.loss.dataSync()[0] - ref.loss.loss);
      evalLoss.loss.dispose();
      assert.equal(tf.memory().numTensors, before, 'the loss leaks no tensors');

      const vars = model.trainableWeights;
      const { value, grads } = tf.variableGrads(() => causalLmLoss(tf, model, ...batch).loss, vars.map((w) => w.read() as TF.Variable));
      assert.ok(Math.abs(value.dataSync()[0] - ref.loss.loss) < 1e-5);
      let worst = 0;
      for (const g of ref.grads) {
        const w = vars.find((v) => `base_model.model.${hfParameterName(v)}` === g.name);
        assert.ok(w, `${g.name} is a trainable weight`);
        const ours = grads[w.name].dataSync() as Float32Array;
        const [rows, cols] = w.shape as number[];
        const scale = Math.max(...g.values.map(Math.abs));
        worst = Math.max(worst, maxDiff(transpose2d(ours, rows, cols), g.values) / scale);
      }
      console.log(`# LoRA ${engine}: |loss - ref| ${lossDiff.toExponential(2)}; worst max |diff| of gradients relative to the largest entry ${worst.toExponential(2)}`);
      assert.ok(lossDiff < 1e-5, `loss ${lossDiff}`);
      assert.ok(worst < 1e-4, `gradient relative diff ${worst}`);
      for (const [name, g] of Object.entries(grads)) assert.ok(Number.isFinite(tf.norm(g).dataSync()[0]), name);
      tf.dispose([value, ...Object.values(grads)]);

      // From the hidden states entering block 1 (what a frozen-prefix cache holds): the same loss.
      const hidden = tf.tidy(() => model.getLayer('model.layers.0').apply([(model.getLayer('model.embed_tokens') as LlamaEmbeddingLayer).lookup(batch[0]), batch[1]]) as TF.Tensor);
      const fromCache = causalLmLoss(tf, model, ...batch, { from: { block: 1, hidden } });
      assert.ok(Math.abs(fromCache.loss.dataSync()[0] - ref.loss.loss) < 1e-5);
      const none = causalLmLoss(tf, model, batch[0], batch[1], tf.zerosLike(batch[2]));
      assert.equal(none.tokens, 0);
      tf.dispose([hidden, fromCache.loss, none.loss]);

      // Dropout (0.1) on the branch input while training only: it moves the loss, and the eval loss is back to the reference.
      const train = causalLmLoss(tf, model, ...batch, { training: true });
      const again = causalLmLoss(tf, model, ...batch);
      assert.ok(Math.abs(train.loss.dataSync()[0] - ref.loss.loss) > 1e-4, 'dropout changes the training loss');
      assert.ok(Math.abs(again.loss.dataSync()[0] - ref.loss.loss) < 1e-5);
      tf.dispose([train.loss, again.loss, ...batch]);
    } finally {
      model.dispose();
    }
  });
}

test('applyLora starts exactly at the base (B = 0), draws A as PEFT does, trains only its weights on the chosen blocks, and merging removes them', async () => {
  const { tf } = await selectEngine('wasm', []);
  const { model } = await loadLlama(tf, TINY);
  try {
    const ids = ref.prompts[0].input_ids;
    const base = logitsOf(tf, model, ids);
    const baseNames = names(model.weights);
    const settings: LoraSettings = { rank: 2, alpha: 4, dropout: 0, targetModules: ['q_proj', 'up_proj'], blocks: [1], seed: 7 };
    applyLora(tf, model, settings);
    assert.equal(maxDiff(logitsOf(tf, model, ids), base), 0, 'step 0 gives the base logits exactly');
    const lora = model.weights.filter((w) => loraName.test(w.originalName));
    assert.deepEqual(names(lora), ['model.layers.1.mlp.up_proj.lora_A.weight', 'model.layers.1.mlp.up_proj.lora_B.weight', 'model.layers.1.self_attn.q_proj.lora_A.weight', 'model.layers.1.self_attn.q_proj.lora_B.weight']);
    const value = (n: string) => lora.find((w) => hfParameterName(w) === n)!.read().dataSync() as Float32Array;
    const a = value('model.layers.1.self_attn.q_proj.lora_A.weight');
    assert.equal(a.length, 32 * 2, 'A is [in, r]');
    assert.ok(Math.max(...a.map(Math.abs)) <= 1 / Math.sqrt(32) && new Set(a).size === a.length, "A is U(-1/√in, 1/√in) (kaiming_uniform with a = √5, PEFT's default)");
    assert.ok(value('model.layers.1.mlp.up_proj.lora_B.weight').every((v) => v === 0), 'B starts at zero');

    // Block 1's base weights are frozen, its LoRA weights train; block 0 and the rest keep their flags.
    const block1 = model.getLayer('model.layers.1') as LlamaBlockLayer;
    const trainable = () => names(model.trainableWeights);
    const check = () => {
      assert.ok(trainable().filter((n) => n.startsWith('model.layers.1.')).every((n) => loraName.test(n)));
      assert.ok(trainable().includes('model.layers.0.self_attn.q_proj.weight') && trainable().includes('lm_head.weight'));
    };
    check();
    block1.trainable = false;
    assert.ok(!trainable().some((n) => n.startsWith('model.layers.1.')), 'freezing the block freezes its LoRA weights');
    block1.trainable = true;
    check();
    assert.equal(trainable().filter((n) => n.startsWith('model.layers.1.')).length, 4, 'unfreezing it gives back its LoRA weights, not its base weights');

    // A trained B: the merged model computes what the model with branches computed.
    const b = lora.find((w) => hfParameterName(w) === 'model.layers.1.self_attn.q_proj.lora_B.weight')!;
    const trained = tf.randomNormal(b.shape as number[], 0, 0.3, 'float32', 1);
    b.write(trained);
    trained.dispose();
    const withBranch = logitsOf(tf, model, ids);
    assert.ok(maxDiff(withBranch, base) > 1e-3, 'a non-zero B moves the logits');
    mergeLora(tf, model);
    assert.deepEqual(names(model.weights), baseNames, 'merging leaves a plain Llama model');
    const merged = logitsOf(tf, model, ids);
    console.log(`# merged vs branches: max |diff| ${maxDiff(merged, withBranch).toExponential(2)}`);
    assert.ok(maxDiff(merged, withBranch) < 1e-5);
    assert.ok(trainable().includes('model.layers.1.self_attn.q_proj.weight'), 'the merged block trains as it did before LoRA');

    // The same seed draws the same A again; another seed another A.
    applyLora(tf, model, settings);
    const again = model.weights.find((w) => hfParameterName(w) === 'model.layers.1.self_attn.q_proj.lora_A.weight')!.read().dataSync();
    assert.deepEqual(Array.from(again), Array.from(a));
    mergeLora(tf, model);
    applyLora(tf, model, { ...settings, seed: 8 });
    assert.notDeepEqual(Array.from(model.weights.find((w) => hfParameterName(w) === 'model.layers.1.self_attn.q_proj.lora_A.weight')!.read().dataSync()), Array.from(a));
    assert.throws(() => applyLora(tf, model, settings), { code: 'INTERNAL', message: 'blocks 1 already have LoRA weights' });
    assert.throws(() => applyLora(tf, model, { ...settings, blocks: [0, 2], rank: 0, targetModules: ['qkv' as never] }), {
      code: 'MODEL',
      message: 'LoRA settings: rank must be a positive integer; got 0; target_modules qkv are not Llama projections (q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj, down_proj); blocks 2 are not among the model\'s 2 (0-1)',
    });
  } finally {
    model.dispose();
  }
});

test('saveLoraAdapter writes PEFT\'s layout and config; the saved adapter and the merged model read back to the same logits', async () => {
  const { tf } = await selectEngine('wasm', []);
  const { model, config, tokenizerJson, tokenizerConfig } = await loadLlama(tf, TINY);
  const dir = tempDir();
  try {
    const settings = await loadLoraAdapter(tf, model, ADAPTER);
    const withAdapter = logitsOf(tf, model, ref.prompts[1].input_ids);
    const out = join(dir, 'adapter');
    await saveLoraAdapter(model, { ...settings, seed: 3 }, 'SmolLM2-135M-Instruct', out);
    const written = parseSafetensors(new Uint8Array(await readFile(join(out, 'adapter_model.safetensors'))), 'written');
    const original = parseSafetensors(new Uint8Array(await readFile(join(ADAPTER, 'adapter_model.safetensors'))), 'fixture');
    assert.deepEqual([...written.entries.keys()].sort(), [...original.entries.keys()].sort());
    for (const name of original.entries.keys()) {
      assert.deepEqual(written.entries.get(name)!.shape, original.entries.get(name)!.shape, name);
      assert.deepEqual(tensorValues(written, name).values, tensorValues(original, name).values, name);
    }
    assert.deepEqual(written.entries.get('base_model.model.model.layers.0.self_attn.k_proj.lora_A.weight')!.shape, [4, 32], 'lora_A is [r, in]');
    assert.deepEqual(written.entries.get('base_model.model.model.layers.0.self_attn.k_proj.lora_B.weight')!.shape, [16, 4], 'lora_B is [out, r]');
    assert.deepEqual(written.metadata, { format: 'pt' });
    const cfg = JSON.parse(await readFile(join(out, 'adapter_config.json'), 'utf8'));
    assert.deepEqual(
      { peft_type: cfg.peft_type, task_type: cfg.task_type, r: cfg.r, lora_alpha: cfg.lora_alpha, lora_dropout: cfg.lora_dropout, target_modules: cfg.target_modules, layers_to_transform: cfg.layers_to_transform, base_model_name_or_path: cfg.base_model_name_or_path, bias: cfg.bias },
      { peft_type: 'LORA', task_type: 'CAUSAL_LM', r: 4, lora_alpha: 8, lora_dropout: 0.1, target_modules: ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'down_proj'], layers_to_transform: [0, 1], base_model_name_or_path: 'SmolLM2-135M-Instruct', bias: 'none' },
    );
    await assert.rejects(saveLoraAdapter(model, { ...settings, blocks: [1] }, 'x', join(dir, 'bad')), { code: 'INTERNAL' });
    await assert.rejects(saveLlamaFolder(model, config, tokenizerJson, tokenizerConfig, join(dir, 'bad')), { code: 'INTERNAL', message: 'saveLlamaFolder was given a model with unmerged LoRA weights' });

    const fresh = await loadLlama(tf, TINY);
    try {
      await loadLoraAdapter(tf, fresh.model, out);
      assert.equal(maxDiff(logitsOf(tf, fresh.model, ref.prompts[1].input_ids), withAdapter), 0, 'the saved adapter gives the same logits');
    } finally {
      fresh.model.dispose();
    }

    // tfjs's own format keeps the branches too (the layer config says where they go).
    let artifacts: TF.io.ModelArtifacts | undefined;
    await model.save(tf.io.withSaveHandler(async (x) => ((artifacts = x), { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } })));
    const reloaded = await tf.loadLayersModel(tf.io.fromMemory(artifacts!));
    try {
      assert.equal(maxDiff(logitsOf(tf, reloaded, ref.prompts[1].input_ids), withAdapter), 0, 'model.save keeps the LoRA weights');
      assert.deepEqual(names(reloaded.getLayer('model.layers.1').trainableWeights).filter((n) => !loraName.test(n)), [], 'and their blocks\' base weights stay frozen');
    } finally {
      reloaded.dispose();
    }

    mergeLora(tf, model);
    await saveLlamaFolder(model, config, tokenizerJson, tokenizerConfig, join(dir, 'merged'));
    const merged = await loadLlama(tf, join(dir, 'merged'));
    try {
      const d = maxDiff(logitsOf(tf, merged.model, ref.prompts[1].input_ids), ref.prompts[1].logits);
      assert.ok(d < 1e-4, `the merged folder matches the NumPy reference with the adapter: max |diff| ${d}`);
    } finally {
      merged.model.dispose();
    }
  } finally {
    model.dispose();
  }
});

test('adapters tunespec cannot apply are refused, naming the file and the problem', async () => {
  const { tf } = await selectEngine('wasm', []);
  const { model } = await loadLlama(tf, TINY);
  try {
    const dir = tempDir();
    await mkdir(join(dir, 'a'));
    await copyFile(join(ADAPTER, 'adapter_model.safetensors'), join(dir, 'a', 'adapter_model.safetensors'));
    const config = JSON.parse(readFileSync(join(ADAPTER, 'adapter_config.json'), 'utf8'));
    const at = join(dir, 'a', 'adapter_config.json');
    await writeFile(at, JSON.stringify({ ...config, use_dora: true, target_modules: 'q_proj|v_proj' }));
    await assert.rejects(loadLoraAdapter(tf, model, join(dir, 'a')), { code: 'MODEL', message: `${at}: use_dora is not supported; target_modules must be a list of module names; got "q_proj|v_proj"` });
    await writeFile(at, JSON.stringify({ ...config, r: 8, target_modules: ['q_proj'] }));
    await assert.rejects(loadLoraAdapter(tf, model, join(dir, 'a')), {
      code: 'MODEL',
      message: /adapter_model\.safetensors does not fit adapter_config\.json: "base_model\.model\.model\.layers\.0\.self_attn\.q_proj\.lora_A\.weight" has shape \[4, 32\]; the model and r = 8 need \[8, 32\];.*tensors outside the configured LoRA modules: /,
    });
    assert.equal(model.weights.filter((w) => loraName.test(w.originalName)).length, 0, 'a refused adapter leaves no LoRA weights behind');
    await assert.rejects(loadLoraAdapter(tf, model, join(dir, 'absent')), { code: 'MODEL', message: new RegExp(`^cannot read the LoRA adapter in ${join(dir, 'absent')}: `) });
  } finally {
    model.dispose();
  }
});

for (const [kind, source] of [['folder', TINY], ['GGUF', TINY_GGUF]] as const) {
  test(`saveLlamaFolder: tiny Llama from a ${kind} saved as a Hugging Face folder loads back to the same logits`, async () => {
    const { tf } = await selectEngine('wasm', []);
    const loaded = await loadLlama(tf, source);
    const out = join(tempDir(), 'merged');
    try {
      await saveLlamaFolder(loaded.model, loaded.config, loaded.tokenizerJson, loaded.tokenizerConfig, out);
      const cfg = JSON.parse(await readFile(join(out, 'config.json'), 'utf8'));
      assert.deepEqual(cfg, {
        architectures: ['LlamaForCausalLM'],
        model_type: 'llama',
        vocab_size: 320,
        hidden_size: 32,
        intermediate_size: 64,
        num_hidden_layers: 2,
        num_attention_heads: 4,
        num_key_value_heads: 2,
        head_dim: 8,
        hidden_act: 'silu',
        max_position_embeddings: 128,
        rms_norm_eps: 1e-5,
        rope_theta: 10000,
        rope_scaling: null,
        attention_bias: false,
        mlp_bias: false,
        tie_word_embeddings: false,
        bos_token_id: 1,
        eos_token_id: 2,
        torch_dtype: 'float32',
      });
      assert.deepEqual(JSON.parse(await readFile(join(out, 'generation_config.json'), 'utf8')), { bos_token_id: 1, eos_token_id: 2 });
      const tokCfg = JSON.parse(await readFile(join(out, 'tokenizer_config.json'), 'utf8'));
      assert.deepEqual(tokCfg, loaded.tokenizerConfig);
      if (kind === 'GGUF') assert.match(String(tokCfg.chat_template), /<\|im_start\|>/, 'the chat template rebuilt from the GGUF is kept');
      const back = await loadLlama(tf, out);
      try {
        assert.deepEqual(back.unused, []);
        assert.deepEqual(back.config, loaded.config);
        assert.deepEqual(back.tokenizerJson, loaded.tokenizerJson);
        for (const p of ref.prompts) assert.equal(maxDiff(logitsOf(tf, back.model, p.input_ids), logitsOf(tf, loaded.model, p.input_ids)), 0, p.text);
      } finally {
        back.model.dispose();
      }
    } finally {
      loaded.model.dispose();
    }
  });
}
