// Forward and training-step time of a BERT-family encoder on the engines that load here (issue 15).
// `onnx` among the engines: the encoder exported to ONNX (model/onnx/text.ts) on onnxruntime-node, forward only.
// Usage: npx tsx bench/text-encoder.ts [MODEL_FOLDER] [--engines wasm,cpu,onnx] [--batch 16] [--tokens 64] [--reps 3] [--warmup 1] [--train-top 2 | --train-top 0]
// Default folder: .cache/models/all-MiniLM-L6-v2 (npm run models:text). Prints one JSON line per engine.
import { join } from 'node:path';
import type * as TF from '@tensorflow/tfjs';
import { selectEngine, type EngineName } from '../src/engine/backends.ts';
import { loadHfEncoder } from '../src/model/hf/encoder.ts';
import { exportTextPrefix } from '../src/model/onnx/text.ts';
import { OnnxSession } from '../src/engine/onnx-runtime.ts';
import { optionValue } from './lib/args.ts';

const args = process.argv.slice(2);
const opt = (name: string, fallback: string) => optionValue(args, name, fallback);
const folder = args[0] && !args[0].startsWith('--') ? args[0] : join(import.meta.dirname, '..', '.cache', 'models', 'all-MiniLM-L6-v2');
const B = Number(opt('batch', '16'));
const T = Number(opt('tokens', '64'));
const reps = Number(opt('reps', '3'));
const trainTop = Number(opt('train-top', '2'));
const warmup = Number(opt('warmup', '1'));

/** Median forward time of the encoder exported to ONNX, on onnxruntime-node with its default threads (the cores). */
async function onnxForward(): Promise<void> {
  const { tf } = await selectEngine('cpu', []);
  const { model } = await loadHfEncoder(tf, folder);
  const vocab = (model.getLayer('embeddings').getWeights()[0].shape[0] as number) - 1;
  const ids = Int32Array.from((tf.randomUniform([B, T], 1000 % vocab, vocab, 'int32', 7) as TF.Tensor).dataSync());
  const session = await OnnxSession.load(exportTextPrefix(model, model.outputs[0] as TF.SymbolicTensor).bytes);
  model.dispose();
  const feeds = { input_ids: { data: ids, rowShape: [T] }, attention_mask: { data: new Int32Array(B * T).fill(1), rowShape: [T] }, token_type_ids: { data: new Int32Array(B * T), rowShape: [T] } };
  const forward = () => session.runNamed(feeds, B);
  for (let i = 0; i < warmup; i++) await forward();
  const ms: number[] = [];
  const cpu: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    const c0 = process.cpuUsage();
    await forward();
    const c = process.cpuUsage(c0);
    cpu.push((c.user + c.system) / 1000);
    ms.push(performance.now() - t0);
  }
  await session.dispose();
  const median = [...ms].sort((a, b) => a - b)[Math.floor(ms.length / 2)];
  console.log(JSON.stringify({ engine: 'onnx', batch: B, tokens: T, forwardMs: ms.map(Math.round), forwardCpuMs: cpu.map(Math.round), forwardMedianMs: Math.round(median), tokensPerSecond: Math.round((B * T) / (median / 1000)) }));
}

for (const name of opt('engines', 'wasm,cpu').split(',') as (EngineName | 'onnx')[]) {
  if (name === 'onnx') {
    await onnxForward();
    continue;
  }
  const { tf } = await selectEngine(name, []);
  const { model } = await loadHfEncoder(tf, folder);
  const vocab = (model.getLayer('embeddings').getWeights()[0].shape[0] as number) - 1;
  const ids = tf.randomUniform([B, T], 1000 % vocab, vocab, 'int32', 7) as TF.Tensor;
  const mask = tf.onesLike(ids);
  const types = tf.zerosLike(ids);
  // Wall time and this process's CPU time: on a shared machine the wall time carries other processes' load.
  const cpu: number[] = [];
  const time = (fn: () => void) => {
    const t0 = performance.now();
    const c0 = process.cpuUsage();
    fn();
    const c = process.cpuUsage(c0);
    cpu.push((c.user + c.system) / 1000);
    return performance.now() - t0;
  };
  const forward = () => tf.tidy(() => (model.predict([ids, mask, types]) as TF.Tensor[])[0].dataSync());
  for (let i = 0; i < warmup; i++) forward(); // kernels and weight uploads
  const fwd = Array.from({ length: reps }, () => time(forward));
  const fwdCpu = cpu.splice(0);
  const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  const forwardLine = { engine: name, batch: B, tokens: T, forwardMs: fwd.map(Math.round), forwardCpuMs: fwdCpu.map(Math.round), forwardMedianMs: Math.round(med(fwd)), tokensPerSecond: Math.round((B * T) / (med(fwd) / 1000)) };
  if (trainTop === 0) {
    console.log(JSON.stringify(forwardLine));
    tf.dispose([ids, mask, types]);
    model.dispose();
    continue;
  }

  const blocks = model.layers.filter((l) => l.name.startsWith('encoder.layer.'));
  for (const l of model.layers) l.trainable = blocks.slice(-trainTop).includes(l);
  const optimizer = tf.train.adam(1e-4);
  const vars = model.trainableWeights.map((w) => w.read() as TF.Variable);
  const step = () =>
    tf.dispose(
      optimizer.minimize(() => {
        const [hidden] = model.apply([ids, mask, types], { training: true }) as TF.Tensor[];
        return tf.mean(tf.square(hidden)) as TF.Scalar;
      }, true, vars)!,
    );
  for (let i = 0; i < warmup; i++) step();
  cpu.length = 0;
  const steps = Array.from({ length: Math.max(1, reps - 1) }, () => time(step));
  // The same step as the feature cache will run it: the frozen blocks' output computed once, only the top blocks stepped.
  const top = blocks.slice(-trainTop);
  const below = blocks[blocks.indexOf(top[0]) - 1] ?? model.getLayer('embeddings');
  const prefix = tf.model({ inputs: model.inputs, outputs: below.output as TF.SymbolicTensor });
  const cached = tf.tidy(() => prefix.predict([ids, mask, types]) as TF.Tensor);
  const cachedStep = () =>
    tf.dispose(
      optimizer.minimize(() => {
        let h = cached;
        for (const l of top) h = l.apply([h, mask], { training: true }) as TF.Tensor;
        return tf.mean(tf.square(h)) as TF.Scalar;
      }, true, vars)!,
    );
  for (let i = 0; i < warmup; i++) cachedStep();
  const stepCpu = cpu.splice(0);
  const cachedSteps = Array.from({ length: Math.max(1, reps - 1) }, () => time(cachedStep));
  cached.dispose();
  console.log(JSON.stringify({ ...forwardLine, cachedStepMs: cachedSteps.map(Math.round), cachedStepCpuMs: cpu.splice(0).map(Math.round), trainTopBlocks: trainTop, note: 'stepMs: forward through every block + backward through the top blocks; cachedStepMs: the top blocks only, on cached hidden states (as the feature cache would run it)', stepMs: steps.map(Math.round), stepCpuMs: stepCpu.map(Math.round) }));
  tf.dispose([ids, mask, types]);
  optimizer.dispose();
  model.dispose();
}
