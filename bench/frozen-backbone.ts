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
// when tools disagree by more than 1 point). Builds the backbone (scripts/mobilenet-base.sh) and
// the split first when they are missing. Raw figures go to bench/.cache/results/.
// Run by hand:
//   npx tsx bench/frozen-backbone.ts [--rounds 3] [--spec-variants 10000] [--merge earlier-results.json ...]
//       [--parts keras-a,keras-b,ts-cold,ts-warm,ts-off,keras-c,ts-unfreeze-off,ts-unfreeze-on,spec,seed-spread]
// (--merge folds the runs of an earlier invocation into this one's table, e.g. slow parts run apart.)
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { gunzipSync } from 'node:zlib';
import { parse, stringify } from 'yaml';
import { splitDataset } from '../src/data/split.ts';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const CACHE = join(ROOT, 'bench', '.cache');
const BIN = join(ROOT, 'bin', 'tunespec.js');
const FROZEN_SPEC = join(ROOT, 'bench', 'specs', 'mobilenet-frozen.yaml');
const UNFREEZE_SPEC = join(ROOT, 'bench', 'specs', 'mobilenet-unfreeze.yaml');
const KERAS_MODEL = join(CACHE, 'mobilenet-base', 'dump', 'model.keras');
const ALL_PARTS = ['keras-a', 'keras-b', 'ts-cold', 'ts-warm', 'ts-off', 'keras-c', 'ts-unfreeze-off', 'ts-unfreeze-on', 'spec', 'seed-spread'] as const;
type Part = (typeof ALL_PARTS)[number];

const { values: opts } = parseArgs({
  options: {
    rounds: { type: 'string', default: '3' },
    parts: { type: 'string', default: ALL_PARTS.join(',') },
    'spec-variants': { type: 'string', default: '10000' },
    merge: { type: 'string', multiple: true, default: [] },
  },
});
const rounds = Number(opts.rounds);
const parts = new Set(opts.parts!.split(',').map((p) => p.trim()) as Part[]);
for (const p of parts) if (!ALL_PARTS.includes(p)) throw new Error(`--parts: unknown part ${p} (known: ${ALL_PARTS.join(', ')})`);

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
const rel = (p: string) => relative(ROOT, p) || '.';
const log = (s: string) => console.log(s);

// ---------------------------------------------------------------------------------------------
// Child processes, timed, with their peak RSS.

interface Measured { seconds: number; cpuSeconds: number; rssMiB: number; code: number | null; stdout: string; stderr: string }

const HAVE_TIME = existsSync('/usr/bin/time');
const RSS_WRAPPER =
  'import resource,subprocess,sys\nr=subprocess.run(sys.argv[2:])\n' +
  'u=resource.getrusage(resource.RUSAGE_CHILDREN)\n' +
  'open(sys.argv[1],"w").write(f"{u.ru_maxrss} {u.ru_utime} {u.ru_stime}")\nsys.exit(r.returncode)';

function measure(cmd: string[], env: NodeJS.ProcessEnv = {}): Measured {
  const dir = mkdtempSync(join(CACHE, 'tmp-rss-'));
  const rssFile = join(dir, 'rss');
  const wrapped = HAVE_TIME ? ['/usr/bin/time', '-f', '%M %U %S', '-o', rssFile, ...cmd] : ['python3', '-c', RSS_WRAPPER, rssFile, ...cmd];
  const baseEnv = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('MLFLOW_')));
  const started = performance.now();
  const r = spawnSync(wrapped[0]!, wrapped.slice(1), {
    cwd: ROOT,
    encoding: 'utf8',
    maxBuffer: 256 * 2 ** 20,
    env: { ...baseEnv, FORCE_COLOR: '0', ...env },
  });
  const seconds = (performance.now() - started) / 1000;
  // The last line: /usr/bin/time writes "Command exited with non-zero status" before it on failure.
  const usage = (existsSync(rssFile) ? readFileSync(rssFile, 'utf8').trim().split('\n').pop()! : 'NaN NaN NaN').split(/\s+/).map(Number);
  rmSync(dir, { recursive: true, force: true });
  return {
    seconds,
    cpuSeconds: usage[1]! + usage[2]!,
    rssMiB: usage[0]! / 1024,
    code: r.status,
    stdout: r.stdout ?? '',
    stderr: r.stderr ?? '',
  };
}

let logName = 'job';
function mustSucceed(what: string, m: Measured): Measured {
  mkdirSync(join(CACHE, 'logs'), { recursive: true });
  writeFileSync(join(CACHE, 'logs', `${logName}.log`), `$ ${what}\n${m.stdout}\n--- stderr\n${m.stderr}`);
  if (m.code !== 0) throw new Error(`${what} failed (exit ${m.code}):\n${m.stdout.slice(-3000)}\n${m.stderr.slice(-3000)}`);
  return m;
}

const tunespec = (args: string[], env: NodeJS.ProcessEnv = {}) => measure([process.execPath, BIN, ...args], env);

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

interface BenchData { images: string; labels: string; classes: number[]; limit: number; fraction: number; seed: number }

function benchData(specFile: string): BenchData {
  const spec = parse(readFileSync(specFile, 'utf8'));
  return {
    images: spec.data.images,
    labels: spec.data.labels,
    classes: spec.data.classes,
    limit: spec.data.limit_per_class,
    fraction: spec.validation?.fraction ?? 0.2,
    seed: spec.validation?.seed ?? 0,
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

interface Outcome {
  seconds: number;
  /** User + system CPU seconds of the child and its children: less sensitive than wall time to a busy machine. */
  cpuSeconds: number;
  rssMiB: number;
  /** Final-epoch validation accuracy by learning rate (as a string). */
  accuracy: Record<string, number>;
  examplesPerSecond?: number;
  detail: string;
}

function kerasPeer(py: string, mode: 'a' | 'b' | 'c', split: string, d: BenchData): Outcome {
  const m = mustSucceed(`keras peer (${mode})`, measure([
    py, join(ROOT, 'bench', 'keras_peers.py'), '--mode', mode, '--model', KERAS_MODEL, '--split', split,
    '--images', d.images, '--labels', d.labels, '--classes', ...d.classes.map(String), '--limit-per-class', String(d.limit),
  ]));
  const report = JSON.parse(m.stdout.trim().split('\n').pop()!);
  const accuracy = Object.fromEntries(Object.entries(report.results as Record<string, { val_accuracy: number }>).map(([lr, r]) => [String(Number(lr)), r.val_accuracy]));
  const detail = mode === 'b' ? `extraction ${report.extract_seconds} s` : mode === 'c' ? `train steps alone ${report.train_step_examples_per_second} ex/s` : `fit ${report.sweep_seconds} s`;
  return { seconds: m.seconds, cpuSeconds: m.cpuSeconds, rssMiB: m.rssMiB, accuracy, examplesPerSecond: report.examples_per_second, detail: `${detail}; data ${report.data_seconds} s` };
}

interface StoredRun { lr: string; valAccuracy: number; examplesPerSecond: number[]; status: string; engine: string }

function readRunStore(runsDir: string): StoredRun[] {
  const out: StoredRun[] = [];
  for (const exp of readdirSync(runsDir)) {
    const expDir = join(runsDir, exp);
    for (const sweep of readdirSync(expDir).filter((s) => !s.startsWith('.'))) {
      const sweepDir = join(expDir, sweep);
      for (const v of readdirSync(sweepDir, { withFileTypes: true })) {
        if (!v.isDirectory() || v.name.startsWith('.')) continue;
        const dir = join(sweepDir, v.name);
        const params = JSON.parse(readFileSync(join(dir, 'params.json'), 'utf8'));
        const status = JSON.parse(readFileSync(join(dir, 'status.json'), 'utf8'));
        const history = readFileSync(join(dir, 'metrics.jsonl'), 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l));
        out.push({
          lr: String(params['training.learning_rate']),
          valAccuracy: history.at(-1)?.val_accuracy ?? NaN,
          examplesPerSecond: history.map((h) => h.examples_per_second),
          status: status.status,
          engine: [status.engine?.name, status.engine?.version].filter(Boolean).join(' '),
        });
      }
    }
  }
  return out;
}

function tunespecRun(spec: string, cache: 'off' | string): Outcome {
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
    };
  } finally {
    rmSync(runs, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------------------------------------
// Spec throughput.

function specThroughput(variants: number): { rows: string[]; base: string } {
  // The bench's own spec when it validates (with the features it needs), else the quickstart's.
  const useFrozen = tunespec(['validate', FROZEN_SPEC]).code === 0;
  const baseFile = useFrozen ? FROZEN_SPEC : join(ROOT, 'experiments', 'quickstart.yaml');
  const spec = parse(readFileSync(baseFile, 'utf8'));
  const abs = (p: string) => (p.startsWith('/') ? p : join(baseFile, '..', p));
  spec.base_model.source = abs(spec.base_model.source);
  spec.data.images = abs(spec.data.images);
  spec.data.labels = abs(spec.data.labels);
  spec.name = 'bench-spec-throughput';
  // 10 x 10 x 10 x 10 = 10,000 for the default; other counts keep the first three axes at 10.
  const axis = (n: number, f: (i: number) => number) => Array.from({ length: n }, (_, i) => f(i));
  const last = Math.max(1, Math.round(variants / 1000));
  spec.sweep = {
    'training.learning_rate': axis(10, (i) => Number((0.1 / 2 ** i).toPrecision(4))),
    'training.batch_size': axis(10, (i) => 16 * (i + 1)),
    'training.seed': axis(10, (i) => i),
    'validation.seed': axis(last, (i) => i),
  };
  const n = 1000 * last;
  const file = join(CACHE, 'specs', `grid-${n}.yaml`);
  mkdirSync(join(CACHE, 'specs'), { recursive: true });
  writeFileSync(file, stringify(spec));
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
const warmCache = join(CACHE, 'feature-cache-warm');
const coldCache = join(CACHE, 'feature-cache-cold');
const unfreezeCache = join(CACHE, 'feature-cache-unfreeze');
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
let spread: { seeds: number[]; val_accuracy: Record<string, number[]> } | undefined;
let featureParity: { max_abs_diff: number; mean_abs_diff: number; max_abs_feature: number } | undefined;
// Figures of earlier invocations (--merge results.json), e.g. the slow peers measured on their own.
for (const file of opts.merge!) {
  const earlier = JSON.parse(readFileSync(file, 'utf8')) as { outcomes: Record<Part, Outcome[]>; spread?: typeof spread; featureParity?: typeof featureParity };
  spread = earlier.spread ?? spread;
  featureParity = earlier.featureParity ?? featureParity;
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
    const acc = Object.entries(o.accuracy).map(([lr, a]) => `${lr}: ${(a * 100).toFixed(1)}%`).join(', ');
    log(`    ${o.seconds.toFixed(1)} s (CPU ${o.cpuSeconds.toFixed(1)} s), peak RSS ${o.rssMiB.toFixed(0)} MiB${o.examplesPerSecond ? `, ${o.examplesPerSecond.toFixed(0)} ex/s` : ''}; val accuracy ${acc}; ${o.detail}`);
  }
}

// Untimed: how far Keras's own accuracies move with the seed (head init, shuffling), and
// whether tunespec's cached features are Keras's features.
if (parts.has('seed-spread')) {
  log('==> seed spread (Keras (b), 5 seeds) and feature parity with the tunespec cache (untimed)');
  const entry = [warmCache, coldCache].filter(hasEntry).map((d) => join(d, readdirSync(d).find((f) => f.endsWith('.f32'))!))[0];
  logName = 'seed-spread';
  const m = mustSucceed('keras peer (b), seed spread', measure([
    py, join(ROOT, 'bench', 'keras_peers.py'), '--mode', 'b', '--model', KERAS_MODEL, '--split', split,
    '--images', data.images, '--labels', data.labels, '--classes', ...data.classes.map(String), '--limit-per-class', String(data.limit),
    '--extra-seeds', '1', '2', '3', '4', ...(entry ? ['--compare-features', entry] : []),
  ]));
  const report = JSON.parse(m.stdout.trim().split('\n').pop()!);
  spread = report.seed_spread;
  featureParity = report.feature_parity;
  log(`    ${JSON.stringify(spread)}${featureParity ? `\n    features: ${JSON.stringify(featureParity)}` : ''}`);
}

const specRows = parts.has('spec') ? (log('==> spec throughput'), specThroughput(Number(opts['spec-variants']))) : undefined;

// ---------------------------------------------------------------------------------------------
// Report.

const LABEL: Record<Part, string> = {
  'keras-a': 'Keras (a): guide, `base.trainable = False`, `fit`',
  'keras-b': 'Keras (b): features once by hand',
  'ts-cold': 'tunespec, feature cache cold',
  'ts-warm': 'tunespec, feature cache warm',
  'ts-off': 'tunespec, `--no-feature-cache`',
  'keras-c': 'Keras (c): top block trainable',
  'ts-unfreeze-off': 'tunespec, top block trainable, `--no-feature-cache`',
  'ts-unfreeze-on': 'tunespec, top block trainable, feature cache cold',
  spec: 'spec throughput',
  'seed-spread': 'Keras (b) seed spread',
};
const wall = (p: Part) => (outcomes.get(p)?.length ? median(outcomes.get(p)!.map((o) => o.seconds)) : undefined);
const cpu = (p: Part): string => {
  const xs = outcomes.get(p)!.map((o) => o.cpuSeconds).filter((x) => Number.isFinite(x));
  return xs.length ? `${median(xs).toFixed(0)} s` : '–';
};
const rss = (p: Part) => Math.max(...(outcomes.get(p) ?? []).map((o) => o.rssMiB));
const medianAcc = (p: Part): Record<string, number> => {
  const os = outcomes.get(p) ?? [];
  const lrs = [...new Set(os.flatMap((o) => Object.keys(o.accuracy)))].sort((a, b) => Number(b) - Number(a));
  return Object.fromEntries(lrs.map((lr) => [lr, median(os.map((o) => o.accuracy[lr]!).filter((a) => a !== undefined))]));
};
const pct = (a: number | undefined) => (a === undefined || Number.isNaN(a) ? '–' : `${(a * 100).toFixed(1)}%`);

const now = new Date();
const lines: string[] = [];
const cpuModel = /Model name:\s*(.+)/.exec(spawnSync('lscpu', { encoding: 'utf8' }).stdout ?? '')?.[1]?.trim() ?? '?';
const nproc = spawnSync('nproc', { encoding: 'utf8' }).stdout.trim();
lines.push(
  `Measured ${now.toISOString().slice(0, 10)} on ${nproc} cores (${cpuModel}), no GPU; ${rounds} round(s), order alternating` +
    (opts.merge!.length ? `, with the runs of ${opts.merge!.length} earlier invocation(s) merged in (the \`runs\` column counts them all).` : '.'),
);

function sweepTable(ps: Part[], reference: Part[], title: string): void {
  const present = ps.filter((p) => outcomes.has(p));
  if (!present.length) return;
  const lrs = [...new Set(present.flatMap((p) => Object.keys(medianAcc(p))))].sort((a, b) => Number(b) - Number(a));
  lines.push('', `**${title}**`, '');
  lines.push(`| run | runs | median wall | median CPU | ${reference.filter((r) => outcomes.has(r)).map((r) => `/ ${r}`).join(' | ')}${reference.some((r) => outcomes.has(r)) ? ' | ' : ''}peak RSS | ${lrs.map((lr) => `val acc lr ${lr}`).join(' | ')} |`);
  lines.push(`|---|---|---|---|${reference.filter((r) => outcomes.has(r)).map(() => '---|').join('')}---|${lrs.map(() => '---|').join('')}`);
  for (const p of present) {
    const acc = medianAcc(p);
    const ratios = reference.filter((r) => outcomes.has(r)).map((r) => (wall(r) ? `${(wall(p)! / wall(r)!).toFixed(2)}` : '–'));
    lines.push(`| ${LABEL[p]} | ${outcomes.get(p)!.length} | ${wall(p)!.toFixed(1)} s | ${cpu(p)} | ${ratios.join(' | ')}${ratios.length ? ' | ' : ''}${(rss(p) / 1024).toFixed(2)} GiB | ${lrs.map((lr) => pct(acc[lr])).join(' | ')} |`);
  }
  // Accuracy agreement: every Keras run against every tunespec run, every learning rate; a gap
  // is put next to Keras's own seed-to-seed spread when the seed-spread part ran.
  const flags = new Map<string, { text: string; pairs: string[] }>();
  for (const k of present.filter((p) => p.startsWith('keras'))) {
    for (const t of present.filter((p) => p.startsWith('ts-'))) {
      const a = medianAcc(k);
      const b = medianAcc(t);
      for (const lr of lrs) {
        if (a[lr] === undefined || b[lr] === undefined) continue;
        const d = Math.abs(a[lr]! - b[lr]!) * 100;
        if (d <= 1) continue;
        const range = spread?.val_accuracy[String(Number(lr))] ?? spread?.val_accuracy[lr];
        const inside = range && b[lr]! >= Math.min(...range) - 1e-9 && b[lr]! <= Math.max(...range) + 1e-9;
        const note = range ? (inside ? ', inside Keras\'s seed spread' : ', OUTSIDE Keras\'s seed spread') : '';
        const key = `${lr}:${a[lr]}:${b[lr]}`;
        const flag = flags.get(key) ?? { text: `lr ${lr}: Keras ${pct(a[lr])} vs tunespec ${pct(b[lr])} (${d.toFixed(1)} points${note})`, pairs: [] };
        flag.pairs.push(`${k}/${t}`);
        flags.set(key, flag);
      }
    }
  }
  lines.push('', flags.size ? `Accuracies disagree by more than 1 point: ${[...flags.values()].map((f) => `${f.text} [${f.pairs.join(', ')}]`).join('; ')}.` : 'Every variant\'s accuracy agrees within 1 point across tools.');
}

sweepTable(['keras-a', 'keras-b', 'ts-cold', 'ts-warm', 'ts-off'], ['keras-a', 'keras-b'], 'Frozen-backbone sweep: 4 learning rates x 5 epochs, 8,000 train / 2,000 validation images, batch 64');
if (wall('ts-cold') && wall('ts-off')) lines.push(`Feature cache on (cold) / off: ${(wall('ts-cold')! / wall('ts-off')!).toFixed(3)}${wall('ts-warm') ? `; warm / off: ${(wall('ts-warm')! / wall('ts-off')!).toFixed(3)}` : ''}.`);

const unfreeze = (['keras-c', 'ts-unfreeze-off', 'ts-unfreeze-on'] as Part[]).filter((p) => outcomes.has(p));
if (unfreeze.length) {
  const eps = (p: Part) => median(outcomes.get(p)!.map((o) => o.examplesPerSecond ?? NaN));
  lines.push('', '**Partial unfreeze: block_16, Conv_1 and the head trainable, 2 epochs at lr 0.001 (examples/s of the last epoch, validation pass included, as tunespec counts)**', '');
  lines.push('| run | runs | examples/s | / Keras (c) | median wall | median CPU | peak RSS | val acc |', '|---|---|---|---|---|---|---|---|');
  for (const p of unfreeze) {
    const ratio = outcomes.has('keras-c') ? (eps(p) / eps('keras-c')).toFixed(2) : '–';
    lines.push(`| ${LABEL[p]} | ${outcomes.get(p)!.length} | ${eps(p).toFixed(0)} | ${ratio} | ${wall(p)!.toFixed(1)} s | ${cpu(p)} | ${(rss(p) / 1024).toFixed(2)} GiB | ${Object.values(medianAcc(p)).map(pct).join(', ')} |`);
  }
}

if (spread) {
  const lrs = Object.keys(spread.val_accuracy).sort((a, b) => Number(b) - Number(a));
  lines.push('', `**Seed spread**: Keras (b) alone, seeds ${spread.seeds.join(', ')} (head initialisation and shuffling), final validation accuracy min–max per learning rate: ` +
    lrs.map((lr) => { const a = spread!.val_accuracy[lr]!; return `${Number(lr)}: ${pct(Math.min(...a))}–${pct(Math.max(...a))}`; }).join(', ') + '.');
}
if (featureParity) {
  lines.push('', `**Features**: tunespec's cached out_relu features vs Keras's \`base.predict\`, every example: max |diff| ${featureParity.max_abs_diff.toExponential(2)}, mean ${featureParity.mean_abs_diff.toExponential(2)} (largest |feature| ${featureParity.max_abs_feature.toFixed(2)}).`);
}
if (specRows) {
  lines.push('', `**Spec throughput** (grid over learning rate, batch size, training seed and validation seed on ${specRows.base}; each timing is a whole \`tunespec\` process)`, '');
  lines.push('| command | wall | throughput | peak RSS |', '|---|---|---|---|', ...specRows.rows);
}

const table = lines.join('\n');
log(`\n${table}\n`);
mkdirSync(join(CACHE, 'results'), { recursive: true });
const resultsFile = join(CACHE, 'results', `frozen-backbone-${now.toISOString().replace(/[:.]/g, '-')}.json`);
writeFileSync(resultsFile, JSON.stringify({ date: now.toISOString(), rounds, parts: [...parts], outcomes: Object.fromEntries(outcomes), spread, featureParity, table }, null, 1));
log(`raw figures: ${rel(resultsFile)}`);
