// Tokens/s of a LoRA training step on the top blocks of a Llama decoder, with the frozen-block cache
// on and off (issue 16). Default: SmolLM2-135M-Instruct Q4_1 (npm run models:gpt) and
// experiments/generation.yaml's set-up. Usage:
//
//   npx tsx bench/lora-training.ts [--model MODEL.gguf] [--engines wasm,native] [--top 4] [--rank 8]
//       [--targets q_proj,v_proj] [--batch 4] [--steps 5] [--rounds 1] [--data data/text/vader/movie_reviews_chat.jsonl]
//
// A step is what causal-fit.ts does for one batch: the batch padded to its longest row,
// tf.variableGrads of causalLmLoss (training: true, so LoRA dropout is on) over the LoRA weights,
// AdamW with weight decay 0.01 and gradient clipping at 1.0 (createOptimizer), loss read back.
// Cache off: from the token ids through every block. Cache on: causalLmLoss `from` the hidden
// states entering the first LoRA block, computed once per batch beforehand (the fill is timed on
// its own: a sweep pays it once, every epoch reads it). Each engine runs in its own process per
// round: one untimed step of each mode, then `--steps` steps of each, alternating off/on.
// Tokens/s counts real tokens (prompt and completion, no padding), as tunespec's
// `tokens_per_second` metric does. Wall and process CPU time (the machine may be shared).
// Raw results: bench/.cache/results/lora-training-<time>.json.
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type * as TF from '@tensorflow/tfjs';
import { ChatRenderer } from '../src/data/chat-render.ts';
import { readChatFile } from '../src/data/readers/chat.ts';
import { TextTokenizer } from '../src/data/tokenize.ts';
import { selectEngine, type EngineName } from '../src/engine/backends.ts';
import { causalLmLoss } from '../src/model/families/llama/causal-loss.ts';
import type { LlamaEmbeddingLayer } from '../src/model/families/llama/layers.ts';
import { loadLlama } from '../src/model/families/llama/load.ts';
import { applyLora, type LoraTarget } from '../src/model/families/llama/lora.ts';
import type { TrainingSpec } from '../src/spec/types.ts';
import { padBatch } from '../src/train/causal-fit.ts';
import { createOptimizer } from '../src/train/optimizer.ts';
import { median } from './lib/measure.ts';
import { optionValue } from './lib/args.ts';

const ROOT = join(import.meta.dirname, '..');
const SELF = fileURLToPath(import.meta.url);
const args = process.argv.slice(2);
const opt = (name: string, fallback: string) => optionValue(args, name, fallback);
const model = opt('model', join(ROOT, '.cache', 'models', 'SmolLM2-135M-Instruct.Q4_1.gguf'));
const top = Number(opt('top', '4'));
const rank = Number(opt('rank', '8'));
const targets = opt('targets', 'q_proj,v_proj').split(',') as LoraTarget[];
const batchSize = Number(opt('batch', '4'));
const steps = Number(opt('steps', '5'));
const dataFile = opt('data', join(ROOT, 'data', 'text', 'vader', 'movie_reviews_chat.jsonl'));
const MAX_LENGTH = 96;

const cpuSeconds = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
};
function timed<T>(fn: () => T): { value: T; wall: number; cpu: number } {
  const w = performance.now();
  const c = cpuSeconds();
  const value = fn();
  return { value, wall: (performance.now() - w) / 1000, cpu: cpuSeconds() - c };
}

interface Step {
  wall: number;
  cpu: number;
  tokens: number;
  loss: number;
}

async function worker(engine: EngineName): Promise<void> {
  const { tf } = await selectEngine(engine, []);
  const { model: llama, config, tokenizerJson, tokenizerConfig } = await loadLlama(tf, model);
  const blocks = Array.from({ length: top }, (_, i) => config.numLayers - top + i);
  for (const l of llama.layers) l.trainable = false;
  applyLora(tf, llama, { rank, alpha: 2 * rank, dropout: 0.05, targetModules: targets, blocks, seed: 42 });
  const trainable = llama.trainableWeights.map((w) => w.read() as TF.Variable);
  const optimizer = createOptimizer(tf, { optimizer: 'adamw', learning_rate: 3e-4, weight_decay: 0.01, max_grad_norm: 1.0 } as TrainingSpec);

  // experiments/generation.yaml's examples: the chat template rendered, cut at max_length.
  const tokenizer = new TextTokenizer(JSON.stringify(tokenizerJson), tokenizerConfig, model);
  const renderer = new ChatRenderer(tokenizer, tokenizerConfig, config.eosTokenId, model);
  const examples = (await readChatFile(dataFile)).map((r) => {
    const { ids, labels } = renderer.example(r, dataFile);
    const keep = Math.min(ids.length, MAX_LENGTH);
    return { ids: Int32Array.from(ids.slice(0, keep)), labelMask: Uint8Array.from(labels.slice(0, keep)) };
  });
  const batches = Array.from({ length: Math.min(steps + 1, Math.floor(examples.length / batchSize)) }, (_, b) => {
    const p = padBatch(examples.slice(b * batchSize, (b + 1) * batchSize), 0);
    const shape: [number, number] = [p.rows, p.length];
    return { p, t: [tf.tensor2d(p.ids, shape, 'int32'), tf.tensor2d(p.attention, shape, 'int32'), tf.tensor2d(p.labels, shape, 'int32')] as const };
  });
  // The frozen embedding and blocks below the first LoRA block, once per batch.
  const fill = batches.map(({ t }) =>
    timed(() =>
      tf.tidy(() => {
        let x = (llama.getLayer('model.embed_tokens') as LlamaEmbeddingLayer).lookup(t[0]);
        for (let i = 0; i < blocks[0]!; i++) x = llama.getLayer(`model.layers.${i}`).apply([x, t[1]]) as TF.Tensor;
        return x;
      }),
    ),
  );
  const step = (b: number, cached: boolean): Step => {
    const { t, p } = batches[b % batches.length]!;
    const r = timed(() => {
      const { value, grads } = tf.variableGrads(
        () => causalLmLoss(tf, llama, t[0], t[1], t[2], { training: true, ...(cached ? { from: { block: blocks[0]!, hidden: fill[b % batches.length]!.value } } : {}) }).loss,
        trainable,
      );
      optimizer.applyGradients(grads);
      tf.dispose(Object.values(grads));
      const loss = value.dataSync()[0]!;
      value.dispose();
      return loss;
    });
    return { wall: r.wall, cpu: r.cpu, tokens: p.tokens, loss: r.value };
  };
  step(0, false);
  step(0, true);
  const off: Step[] = [];
  const on: Step[] = [];
  for (let s = 0; s < steps; s++) {
    off.push(step(s, false));
    on.push(step(s, true));
  }
  console.log(
    JSON.stringify({
      engine,
      backend: tf.getBackend(),
      blocks,
      trainableParams: trainable.reduce((n, v) => n + v.size, 0),
      batchShapes: batches.map(({ p }) => [p.rows, p.length]),
      fill: fill.map((f, i) => ({ wall: f.wall, cpu: f.cpu, tokens: batches[i]!.p.tokens })),
      off,
      on,
    }),
  );
  tf.dispose(fill.map((f) => f.value));
  llama.dispose();
}

async function main(): Promise<void> {
  if (args.includes('--worker')) return worker(opt('worker', 'wasm') as EngineName);
  const engines = opt('engines', 'wasm,native').split(',').filter(Boolean) as EngineName[];
  const rounds = Number(opt('rounds', '1'));
  const started = new Date();
  const loads: number[][] = [loadavg()];
  const results: Record<string, unknown>[] = [];
  for (let r = 0; r < rounds; r++) {
    for (const engine of r % 2 ? [...engines].reverse() : engines) {
      const cmd = [process.execPath, '--import', 'tsx', SELF, ...args, '--worker', engine];
      const p = spawnSync(cmd[0]!, cmd.slice(1), { cwd: ROOT, encoding: 'utf8', maxBuffer: 64 * 2 ** 20, env: { ...process.env, TF_CPP_MIN_LOG_LEVEL: '2' } });
      if (p.status !== 0) throw new Error(`${engine} worker exited with ${p.status}:\n${p.stderr.slice(-3000)}`);
      results.push(JSON.parse(p.stdout.split('\n').filter((l) => l.startsWith('{')).pop()!));
      loads.push(loadavg());
      console.error(`round ${r + 1}/${rounds}, ${engine} done, load average ${loadavg().map((x) => x.toFixed(1)).join(' ')}`);
    }
  }
  const finished = new Date();
  const f = (x: number, d = 1) => x.toFixed(d);
  const first = results[0] as { blocks: number[]; trainableParams: number; batchShapes: number[][] };
  const out = [
    `Measured ${started.toISOString().slice(0, 16).replace('T', ' ')} to ${finished.toISOString().slice(11, 16)} UTC on ${cpus().length} cores (${cpus()[0]?.model.trim()}); ` +
      `load average (1 min) ${Math.min(...loads.map((l) => l[0]!)).toFixed(1)}–${Math.max(...loads.map((l) => l[0]!)).toFixed(1)} during the runs. ` +
      `${basename(model)}, LoRA r=${rank} on ${targets.join(', ')} of blocks ${first.blocks[0]}–${first.blocks.at(-1)} (${first.trainableParams.toLocaleString('en')} trainable parameters), ` +
      `batches of ${batchSize} from ${basename(dataFile)} (shapes ${[...new Set(first.batchShapes.map((s) => s.join('×')))].join(', ')}), AdamW; median of ${steps} steps × ${rounds} round(s) per mode.`,
    '',
    '| engine | frozen-block cache | tokens/s (wall) | tokens / CPU s | step wall | step CPU | on / off (wall; CPU) |',
    '|---|---|---|---|---|---|---|',
  ];
  for (const engine of engines) {
    const mine = results.filter((x) => x.engine === engine) as unknown as { off: Step[]; on: Step[]; fill: Step[] }[];
    const rate = (xs: Step[]) => ({
      tps: median(xs.map((s) => s.tokens / s.wall)),
      tpc: median(xs.map((s) => s.tokens / s.cpu)),
      wall: median(xs.map((s) => s.wall)),
      cpu: median(xs.map((s) => s.cpu)),
    });
    const off = rate(mine.flatMap((m) => m.off));
    const on = rate(mine.flatMap((m) => m.on));
    const fill = mine.flatMap((m) => m.fill);
    out.push(`| ${engine} | off | ${f(off.tps)} | ${f(off.tpc)} | ${f(off.wall, 2)} s | ${f(off.cpu, 2)} s | |`);
    out.push(`| ${engine} | on | ${f(on.tps)} | ${f(on.tpc)} | ${f(on.wall, 2)} s | ${f(on.cpu, 2)} s | ${f(on.tps / off.tps, 2)}×; ${f(on.tpc / off.tpc, 2)}× |`);
    out.push(`| ${engine} | (cache fill, once per batch) | ${f(median(fill.map((s) => s.tokens / s.wall)))} | ${f(median(fill.map((s) => s.tokens / s.cpu)))} | ${f(median(fill.map((s) => s.wall)), 2)} s | ${f(median(fill.map((s) => s.cpu)), 2)} s | |`);
  }
  const report = out.join('\n');
  console.log(report);
  const dir = join(ROOT, 'bench', '.cache', 'results');
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `lora-training-${started.toISOString().replace(/[:.]/g, '-')}.json`);
  writeFileSync(file, `${JSON.stringify({ started, finished, args, loads, results, report }, null, 2)}\n`);
  console.error(`raw results: ${file}`);
}

await main();
