// Load, forward and greedy-decoding time of a Llama decoder (issue 16). Default: SmolLM2-135M-Instruct
// Q4_1 (npm run models:gpt). Usage:
//   npx tsx bench/llama-generate.ts [MODEL.gguf | FOLDER] [--engines wasm,cpu] [--prompt 32] [--new 32] [--reps 3]
// One JSON line per engine. Each time comes with this process's CPU time: on a shared machine the
// wall time carries other processes' load.
import { join } from 'node:path';
import type * as TF from '@tensorflow/tfjs';
import { selectEngine, type EngineName } from '../src/engine/backends.ts';
import { greedyDecode } from '../src/model/families/llama/generate.ts';
import { loadLlama } from '../src/model/families/llama/load.ts';
import { optionValue } from './lib/args.ts';

const args = process.argv.slice(2);
const opt = (name: string, fallback: string) => optionValue(args, name, fallback);
const source = args[0] && !args[0].startsWith('--') ? args[0] : join(import.meta.dirname, '..', '.cache', 'models', 'SmolLM2-135M-Instruct.Q4_1.gguf');
const promptLength = Number(opt('prompt', '32'));
const newTokens = Number(opt('new', '32'));
const reps = Number(opt('reps', '3'));

function timed<T>(fn: () => T): { value: T; ms: number; cpuMs: number } {
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  const value = fn();
  const c = process.cpuUsage(c0);
  return { value, ms: Math.round(performance.now() - t0), cpuMs: Math.round((c.user + c.system) / 1000) };
}

for (const name of opt('engines', 'wasm').split(',') as EngineName[]) {
  const { tf } = await selectEngine(name, []);
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  const { model, config } = await loadLlama(tf, source);
  const c = process.cpuUsage(c0);
  const load = { ms: Math.round(performance.now() - t0), cpuMs: Math.round((c.user + c.system) / 1000) };
  // A fixed prompt of ordinary tokens; greedy decoding never stops early (no stop ids).
  const prompt = Array.from({ length: promptLength }, (_, i) => 1000 + ((i * 7919) % 20000));
  const ids = tf.tensor2d([prompt], [1, promptLength], 'int32');
  const mask = tf.onesLike(ids);
  const forward = () => tf.tidy(() => (model.predict([ids, mask]) as TF.Tensor).dataSync());
  forward(); // kernels and first-use allocations
  const fwd = Array.from({ length: reps }, () => timed(forward));
  const dec = Array.from({ length: reps }, () => timed(() => greedyDecode(tf, model, config, prompt, { maxNewTokens: newTokens, stop: [] })));
  const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  console.log(
    JSON.stringify({
      engine: name,
      source,
      load,
      promptTokens: promptLength,
      forwardMs: fwd.map((f) => f.ms),
      forwardCpuMs: fwd.map((f) => f.cpuMs),
      newTokens,
      decodeMs: dec.map((d) => d.ms),
      decodeCpuMs: dec.map((d) => d.cpuMs),
      // Prompt processing included, as a user waits for it.
      tokensPerSecond: Math.round((newTokens / (med(dec.map((d) => d.ms)) / 1000)) * 10) / 10,
      tokensPerCpuSecond: Math.round((newTokens / (med(dec.map((d) => d.cpuMs)) / 1000)) * 10) / 10,
    }),
  );
  tf.dispose([ids, mask]);
  model.dispose();
}
