// The classification training step (issue 18): fitVariant's lean step (src/train/train-step.ts:
// loss and correct count left on the engine, read back once per window) against tfjs-layers'
// trainOnBatch (standardisation, metrics, two read-backs every step), on the small heads a frozen
// sweep trains on cached features, on each engine that loads. Same batches, alternating rounds,
// medians of wall and process CPU ms per step; kernels per step counted with tf.profile (every
// kernel the engine runs, Identity included: on native it only adds a reference). A third column
// yields to the event loop (setImmediate) after every lean step, as fitVariant does. Run by hand:
//   npx tsx bench/train-step.ts [--engines wasm,native] [--steps 40] [--rounds 7] [--cases gap,dense,quickstart]
import type * as TF from '@tensorflow/tfjs';
import { selectEngine, type EngineName, type Tf } from '../src/engine/backends.ts';
import { createOptimizer } from '../src/train/optimizer.ts';
import { leanTrainStep } from '../src/train/train-step.ts';
import type { TrainingSpec } from '../src/spec/types.ts';
import { optionValue } from './lib/args.ts';
import { median } from './lib/measure.ts';

const args = process.argv.slice(2);
const opt = (name: string, fallback: string) => optionValue(args, name, fallback);
const STEPS = Number(opt('steps', '40'));
const ROUNDS = Number(opt('rounds', '7'));
const BATCH = 64;

interface Case {
  name: string;
  what: string;
  shape: number[];
  classes: number;
  head: (tf: Tf) => TF.layers.Layer[];
}

const CASES: Case[] = [
  {
    name: 'gap',
    what: 'GlobalAveragePooling + Dense(10) on [3,3,1280] (the frozen MobileNetV2 sweep head)',
    shape: [3, 3, 1280],
    classes: 10,
    head: (tf) => [tf.layers.globalAveragePooling2d({}), tf.layers.dense({ units: 10, activation: 'softmax' })],
  },
  { name: 'dense', what: 'Dense(10) on pooled [1280] features', shape: [1280], classes: 10, head: (tf) => [tf.layers.dense({ units: 10, activation: 'softmax' })] },
  {
    name: 'quickstart',
    what: "experiments/quickstart.yaml's head: Dense(64, relu), Dropout(0.3), Dense(5) on fashion-base's flatten [576]",
    shape: [576],
    classes: 5,
    head: (tf) => [tf.layers.dense({ units: 64, activation: 'relu' }), tf.layers.dropout({ rate: 0.3 }), tf.layers.dense({ units: 5, activation: 'softmax' })],
  },
];

function build(tf: Tf, c: Case): TF.LayersModel {
  const input = tf.input({ shape: c.shape });
  let x: TF.SymbolicTensor = input;
  for (const layer of c.head(tf)) x = layer.apply(x) as TF.SymbolicTensor;
  const model = tf.model({ inputs: input, outputs: x });
  model.compile({ optimizer: createOptimizer(tf, { optimizer: 'adam', learning_rate: 1e-3 } as TrainingSpec), loss: 'categoricalCrossentropy', metrics: ['accuracy'] });
  return model;
}

/** Seeded batches as the loop gathers them: a Float32Array of rows and their labels. */
function batches(c: Case, count: number): { x: Float32Array; labels: Int32Array }[] {
  let s = 12345;
  const rand = () => ((s = (s * 1103515245 + 12345) >>> 0) / 2 ** 32);
  const size = c.shape.reduce((a, b) => a * b, 1);
  return Array.from({ length: count }, () => ({ x: Float32Array.from({ length: BATCH * size }, () => rand() * 6), labels: Int32Array.from({ length: BATCH }, () => Math.floor(rand() * c.classes)) }));
}

/** Wall and process CPU ms per step of `fn` over `steps` batches. */
async function timed(fn: () => Promise<void>): Promise<{ wall: number; cpu: number }> {
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  await fn();
  const c = process.cpuUsage(c0);
  return { wall: (performance.now() - t0) / STEPS, cpu: (c.user + c.system) / 1000 / STEPS };
}

const fmt = (ms: number) => (ms < 1 ? ms.toFixed(3) : ms.toFixed(2));

async function engine(name: EngineName, cases: Case[]): Promise<void> {
  let tf: Tf;
  try {
    ({ tf } = await selectEngine(name, []));
  } catch (e) {
    console.log(`\n${name}: does not load here (${(e as Error).message.split('\n')[0]})`);
    return;
  }
  console.log(`\n## ${name} (tfjs ${tf.version.tfjs}), batch ${BATCH}, ${STEPS} steps a round, ${ROUNDS} rounds, alternating`);
  console.log('| head | trainOnBatch ms/step (CPU) | lean ms/step (CPU) | lean + setImmediate each step | trainOnBatch / lean (wall; CPU) | kernels/step trainOnBatch → lean |');
  console.log('|---|---|---|---|---|---|');
  for (const c of cases) {
    const data = batches(c, STEPS);
    const [a, b] = [build(tf, c), build(tf, c)];
    b.setWeights(a.getWeights());
    const step = leanTrainStep(tf, b, c.classes)!;
    const layers = async (): Promise<void> => {
      for (const d of data) {
        const x = tf.tensor(d.x, [BATCH, ...c.shape]);
        const y = tf.tidy(() => tf.oneHot(tf.tensor1d(d.labels, 'int32'), c.classes));
        await a.trainOnBatch(x, y);
        tf.dispose([x, y]);
      }
    };
    const lean = async (yieldEachStep: boolean): Promise<void> => {
      const kept: TF.Tensor[] = [];
      for (const d of data) {
        const x = tf.tensor(d.x, [BATCH, ...c.shape]);
        const r = step(x, d.labels);
        x.dispose();
        kept.push(r.loss, r.correct);
        if (yieldEachStep) await new Promise((resolve) => setImmediate(resolve));
      }
      // The loop's read-back: the window's losses and counts in one transfer.
      const all = tf.stack(kept);
      await all.data();
      tf.dispose([all, ...kept]);
    };
    // Warm-up: kernels, optimizer slots.
    await layers();
    await lean(false);
    const got = { layers: [] as { wall: number; cpu: number }[], lean: [] as { wall: number; cpu: number }[], leanYield: [] as { wall: number; cpu: number }[] };
    for (let r = 0; r < ROUNDS; r++) {
      const order = r % 2 ? (['lean', 'leanYield', 'layers'] as const) : (['layers', 'leanYield', 'lean'] as const);
      for (const k of order) got[k].push(await timed(k === 'layers' ? layers : () => lean(k === 'leanYield')));
    }
    const m = (k: keyof typeof got, f: 'wall' | 'cpu') => median(got[k].map((g) => g[f]));
    // Kernels per step: one step under tf.profile each way.
    const one = data[0]!;
    const x = tf.tensor(one.x, [BATCH, ...c.shape]);
    const y = tf.tidy(() => tf.oneHot(tf.tensor1d(one.labels, 'int32'), c.classes));
    // tf.profile hands back the engine's one profile object, refilled by the next call: count at once.
    const kLayers = (await tf.profile(async () => void (await a.trainOnBatch(x, y)))).kernels.length;
    const kLean = (await tf.profile(() => {
      const r = step(x, one.labels);
      tf.dispose([r.loss, r.correct]);
    })).kernels.length;
    tf.dispose([x, y]);
    console.log(
      `| ${c.what} | ${fmt(m('layers', 'wall'))} (${fmt(m('layers', 'cpu'))}) | ${fmt(m('lean', 'wall'))} (${fmt(m('lean', 'cpu'))}) | ${fmt(m('leanYield', 'wall'))} (${fmt(m('leanYield', 'cpu'))}) | ` +
        `**${(m('layers', 'wall') / m('lean', 'wall')).toFixed(2)}×**; ${(m('layers', 'cpu') / m('lean', 'cpu')).toFixed(2)}× | ${kLayers} → ${kLean} |`,
    );
    for (const model of [a, b]) {
      model.optimizer.dispose();
      model.dispose();
    }
  }
}

const wanted = opt('cases', CASES.map((c) => c.name).join(',')).split(',');
const cases = CASES.filter((c) => wanted.includes(c.name));
console.log(`train-step: ${cases.map((c) => c.name).join(', ')}; node ${process.version}; load average ${(await import('node:os')).loadavg().map((l) => l.toFixed(1)).join(' ')}`);
for (const name of opt('engines', 'wasm,native').split(',') as EngineName[]) await engine(name, cases);
