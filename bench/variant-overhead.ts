// Per-variant overhead of a warm frozen sweep (issue 18): `tunespec run --force` of frozen-base
// specs on the default engine with the feature cache already filled, whole processes timed, this
// checkout against peer commits (by default main's merge base) in the same run, alternating,
// medians of the rounds. What it shows: ONNX parity where it can differ (the head on cached
// features, the whole model on 32 rows) and the cache entry read once per process, against
// parity of the whole model on every validation row and one read per variant. CPU seconds are
// the figure to read on a shared machine. Run by hand:
//   npx tsx bench/variant-overhead.ts [--rounds 3] [--peer <git ref>[,<git ref>…]] [--peers-only] [--spec <file>[,<file>…]]
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { parseArgs } from 'node:util';
import { ROOT } from '../test/helpers/cli.ts';
import { measure, median, type Measured } from './lib/measure.ts';
import { buildOurs, git, peerCheckout } from './lib/peer-checkout.ts';

const { values: opts } = parseArgs({
  options: {
    rounds: { type: 'string', default: '3' },
    peer: { type: 'string' },
    // Time the peers only: committed states, so editing src/ while the bench runs changes nothing.
    'peers-only': { type: 'boolean', default: false },
    spec: { type: 'string', default: ['experiments/quickstart.yaml', 'bench/specs/quickstart-overhead.yaml', 'bench/specs/quickstart-wide-features.yaml'].map((f) => join(ROOT, f)).join(',') },
  },
});
const rounds = Math.max(1, Number(opts.rounds));
const specs = opts.spec!.split(',');
buildOurs();
const peers = (opts.peer?.split(',') ?? [undefined]).map((ref) => peerCheckout(ref));
const sides = [...peers.map((p) => ({ name: `${p.ref.slice(0, 12)} (${p.commit})`, dir: p.dir })), ...(opts['peers-only'] ? [] : [{ name: `this checkout (${git('rev-parse', '--short', 'HEAD')}${git('status', '--porcelain') ? ', with changes' : ''})`, dir: ROOT }])];
const scratch = mkdtempSync(join(tmpdir(), 'tunespec-overhead-'));
// One feature cache per side: both name entries the same way today, but a side must never time another's format.
const caches = sides.map((_, i) => join(scratch, `cache-${i}`));

function run(side: number, spec: string): Measured {
  const runs = mkdtempSync(join(scratch, 'runs-'));
  const m = measure([process.execPath, join(sides[side]!.dir, 'bin', 'tunespec.js'), 'run', spec, '--force', '--runs-dir', runs], {
    cwd: ROOT,
    env: { TUNESPEC_CACHE_DIR: caches[side] },
  });
  rmSync(runs, { recursive: true, force: true });
  if (m.code !== 0) throw new Error(`${sides[side]!.name}: run ${spec} exited ${m.code}:\n${(m.stdout + m.stderr).slice(-2000)}`);
  return m;
}

console.log(`Variant overhead, warm feature cache, default engine: ${rounds} round(s); ${sides.map((s) => s.name).join(' vs ')}`);
const rows: string[][] = [['spec', 'side', 'wall s', 'CPU s', 'peak RSS MiB', 'CPU ratio (first side / this side)']];
try {
  for (const spec of specs) {
    // Warm means warm: each side fills its cache once, untimed.
    sides.forEach((_, i) => run(i, spec));
    const got: Measured[][] = sides.map(() => []);
    for (let r = 0; r < rounds; r++) {
      // Rotate which side goes first, so drift on a noisy machine falls on every side.
      for (let k = 0; k < sides.length; k++) {
        const i = (k + r) % sides.length;
        got[i]!.push(run(i, spec));
      }
    }
    const cpu = got.map((ms) => median(ms.map((m) => m.cpuSeconds)));
    sides.forEach((s, i) => {
      const ms = got[i]!;
      rows.push([relative(ROOT, spec), s.name, median(ms.map((m) => m.seconds)).toFixed(2), cpu[i]!.toFixed(2), median(ms.map((m) => m.rssMiB)).toFixed(0), `${(cpu[0]! / cpu[i]!).toFixed(2)}x`]);
    });
  }
} finally {
  rmSync(scratch, { recursive: true, force: true });
}
const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
for (const r of rows) console.log(r.map((cell, c) => cell.padEnd(widths[c]!)).join('  '));
console.log(`(medians of ${rounds}; CPU seconds of the whole process, start-up included)`);
