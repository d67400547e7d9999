// Issue 18: does peak memory follow the data? The frozen MobileNetV2 sweep
// (bench/specs/mobilenet-frozen.yaml) run with its data at 1x, 2x, 10x: the 10,000 t10k images
// repeated, each copy after the first with a small deterministic perturbation (every pixel moved
// by -1, 0 or +1), as uncompressed IDX files under bench/.cache/mem-scaling/, and a spec copy per
// scale reading them with limit_per_class 1000 x scale. Each side (this checkout, and peer commits
// with --peer) runs each scale once with a fresh feature cache (cold), then --rounds times with the
// same cache (warm); the table gives wall, CPU (user+sys) and peak RSS (/usr/bin/time %M), medians
// of the warm rounds, and the warm peak RSS over the same side's 1x. Child processes run one
// after another. The default sweep is the bench spec's own (4 learning rates x 5 epochs); at 10x
// that is 80,000 training examples a variant, so --epochs / --learning-rates cut it down.
// Run by hand:
//   npx tsx bench/memory-scaling.ts [--scales 1,2,10] [--rounds 3] [--peer <git ref>] [--peer-scales 1,2]
//       [--epochs N] [--learning-rates 0.001,0.0003] [--keep-caches]
// A peer whose memory grows with the data (main before issue 18 held ~3 copies of the 96x96x3
// float32 dataset: ~3.3 GiB a 10,000 images) cannot run 10x on a small machine: --peer-scales
// says which scales it runs.
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { gunzipSync } from 'node:zlib';
import { parse, stringify } from 'yaml';
import { measure, median, type Measured } from './lib/measure.ts';
import { buildOurs, git, peerCheckout } from './lib/peer-checkout.ts';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const CACHE = join(ROOT, 'bench', '.cache');
const HERE = join(CACHE, 'mem-scaling');
const FROZEN_SPEC = join(ROOT, 'bench', 'specs', 'mobilenet-frozen.yaml');

const { values: opts } = parseArgs({
  options: {
    scales: { type: 'string', default: '1,2,10' },
    rounds: { type: 'string', default: '3' },
    peer: { type: 'string' },
    'peer-scales': { type: 'string' },
    epochs: { type: 'string' },
    'learning-rates': { type: 'string' },
    'keep-caches': { type: 'boolean', default: false },
  },
});
const scales = opts.scales!.split(',').map(Number);
const rounds = Number(opts.rounds);
const rel = (p: string) => relative(ROOT, p) || '.';
const log = (s: string) => console.log(s);

// ---------------------------------------------------------------------------------------------
// The data: t10k repeated `scale` times.

const idxHeader = (dims: number[]): Buffer => {
  const h = Buffer.alloc(4 + 4 * dims.length);
  h[2] = 0x08;
  h[3] = dims.length;
  dims.forEach((d, i) => h.writeUInt32BE(d, 4 + 4 * i));
  return h;
};

/** -1, 0 or +1 for pixel `j` of copy `copy` of image `i`: a fixed integer hash, the same on every machine. */
function nudge(copy: number, i: number, j: number): number {
  let h = Math.imul(copy * 0x9e3779b1 + i * 0x85ebca6b + j * 0xc2b2ae35, 0x27d4eb2f) >>> 0;
  h ^= h >>> 15;
  return (h % 3) - 1;
}

/** The images and labels files of `scale` x the bench data (the original files at 1x). */
function scaledData(images: string, labels: string, scale: number): { images: string; labels: string } {
  if (scale === 1) return { images, labels };
  const out = { images: join(HERE, `images-${scale}x-idx3-ubyte`), labels: join(HERE, `labels-${scale}x-idx1-ubyte`) };
  if (existsSync(out.images) && existsSync(out.labels)) return out;
  mkdirSync(HERE, { recursive: true });
  const img = gunzipSync(readFileSync(images));
  const lab = gunzipSync(readFileSync(labels));
  const [n, h, w] = [img.readUInt32BE(4), img.readUInt32BE(8), img.readUInt32BE(12)];
  const size = h * w;
  const pixels = img.subarray(16);
  const big = Buffer.alloc(n * scale * size);
  for (let copy = 0; copy < scale; copy++) {
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < size; j++) {
        const v = pixels[i * size + j]! + (copy ? nudge(copy, i, j) : 0);
        big[(copy * n + i) * size + j] = v < 0 ? 0 : v > 255 ? 255 : v;
      }
    }
  }
  const labelsOut = Buffer.concat(Array.from({ length: scale }, () => lab.subarray(8)));
  writeFileSync(`${out.images}.tmp`, Buffer.concat([idxHeader([n * scale, h, w]), big]));
  writeFileSync(`${out.labels}.tmp`, Buffer.concat([idxHeader([n * scale]), labelsOut]));
  for (const f of [out.images, out.labels]) renameSync(`${f}.tmp`, f);
  return out;
}

/** The bench spec at `scale` x its data, paths absolute, under bench/.cache/mem-scaling/. */
function scaledSpec(scale: number): string {
  const spec = parse(readFileSync(FROZEN_SPEC, 'utf8'));
  const abs = (p: string) => (p.startsWith('/') ? p : join(FROZEN_SPEC, '..', p));
  spec.base_model.source = abs(spec.base_model.source);
  const data = scaledData(abs(spec.data.images), abs(spec.data.labels), scale);
  spec.data.images = data.images;
  spec.data.labels = data.labels;
  spec.data.limit_per_class = spec.data.limit_per_class * scale;
  spec.name = `bench-mem-scaling-${scale}x`;
  if (opts.epochs) spec.training.epochs = Number(opts.epochs);
  if (opts['learning-rates']) spec.sweep = { 'training.learning_rate': opts['learning-rates'].split(',').map(Number) };
  const file = join(HERE, `mobilenet-frozen-${scale}x.yaml`);
  mkdirSync(HERE, { recursive: true });
  writeFileSync(file, stringify(spec));
  return file;
}

// ---------------------------------------------------------------------------------------------
// One side at one scale: cold, then warm rounds.

interface Run { seconds: number; cpuSeconds: number; rssMiB: number; failed?: string }
interface Row { side: string; scale: number; cold: Run; warm: Run[] }

function run(dir: string, spec: string, cache: string, what: string): Run {
  const runs = join(HERE, `tmp-runs-${process.pid}`);
  rmSync(runs, { recursive: true, force: true });
  try {
    const m: Measured = measure([process.execPath, join(dir, 'bin', 'tunespec.js'), 'run', spec, '--backend', 'native', '--force', '--runs-dir', runs], { cwd: dir, env: { TUNESPEC_CACHE_DIR: cache } });
    mkdirSync(join(CACHE, 'logs'), { recursive: true });
    writeFileSync(join(CACHE, 'logs', `mem-scaling-${what.replace(/[^\w.-]+/g, '-')}.log`), `${m.stdout}\n--- stderr\n${m.stderr}`);
    // A side that cannot run a scale (out of memory, a 2 GiB limit) is a result, not a bench error.
    const failed = m.code !== 0 ? (/failed in [\d.]+s: (.*)/.exec(m.stdout)?.[1] ?? `exit ${m.code}: ${m.stderr.trim().split('\n').pop()}`) : undefined;
    if (failed) {
      log(`    ${what}: FAILED after ${m.seconds.toFixed(1)} s, peak RSS ${m.rssMiB.toFixed(0)} MiB: ${failed}`);
      return { seconds: m.seconds, cpuSeconds: m.cpuSeconds, rssMiB: m.rssMiB, failed };
    }
    const hits = /feature cache: .*/.exec(m.stdout)?.[0] ?? '';
    log(`    ${what}: ${m.seconds.toFixed(1)} s, CPU ${m.cpuSeconds.toFixed(1)} s, peak RSS ${m.rssMiB.toFixed(0)} MiB; ${hits}`);
    return { seconds: m.seconds, cpuSeconds: m.cpuSeconds, rssMiB: m.rssMiB };
  } finally {
    rmSync(runs, { recursive: true, force: true });
  }
}

const specs = new Map(scales.map((s) => [s, scaledSpec(s)]));
const peer = opts.peer ? peerCheckout(opts.peer) : undefined;
buildOurs();
const dirty = git('status', '--porcelain') ? ', with changes' : '';
const sides = [
  ...(peer ? [{ name: `${peer.ref} (${peer.commit})`, dir: peer.dir, scales: opts['peer-scales']?.split(',').map(Number) ?? scales }] : []),
  { name: `this checkout (${git('rev-parse', '--short', 'HEAD')}${dirty})`, dir: ROOT, scales },
];
const rows: Row[] = [];
for (const side of sides) {
  for (const scale of side.scales) {
    const spec = specs.get(scale) ?? scaledSpec(scale);
    const cache = join(HERE, `cache-${side.dir === ROOT ? 'ours' : peer!.commit}-${scale}x`);
    rmSync(cache, { recursive: true, force: true });
    log(`==> ${side.name}, ${scale}x (${rel(spec)})`);
    const cold = run(side.dir, spec, cache, `${side.name} ${scale}x cold`);
    const warm = cold.failed ? [] : Array.from({ length: rounds }, (_, r) => run(side.dir, spec, cache, `${side.name} ${scale}x warm ${r + 1}`));
    if (!opts['keep-caches']) rmSync(cache, { recursive: true, force: true });
    rows.push({ side: side.name, scale, cold, warm });
  }
}

const f1 = (x: number) => x.toFixed(1);
const med = (rs: Run[], k: 'seconds' | 'cpuSeconds' | 'rssMiB') => median(rs.map((r) => r[k]));
const table = [
  '| side | data | cold: wall / CPU / peak RSS | warm (median of ' + rounds + '): wall / CPU / peak RSS | warm RSS vs 1x |',
  '|---|---|---|---|---|',
  ...rows.map((r) => {
    const data = `${r.scale}x (${(r.scale * 10000).toLocaleString('en')} images)`;
    if (r.cold.failed) return `| ${r.side} | ${data} | failed after ${f1(r.cold.seconds)} s (peak RSS ${r.cold.rssMiB.toFixed(0)} MiB): ${r.cold.failed} | - | - |`;
    const one = rows.find((o) => o.side === r.side && o.scale === 1 && o.warm.length);
    const ratio = one ? `${(med(r.warm, 'rssMiB') / med(one.warm, 'rssMiB')).toFixed(2)}x` : '-';
    return `| ${r.side} | ${data} | ${f1(r.cold.seconds)} s / ${f1(r.cold.cpuSeconds)} s / ${r.cold.rssMiB.toFixed(0)} MiB | ${f1(med(r.warm, 'seconds'))} s / ${f1(med(r.warm, 'cpuSeconds'))} s / ${med(r.warm, 'rssMiB').toFixed(0)} MiB | ${ratio} |`;
  }),
].join('\n');
mkdirSync(join(CACHE, 'results'), { recursive: true });
const resultsFile = join(CACHE, 'results', `memory-scaling-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
writeFileSync(resultsFile, JSON.stringify({ date: new Date().toISOString(), scales, rounds, epochs: opts.epochs, learningRates: opts['learning-rates'], rows, table }, null, 1));
log(`\n${table}\n\nraw figures: ${rel(resultsFile)}`);
