// Issues 4 and 6: tunespec against Keras on a frozen MobileNetV2 backbone, on this machine, in
// child processes run one after the other (the order alternates between rounds).
//   1. Frozen-backbone sweep (bench/specs/mobilenet-frozen.yaml, 4 learning rates x 5 epochs,
//      10,000 Fashion-MNIST images at 96x96x3, batch 64): Keras (a) the transfer-learning
//      guide's fit with base.trainable = False, (b) features extracted once by hand; tunespec
//      `run --backend native` with the feature cache cold (fresh TUNESPEC_CACHE_DIR), warm (the
//      same directory again) and off (--no-feature-cache).
//   2. Partial unfreeze (bench/specs/mobilenet-unfreeze.yaml, top block trainable): examples/s
//      of an epoch, Keras (c) vs tunespec with the cache off (the same work) and on.
//   3. Spec throughput: validate + plan of a generated 10,000-variant grid.
// Median wall time over the rounds, tunespec/peer ratios, peak RSS (/usr/bin/time -f %M, else
// getrusage through python), final validation accuracy of every variant in every tool (flagged
// when tools disagree by more than 1 point), and (part seed-spread, untimed) both sweeps in both
// tools over five seeds, whose means say whether the tools do the same work. Builds the backbone
// (scripts/mobilenet-base.sh) and the split first when they are missing. Raw figures go to
// bench/.cache/results/, saved after every job.
// Run by hand:
//   npx tsx bench/frozen-backbone.ts [--rounds 3] [--spec-variants 10000] [--merge earlier-results.json ...]
//       [--parts keras-a,keras-b,ts-cold,ts-warm,ts-off,keras-c,ts-unfreeze-off,ts-unfreeze-on,spec,seed-spread]
// (--merge folds the runs of an earlier invocation into this one's table, e.g. slow parts run apart.)
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { gunzipSync } from 'node:zlib';
import { parse, stringify } from 'yaml';
import { splitDataset } from '../src/data/split.ts';
import { ALL_PARTS, renderReport, type FeatureParity, type Outcome, type Part, type SpecRows, type Spread, type SpreadKey } from './lib/frozen-report.ts';
import { measure, median, type Measured } from './lib/measure.ts';
import { readRunStore, type StoredRun } from './lib/run-store.ts';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const CACHE = join(ROOT, 'bench', '.cache');
const BIN = join(ROOT, 'bin', 'tunespec.js');
const FROZEN_SPEC = join(ROOT, 'bench', 'specs', 'mobilenet-frozen.yaml');
const UNFREEZE_SPEC = join(ROOT, 'bench', 'specs', 'mobilenet-unfreeze.yaml');
const KERAS_MODEL = join(CACHE, 'mobilenet-base', 'dump', 'model.keras');

const { values: opts } = parseArgs({
  options: {
    rounds: { type: 'string', default: '3' },
    parts: { type: 'string', default: ALL_PARTS.join(',') },
    'spec-variants': { type: 'string', default: '10000' },
    merge: { type: 'string', multiple: true, default: [] },
  },
});
const rounds = Number(opts.rounds);
const EXTRA_SEEDS = [1, 2, 3, 4];
const parts = new Set(opts.parts!.split(',').map((p) => p.trim()) as Part[]);
for (const p of parts) if (!ALL_PARTS.includes(p)) throw new Error(`--parts: unknown part ${p} (known: ${ALL_PARTS.join(', ')})`);

const rel = (p: string) => relative(ROOT, p) || '.';
const log = (s: string) => console.log(s);

let logName = 'job';
function mustSucceed(what: string, m: Measured): Measured {
  mkdirSync(join(CACHE, 'logs'), { recursive: true });
  writeFileSync(join(CACHE, 'logs', `${logName}.log`), `$ ${what}\n${m.stdout}\n--- stderr\n${m.stderr}`);
  if (m.code !== 0) throw new Error(`${what} failed (exit ${m.code}):\n${m.stdout.slice(-3000)}\n${m.stderr.slice(-3000)}`);
  return m;
}

const tunespec = (args: string[], env: NodeJS.ProcessEnv = {}) => measure([process.execPath, BIN, ...args], { cwd: ROOT, env });

// ---------------------------------------------------------------------------------------------
// Backbone, split, spec checks.

function ensureBackbone(): string {
  log('==> backbone: bash scripts/mobilenet-base.sh');
  const r = spawnSync('bash', [join(ROOT, 'scripts', 'mobilenet-base.sh')], { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  process.stdout.write(r.stdout.split('\n').map((l) => `    ${l}`).join('\n').trimEnd() + '\n');
  if (r.status !== 0) throw new Error('scripts/mobilenet-base.sh failed');
  const py = /^python: (.+)$/m.exec(r.stdout)?.[1];
  if (!py) throw new Error('scripts/mobilenet-base.sh did not say which python it used');
  return py;
}

function readIdxLabels(path: string): Uint8Array {
  const raw = path.endsWith('.gz') ? gunzipSync(readFileSync(path)) : readFileSync(path);
  const ndim = raw[3]!;
  return raw.subarray(4 + 4 * ndim);
}

interface BenchData { images: string; labels: string; classes: number[]; limit: number; fraction: number; seed: number; peerArgs: string[] }

function benchData(specFile: string): BenchData {
  const spec = parse(readFileSync(specFile, 'utf8'));
  const unfreeze = parse(readFileSync(UNFREEZE_SPEC, 'utf8'));
  return {
    images: spec.data.images,
    labels: spec.data.labels,
    classes: spec.data.classes,
    limit: spec.data.limit_per_class,
    fraction: spec.validation?.fraction ?? 0.2,
    seed: spec.validation?.seed ?? 0,
    // The Keras peers' data and training settings, read from the specs so the tools cannot drift.
    peerArgs: [
      '--images', spec.data.images, '--labels', spec.data.labels, '--classes', ...spec.data.classes.map(String),
      '--limit-per-class', String(spec.data.limit_per_class), '--epochs', String(spec.training.epochs),
      '--batch-size', String(spec.training.batch_size), '--learning-rates', ...spec.sweep['training.learning_rate'].map(String),
      '--epochs-c', String(unfreeze.training.epochs), '--lr-c', String(unfreeze.training.learning_rate), '--seed', String(spec.training.seed),
    ],
  };
}

/** tunespec's own seeded, stratified split of the spec's examples, for the Keras peers. */
function writeSplit(d: BenchData): string {
  const file = join(CACHE, 'data', `split-${d.classes.join('')}-${d.limit}-${d.fraction}-${d.seed}.json`);
  if (existsSync(file)) return file;
  const raw = readIdxLabels(d.labels);
  const kept: number[] = [];
  const counts = new Map<number, number>();
  for (const label of raw) {
    const c = d.classes.indexOf(label);
    if (c < 0) continue;
    const n = counts.get(c) ?? 0;
    if (n >= d.limit) continue;
    counts.set(c, n + 1);
    kept.push(c);
  }
  const s = splitDataset(Int32Array.from(kept), { fraction: d.fraction, stratified: true, seed: d.seed }, 'bench');
  mkdirSync(join(CACHE, 'data'), { recursive: true });
  writeFileSync(file, JSON.stringify({ n: kept.length, fraction: d.fraction, seed: d.seed, train: [...s.train], validation: [...s.validation] }));
  log(`==> split: ${s.train.length} train / ${s.validation.length} validation (tunespec's stratified split, seed ${d.seed}) -> ${rel(file)}`);
  return file;
}

function specsValid(): boolean {
  const r = tunespec(['validate', FROZEN_SPEC, UNFREEZE_SPEC]);
  if (r.code === 0) return true;
  log(`!!! tunespec validate ${rel(FROZEN_SPEC)} ${rel(UNFREEZE_SPEC)} fails, so the tunespec parts are skipped:`);
  log((r.stdout + r.stderr).trim().split('\n').slice(0, 20).map((l) => `    ${l}`).join('\n'));
  return false;
}

// ---------------------------------------------------------------------------------------------
// One job of a round: a Keras peer or a tunespec run, with what it reports.

function kerasPeer(py: string, mode: 'a' | 'b' | 'c', split: string, d: BenchData): Outcome {
  const m = mustSucceed(`keras peer (${mode})`, measure([
    py, join(ROOT, 'bench', 'keras_peers.py'), '--mode', mode, '--model', KERAS_MODEL, '--split', split,
    ...d.peerArgs,
  ], { cwd: ROOT }));
  const report = JSON.parse(m.stdout.trim().split('\n').pop()!);
  const accuracy = Object.fromEntries(Object.entries(report.results as Record<string, { val_accuracy: number }>).map(([lr, r]) => [String(Number(lr)), r.val_accuracy]));
  const detail = mode === 'b' ? `extraction ${report.extract_seconds} s` : mode === 'c' ? `train steps alone ${report.train_step_examples_per_second} ex/s` : `fit ${report.sweep_seconds} s`;
  return { seconds: m.seconds, cpuSeconds: m.cpuSeconds, rssMiB: m.rssMiB, accuracy, examplesPerSecond: report.examples_per_second, detail: `${detail}; data ${report.data_seconds} s` };
}

function tunespecRun(spec: string, cache: 'off' | string): Outcome & { stored: StoredRun[] } {
  const runs = mkdtempSync(join(CACHE, 'tmp-runs-'));
  try {
    const args = ['run', spec, '--backend', 'native', '--force', '--runs-dir', runs];
    if (cache === 'off') args.push('--no-feature-cache');
    const m = mustSucceed(`tunespec run ${rel(spec)}`, tunespec(args, cache === 'off' ? {} : { TUNESPEC_CACHE_DIR: cache }));
    const stored = readRunStore(runs);
    const failed = stored.filter((s) => s.status !== 'completed');
    if (failed.length) throw new Error(`tunespec: ${failed.length} variant(s) did not complete`);
    const cacheLines = (m.stdout + m.stderr).split('\n').filter((l) => /feature cache/i.test(l));
    const eps = stored.flatMap((s) => s.examplesPerSecond.slice(1).length ? s.examplesPerSecond.slice(1) : s.examplesPerSecond);
    return {
      seconds: m.seconds,
      cpuSeconds: m.cpuSeconds,
      rssMiB: m.rssMiB,
      accuracy: Object.fromEntries(stored.map((s) => [String(Number(s.lr)), s.valAccuracy])),
      examplesPerSecond: eps.length ? median(eps) : undefined,
      detail: `engine ${stored[0]?.engine ?? '?'}${cacheLines.length ? `; ${cacheLines[0]!.trim()}` : ''}`,
      stored,
    };
  } finally {
    rmSync(runs, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------------------------------------
// Spec throughput.

/** A copy of a bench spec under bench/.cache/specs/ with its paths made absolute and a new sweep. */
function derivedSpec(baseFile: string, name: string, sweep: Record<string, unknown[]>): string {
  const spec = parse(readFileSync(baseFile, 'utf8'));
  const abs = (p: string) => (p.startsWith('/') ? p : join(baseFile, '..', p));
  spec.base_model.source = abs(spec.base_model.source);
  spec.data.images = abs(spec.data.images);
  spec.data.labels = abs(spec.data.labels);
  spec.name = name;
  spec.sweep = sweep;
  const file = join(CACHE, 'specs', `${name}.yaml`);
  mkdirSync(join(CACHE, 'specs'), { recursive: true });
  writeFileSync(file, stringify(spec));
  return file;
}

function specThroughput(variants: number): SpecRows {
  // The bench's own spec when it validates (with the features it needs), else the quickstart's.
  const useFrozen = tunespec(['validate', FROZEN_SPEC]).code === 0;
  const baseFile = useFrozen ? FROZEN_SPEC : join(ROOT, 'experiments', 'quickstart.yaml');
  // 10 x 10 x 10 x 10 = 10,000 for the default; other counts keep the first three axes at 10.
  const axis = (n: number, f: (i: number) => number) => Array.from({ length: n }, (_, i) => f(i));
  const last = Math.max(1, Math.round(variants / 1000));
  const n = 1000 * last;
  const file = derivedSpec(baseFile, `bench-grid-${n}`, {
    'training.learning_rate': axis(10, (i) => Number((0.1 / 2 ** i).toPrecision(4))),
    'training.batch_size': axis(10, (i) => 16 * (i + 1)),
    'training.seed': axis(10, (i) => i),
    'validation.seed': axis(last, (i) => i),
  });
  const rows: string[] = [];
  logName = 'spec';
  for (const cmd of ['validate', 'plan'] as const) {
    const times: number[] = [];
    let rss = 0;
    for (let i = 0; i < 3; i++) {
      const m = mustSucceed(`tunespec ${cmd} (${n} variants)`, tunespec([cmd, file]));
      times.push(m.seconds);
      rss = Math.max(rss, m.rssMiB);
    }
    const t = median(times);
    rows.push(`| \`tunespec ${cmd}\` of a ${n.toLocaleString('en')}-variant grid | ${t.toFixed(2)} s (median of 3) | ${Math.round(n / t).toLocaleString('en')} variants/s | ${rss.toFixed(0)} MiB |`);
    log(`    ${cmd}: ${times.map((s) => s.toFixed(2)).join(', ')} s -> ${Math.round(n / t)} variants/s`);
  }
  return { rows, base: rel(baseFile) };
}

// ---------------------------------------------------------------------------------------------
// Main.

mkdirSync(CACHE, { recursive: true });
const py = ensureBackbone();
const data = benchData(FROZEN_SPEC);
const split = writeSplit(data);
const tsWanted = [...parts].some((p) => p.startsWith('ts-'));
const tsOk = tsWanted && specsValid();

type Job = { part: Part; run: () => Outcome };
// Named after the backbone's weights, so a rebuilt backbone never finds the last one's "warm" cache.
const backbone = createHash('sha256').update(readFileSync(join(CACHE, 'mobilenet-base', 'weights.bin'))).digest('hex').slice(0, 12);
const warmCache = join(CACHE, `feature-cache-warm-${backbone}`);
const coldCache = join(CACHE, `feature-cache-cold-${backbone}`);
const unfreezeCache = join(CACHE, `feature-cache-unfreeze-${backbone}`);
const jobs = ([
  { part: 'keras-a', run: () => kerasPeer(py, 'a', split, data) },
  { part: 'keras-b', run: () => kerasPeer(py, 'b', split, data) },
  {
    part: 'ts-cold',
    run: () => {
      rmSync(coldCache, { recursive: true, force: true });
      return tunespecRun(FROZEN_SPEC, coldCache);
    },
  },
  { part: 'ts-warm', run: () => tunespecRun(FROZEN_SPEC, warmCache) },
  { part: 'ts-off', run: () => tunespecRun(FROZEN_SPEC, 'off') },
  { part: 'keras-c', run: () => kerasPeer(py, 'c', split, data) },
  { part: 'ts-unfreeze-off', run: () => tunespecRun(UNFREEZE_SPEC, 'off') },
  {
    part: 'ts-unfreeze-on',
    run: () => {
      rmSync(unfreezeCache, { recursive: true, force: true });
      return tunespecRun(UNFREEZE_SPEC, unfreezeCache);
    },
  },
] satisfies Job[] as Job[]).filter((j) => parts.has(j.part) && (!j.part.startsWith('ts-') || tsOk));

const hasEntry = (dir: string) => existsSync(dir) && readdirSync(dir).some((f) => f.endsWith('.json'));
if (jobs.some((j) => j.part === 'ts-warm') && !hasEntry(warmCache)) {
  // Warm means warm: fill the cache once, untimed, before the first round. Entries are
  // content-addressed (weights, cut, data, preprocessing, engine), so a kept one is never stale.
  log('==> filling the warm feature cache (untimed)');
  logName = 'ts-warm-fill';
  tunespecRun(FROZEN_SPEC, warmCache);
}

const outcomes = new Map<Part, Outcome[]>();
const now = new Date();
const resultsFile = join(CACHE, 'results', `frozen-backbone-${now.toISOString().replace(/[:.]/g, '-')}.json`);
// Written after every job, so a crash in round 3 keeps rounds 1-2 for --merge.
const saveResults = (table?: string) => {
  mkdirSync(join(CACHE, 'results'), { recursive: true });
  // Saved after each job, so the last save's time is when the last figure was measured.
  const saved = { date: now.toISOString(), firstMeasured: firstMeasured.toISOString(), lastMeasured: measuredUntil().toISOString(), rounds, parts: [...parts], outcomes: Object.fromEntries(outcomes), spreads, featureParity, specRows, table };
  writeFileSync(resultsFile, JSON.stringify(saved, null, 1));
};
let spreads: Partial<Record<SpreadKey, Spread>> = {};
let featureParity: FeatureParity | undefined;
let specRows: SpecRows | undefined;
let firstMeasured = now;
// The end of the measured span: now, or a merged invocation's end if later.
let mergedUntil = now;
const measuredUntil = (): Date => new Date(Math.max(Date.now(), mergedUntil.getTime()));
// Figures of earlier invocations (--merge results.json), e.g. the slow peers measured on their own.
for (const file of opts.merge!) {
  const earlier = JSON.parse(readFileSync(file, 'utf8')) as {
    date: string; firstMeasured?: string; lastMeasured?: string; outcomes: Record<Part, Outcome[]>; spreads?: typeof spreads; featureParity?: FeatureParity; specRows?: SpecRows;
  };
  spreads = { ...spreads, ...earlier.spreads };
  featureParity = earlier.featureParity ?? featureParity;
  specRows = earlier.specRows ?? specRows;
  const from = new Date(earlier.firstMeasured ?? earlier.date);
  if (from < firstMeasured) firstMeasured = from;
  const until = new Date(earlier.lastMeasured ?? earlier.date);
  if (until > mergedUntil) mergedUntil = until;
  for (const [part, os] of Object.entries(earlier.outcomes) as [Part, Outcome[]][]) outcomes.set(part, [...(outcomes.get(part) ?? []), ...os]);
  log(`==> merged ${rel(file)}: ${Object.entries(earlier.outcomes).map(([p, os]) => `${p} x${os.length}`).join(', ')}`);
}
for (let round = 0; round < rounds; round++) {
  const order = round % 2 ? [...jobs].reverse() : jobs;
  for (const job of order) {
    log(`==> round ${round + 1}/${rounds}: ${job.part}`);
    logName = `${job.part}-round${round + 1}`;
    const o = job.run();
    outcomes.set(job.part, [...(outcomes.get(job.part) ?? []), o]);
    saveResults();
    const acc = Object.entries(o.accuracy).map(([lr, a]) => `${lr}: ${(a * 100).toFixed(1)}%`).join(', ');
    log(`    ${o.seconds.toFixed(1)} s (CPU ${o.cpuSeconds.toFixed(1)} s), peak RSS ${o.rssMiB.toFixed(0)} MiB${o.examplesPerSecond ? `, ${o.examplesPerSecond.toFixed(0)} ex/s` : ''}; val accuracy ${acc}; ${o.detail}`);
  }
}

// Untimed: how far each tool's accuracies move with the seed alone (head initialisation,
// shuffling), which is the yardstick for the 1-point agreement; and whether tunespec's cached
// features are Keras's features.
if (parts.has('seed-spread')) {
  const seeds = [Number(parse(readFileSync(FROZEN_SPEC, 'utf8')).training.seed), ...EXTRA_SEEDS];
  log(`==> seed spread: seeds ${seeds.join(', ')}, both tools, both sweeps; feature parity with the tunespec cache (untimed)`);
  const entry = [warmCache, coldCache].filter(hasEntry).map((d) => join(d, readdirSync(d).find((f) => f.endsWith('.f32'))!))[0];
  if (!entry) log('    (no tunespec cache entry for this backbone yet: run ts-cold or ts-warm for the feature comparison)');
  for (const mode of ['b', 'c'] as const) {
    logName = `seed-spread-keras-${mode}`;
    const m = mustSucceed(`keras peer (${mode}), seed spread`, measure([
      py, join(ROOT, 'bench', 'keras_peers.py'), '--mode', mode, '--model', KERAS_MODEL, '--split', split, ...data.peerArgs,
      '--extra-seeds', ...EXTRA_SEEDS.map(String), ...(mode === 'b' && entry ? ['--compare-features', entry] : []),
    ], { cwd: ROOT }));
    const report = JSON.parse(m.stdout.trim().split('\n').pop()!);
    spreads[`keras-${mode}`] = report.seed_spread;
    if (mode === 'b') featureParity = report.feature_parity;
  }
  const frozenLrs = parse(readFileSync(FROZEN_SPEC, 'utf8')).sweep['training.learning_rate'];
  for (const [key, base, sweep, cache] of [
    ['ts-frozen', FROZEN_SPEC, { 'training.learning_rate': frozenLrs, 'training.seed': seeds }, warmCache],
    ['ts-unfreeze', UNFREEZE_SPEC, { 'training.seed': seeds }, unfreezeCache],
  ] as const) {
    logName = `seed-spread-${key}`;
    const { stored } = tunespecRun(derivedSpec(base, `bench-${key}-seeds`, sweep), cache);
    const lrs = [...new Set(stored.map((r) => String(Number(r.lr))))];
    spreads[key] = {
      seeds,
      val_accuracy: Object.fromEntries(lrs.map((lr) => [lr, seeds.map((sd) => stored.find((r) => String(Number(r.lr)) === lr && r.seed === sd)?.valAccuracy ?? NaN)])),
    };
  }
  for (const [k, v] of Object.entries(spreads)) log(`    ${k}: ${JSON.stringify(v.val_accuracy)}`);
  if (featureParity) log(`    features: ${JSON.stringify(featureParity)}`);
  saveResults();
}

if (parts.has('spec')) {
  log('==> spec throughput');
  specRows = specThroughput(Number(opts['spec-variants']));
}

const table = renderReport({ measured: [firstMeasured, measuredUntil()], merged: opts.merge!.length, outcomes, spreads, featureParity, specRows });
log(`\n${table}\n`);
saveResults(table);
log(`raw figures: ${rel(resultsFile)}`);
