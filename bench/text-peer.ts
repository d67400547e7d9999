// Issue 15: tunespec's BERT-family fine-tuning against a Keras 3 peer (bench/text_peer.py, a
// hand-written BERT on TensorFlow 2.21 from the same model.safetensors), side by side on this
// machine, in child processes one after the other (order reversed every other round):
//   check           the peer's mean-pooled sentence vectors against test/fixtures/text/minilm-reference.json
//   keras-step      a training step, top 2 blocks trainable, batch 16 x 64 tokens (text_peer.py --mode step)
//   ts-step-wasm    the same step in tunespec (bench/text-encoder.ts) on wasm
//   ts-step-native  ... on the native engine (npm run setup:native)
//   keras-fit       experiments/sentiment.yaml's sweep in Keras, the guide's way: the frozen blocks run every step
//   keras-features  ... with the frozen blocks run once by hand (predict), upper blocks fit on their output
//   ts-native-cache `tunespec run experiments/sentiment.yaml --backend native`, feature cache cold
//   ts-native-off   ... with --no-feature-cache
//   ts-wasm-cache   ... on wasm (--backend wasm), cache cold; by default in the first round only (slow)
// The peer's sweep reads token ids that this script made with tunespec's own reader, tokenizer and
// seeded split of the spec, so both tools train and score the same sentences. Every child is timed
// from spawn to exit with its CPU seconds (/usr/bin/time): on a shared machine the wall time
// carries everyone else's load. Raw figures: bench/.cache/results/text-peer-*.json (saved after
// every job), the markdown table beside it.
//   npx tsx bench/text-peer.ts [--rounds 3] [--parts a,b,...] [--once check,ts-wasm-cache] [--python .venv-native/bin/python]
//   npx tsx bench/text-peer.ts --report bench/.cache/results/text-peer-<stamp>.json   # the table again
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { readSpecDocument } from '../src/app/load-spec.ts';
import { splitDataset } from '../src/data/split.ts';
import { loadTextDataset } from '../src/data/text-dataset.ts';
import { tokenizedDataset } from '../src/data/token-input.ts';
import { loadTokenizer } from '../src/data/tokenize.ts';
import { encoderInputs } from '../src/train/examples.ts';
import { measure, median, type Measured } from './lib/measure.ts';
import { readRunStore } from './lib/run-store.ts';
import { allRows } from '../src/data/rows.ts';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const CACHE = join(ROOT, 'bench', '.cache');
const BIN = join(ROOT, 'bin', 'tunespec.js');
const SPEC = join(ROOT, 'experiments', 'sentiment.yaml');
const MODEL = join(ROOT, '.cache', 'models', 'all-MiniLM-L6-v2');
const PARTS = ['check', 'keras-step', 'ts-step-wasm', 'ts-step-native', 'keras-fit', 'keras-features', 'ts-native-cache', 'ts-native-off', 'ts-wasm-cache'] as const;
type Part = (typeof PARTS)[number];

const { values: opts } = parseArgs({
  options: {
    rounds: { type: 'string', default: '3' },
    parts: { type: 'string', default: PARTS.join(',') },
    once: { type: 'string', default: 'check,ts-wasm-cache' },
    python: { type: 'string', default: join(ROOT, '.venv-native', 'bin', 'python') },
    report: { type: 'string' },
  },
});
const parts = opts.parts!.split(',') as Part[];
const once = new Set(opts.once!.split(','));
for (const p of parts) if (!PARTS.includes(p)) throw new Error(`--parts: unknown part ${p} (known: ${PARTS.join(', ')})`);
const PY = opts.python!;
if (!opts.report && !existsSync(PY)) throw new Error(`${PY} is missing: npm run setup:native makes .venv-native (TensorFlow 2.21), or pass --python`);
if (!existsSync(join(MODEL, 'model.safetensors'))) throw new Error(`${MODEL} is missing: npm run models:text`);

const rel = (p: string) => relative(ROOT, p);
const stamp = new Date().toISOString().replace(/[:.]/g, '-').slice(0, 19);
mkdirSync(join(CACHE, 'results'), { recursive: true });
mkdirSync(join(CACHE, 'logs'), { recursive: true });
const resultsFile = join(CACHE, 'results', `text-peer-${stamp}.json`);

interface Job { part: Part; round: number; seconds: number; cpuSeconds: number; rssMiB: number; load: number; json?: Record<string, unknown>; accuracies?: Record<string, number> }
// --report FILE: only the table, from the raw figures of an earlier invocation.
const earlier = opts.report ? (JSON.parse(readFileSync(opts.report, 'utf8')) as { started: string; jobs: Job[] }) : undefined;
const jobs: Job[] = earlier?.jobs ?? [];
const started = new Date(earlier?.started ?? Date.now());

/** The sentences of the spec as the run reads, tokenizes and splits them, for the peer. */
async function peerData(): Promise<string> {
  const { experiment: spec } = await readSpecDocument(SPEC);
  if (spec.data.format !== 'text') throw new Error(`${SPEC}: not a text spec`);
  const data = await loadTextDataset(spec.data, join(ROOT, 'experiments'));
  const inputs = encoderInputs(JSON.parse(readFileSync(join(MODEL, 'config.json'), 'utf8')).model_type);
  const T = spec.data.max_length;
  const tokenized = tokenizedDataset(data, await loadTokenizer(MODEL), T, inputs);
  const split = splitDataset(tokenized.labels, spec.validation, tokenized.digest);
  const features = allRows(tokenized.rows);
  const rows = (indexes: Int32Array) => {
    const out: Record<string, number[][] | number[]> = { labels: [...indexes].map((i) => tokenized.labels[i]!) };
    inputs.forEach((name, k) => {
      out[name] = [...indexes].map((i) => Array.from(features.subarray((i * inputs.length + k) * T, (i * inputs.length + k + 1) * T)));
    });
    return out;
  };
  const freeze = (spec.freeze ?? []) as { from?: string; to?: string }[];
  const to = /^encoder\.layer\.(\d+)$/.exec(freeze[0]?.to ?? '');
  if (freeze.length !== 1 || freeze[0]!.from !== 'embeddings' || !to || spec.base_model.cut !== 'encoder.layer.5') throw new Error(`${SPEC}: the peer expects one freeze range from embeddings to encoder.layer.N and cut encoder.layer.5`);
  const head = spec.head as { type: string; rate?: number; mode?: string }[];
  if (head.map((h) => h.type).join() !== 'pooling,dropout,dense' || head[0]!.mode !== 'mean') throw new Error(`${SPEC}: the peer expects the head pooling (mean), dropout, dense`);
  const t = spec.training as { epochs: number; batch_size: number; optimizer: string; weight_decay: number; seed: number; schedule: { type: string; warmup_fraction: number } };
  if (t.optimizer !== 'adamw' || t.schedule.type !== 'warmup_linear') throw new Error(`${SPEC}: the peer expects adamw with warmup_linear`);
  const file = join(CACHE, 'text-peer-split.json');
  writeFileSync(
    file,
    JSON.stringify({
      split_digest: split.digest, max_length: T, frozen_blocks: Number(to[1]) + 1, classes: tokenized.classNames.length,
      head_dropout: head[1]!.rate, epochs: t.epochs, batch_size: t.batch_size, weight_decay: t.weight_decay, seed: t.seed,
      warmup_fraction: t.schedule.warmup_fraction, learning_rates: (spec as { sweep?: Record<string, number[]> }).sweep!['training.learning_rate'],
      train: rows(split.train), validation: rows(split.validation),
    }),
  );
  console.log(`split ${split.digest.slice(0, 12)}: ${split.train.length} train / ${split.validation.length} validation sentences -> ${rel(file)}`);
  return file;
}

function run(part: Part, round: number, cmd: string[], env: NodeJS.ProcessEnv = {}): Measured {
  const load = loadavg()[0]!;
  const m = measure(cmd, { cwd: ROOT, env: { TF_CPP_MIN_LOG_LEVEL: '2', ...env } });
  writeFileSync(join(CACHE, 'logs', `text-peer-${part}-${round}.log`), `$ ${cmd.join(' ')}\n${m.stdout}\n--- stderr\n${m.stderr}`);
  if (m.code !== 0) throw new Error(`${part} (round ${round}) exited ${m.code}; see bench/.cache/logs/text-peer-${part}-${round}.log\n${m.stderr.slice(-2000)}`);
  const job: Job = { part, round, seconds: m.seconds, cpuSeconds: m.cpuSeconds, rssMiB: m.rssMiB, load };
  const last = m.stdout.trim().split('\n').filter((l) => l.startsWith('{')).pop();
  if (last) job.json = JSON.parse(last);
  jobs.push(job);
  writeFileSync(resultsFile, JSON.stringify({ started, machine: machine(), jobs }, null, 1));
  console.log(`${part} round ${round}: ${m.seconds.toFixed(1)} s wall, ${m.cpuSeconds.toFixed(1)} s CPU, load ${load.toFixed(1)}${job.json ? ' ' + JSON.stringify(job.json).slice(0, 300) : ''}`);
  return m;
}

function tunespecSweep(part: Part, round: number, backend: string, cache: boolean): void {
  const dir = mkdtempSync(join(CACHE, `text-peer-${part}-`));
  const args = [process.execPath, BIN, 'run', SPEC, '--backend', backend, '--runs-dir', join(dir, 'runs'), ...(cache ? [] : ['--no-feature-cache'])];
  run(part, round, args, { TUNESPEC_CACHE_DIR: join(dir, 'cache') });
  const job = jobs.at(-1)!;
  job.accuracies = Object.fromEntries(readRunStore(join(dir, 'runs')).map((r) => [String(Number(r.lr)), r.valAccuracy]));
  rmSync(dir, { recursive: true, force: true });
  writeFileSync(resultsFile, JSON.stringify({ started, machine: machine(), jobs }, null, 1));
}

function machine(): string {
  return `${cpus().length} cores (${cpus()[0]?.model.trim()}), Node ${process.version}`;
}

const dataFile = !earlier && parts.some((p) => p.startsWith('keras-') && p !== 'keras-step') ? await peerData() : '';
const rounds = earlier ? Math.max(...jobs.map((j) => j.round)) : Number(opts.rounds);
for (let round = 1; round <= (earlier ? 0 : rounds); round++) {
  const order = round % 2 ? parts : [...parts].reverse();
  for (const part of order) {
    if (round > 1 && once.has(part)) continue;
    switch (part) {
      case 'check':
        run(part, round, [PY, 'bench/text_peer.py', '--mode', 'check', '--model', MODEL, '--reference', 'test/fixtures/text/minilm-reference.json']);
        break;
      case 'keras-step':
        run(part, round, [PY, 'bench/text_peer.py', '--mode', 'step', '--model', MODEL, '--reps', '3']);
        break;
      case 'ts-step-wasm':
      case 'ts-step-native':
        // --reps 4: text-encoder.ts times reps-1 training steps, so 3 of each.
        run(part, round, [process.execPath, '--import', 'tsx', 'bench/text-encoder.ts', MODEL, '--engines', part === 'ts-step-wasm' ? 'wasm' : 'native', '--reps', '4']);
        break;
      case 'keras-fit':
      case 'keras-features': {
        run(part, round, [PY, 'bench/text_peer.py', '--mode', 'sweep', '--model', MODEL, '--data', dataFile, ...(part === 'keras-features' ? ['--features'] : [])]);
        const job = jobs.at(-1)!;
        job.accuracies = Object.fromEntries((job.json!.variants as { learning_rate: number; val_accuracy: number }[]).map((v) => [String(v.learning_rate), v.val_accuracy]));
        break;
      }
      case 'ts-native-cache':
        tunespecSweep(part, round, 'native', true);
        break;
      case 'ts-native-off':
        tunespecSweep(part, round, 'native', false);
        break;
      case 'ts-wasm-cache':
        tunespecSweep(part, round, 'wasm', true);
        break;
    }
  }
}

// ---- the report --------------------------------------------------------------------------------
const of = (p: Part) => jobs.filter((j) => j.part === p);
const med = (p: Part, f: (j: Job) => number) => (of(p).length ? median(of(p).map(f)) : NaN);
const pooled = (p: Part, key: string) => of(p).flatMap((j) => (j.json?.[key] as number[] | undefined) ?? []);
const fmt = (x: number, d = 1) => (Number.isFinite(x) ? x.toFixed(d) : '–');
const lines: string[] = [];
const loads = jobs.map((j) => j.load);
const ended = earlier ? statSync(opts.report!).mtime : new Date();
lines.push(`Measured ${started.toISOString().slice(0, 16).replace('T', ' ')} to ${ended.toISOString().slice(11, 16)} UTC on ${machine()}; 1-minute load average ${fmt(Math.min(...loads))}–${fmt(Math.max(...loads))} at the starts of the jobs; ${rounds} round(s).`, '');
const check = of('check')[0]?.json;
if (check) lines.push(`Peer check: the Keras encoder's mean-pooled, normalised vectors of the ${check.sentences} fixture sentences vs \`test/fixtures/text/minilm-reference.json\` (NumPy): max |diff| ${(check.maxAbsDiff as number).toExponential(2)}.`, '');

const stepRows: [string, Part][] = [['Keras 3 (TF 2.21)', 'keras-step'], ['tunespec, wasm', 'ts-step-wasm'], ['tunespec, native', 'ts-step-native']];
const stepOf = (p: Part, key: 'stepMs' | 'stepCpuMs' | 'cachedStepMs' | 'cachedStepCpuMs') => median(pooled(p, key));
const kStep = stepOf('keras-step', 'stepMs');
const kStepCpu = stepOf('keras-step', 'stepCpuMs');
const kCached = stepOf('keras-step', 'cachedStepMs');
const kCachedCpu = stepOf('keras-step', 'cachedStepCpuMs');
lines.push('**Training step, top 2 blocks trainable, batch 16 × 64 tokens** (medians of every timed step; examples/s = 16 / step time)', '');
lines.push('| tool | steps | step wall | examples/s | / Keras | step CPU | examples per CPU s | / Keras (CPU) | on cached states: wall | examples/s | / Keras | CPU | / Keras (CPU) |');
lines.push('|---|---|---|---|---|---|---|---|---|---|---|---|---|');
for (const [name, p] of stepRows) {
  if (!of(p).length) continue;
  const s = stepOf(p, 'stepMs'), c = stepOf(p, 'stepCpuMs'), cs = stepOf(p, 'cachedStepMs'), cc = stepOf(p, 'cachedStepCpuMs');
  lines.push(`| ${name} | ${pooled(p, 'stepMs').length} | ${fmt(s / 1000, 2)} s | ${fmt(16000 / s)} | ${fmt(kStep / s, 2)} | ${fmt(c / 1000, 2)} s | ${fmt(16000 / c)} | ${fmt(kStepCpu / c, 2)} | ${fmt(cs / 1000, 2)} s | ${fmt(16000 / cs)} | ${fmt(kCached / cs, 2)} | ${fmt(cc / 1000, 2)} s | ${fmt(kCachedCpu / cc, 2)} |`);
}
lines.push('', '"/ Keras" is Keras\'s time over the row\'s (above 1: faster than Keras).', '');

const sweepRows: [string, Part][] = [
  ['Keras (fit): frozen blocks run every step', 'keras-fit'],
  ['Keras (features): frozen blocks once, by hand', 'keras-features'],
  ['tunespec native, feature cache (cold)', 'ts-native-cache'],
  ['tunespec native, `--no-feature-cache`', 'ts-native-off'],
  ['tunespec wasm, feature cache (cold)', 'ts-wasm-cache'],
];
const lrs = [...new Set(jobs.flatMap((j) => Object.keys(j.accuracies ?? {})))].sort((a, b) => Number(a) - Number(b));
const kFit = med('keras-fit', (j) => j.seconds), kFitCpu = med('keras-fit', (j) => j.cpuSeconds);
const kFeat = med('keras-features', (j) => j.seconds), kFeatCpu = med('keras-features', (j) => j.cpuSeconds);
lines.push('**The sweep of `experiments/sentiment.yaml`** (3 learning rates × 2 epochs, 256 train / 64 validation sentences, whole processes)', '');
lines.push(`| run | runs | median wall | median CPU | wall / Keras (fit) | CPU / Keras (fit) | wall / Keras (features) | CPU / Keras (features) | peak RSS | ${lrs.map((l) => `val acc lr ${l}`).join(' | ')} |`);
lines.push(`|---|---|---|---|---|---|---|---|---|${lrs.map(() => '---').join('|')}|`);
for (const [name, p] of sweepRows) {
  if (!of(p).length) continue;
  const w = med(p, (j) => j.seconds), c = med(p, (j) => j.cpuSeconds);
  const accs = lrs.map((l) => [...new Set(of(p).map((j) => j.accuracies?.[l]).filter((a) => a !== undefined).map((a) => (a! * 100).toFixed(1) + '%'))].join(', '));
  lines.push(`| ${name} | ${of(p).length} | ${fmt(w)} s | ${fmt(c)} s | ${fmt(w / kFit, 2)} | ${fmt(c / kFitCpu, 2)} | ${fmt(w / kFeat, 2)} | ${fmt(c / kFeatCpu, 2)} | ${fmt(med(p, (j) => j.rssMiB) / 1024, 2)} GiB | ${accs.join(' | ')} |`);
}
const on = med('ts-native-cache', (j) => j.cpuSeconds), off = med('ts-native-off', (j) => j.cpuSeconds);
lines.push('', `tunespec feature cache on / off (native, CPU seconds): ${fmt(on / off, 2)}; wall: ${fmt(med('ts-native-cache', (j) => j.seconds) / med('ts-native-off', (j) => j.seconds), 2)}.`);
const report = lines.join('\n');
if (!earlier) writeFileSync(resultsFile.replace(/\.json$/, '.md'), report + '\n');
console.log('\n' + report);
