// Spec throughput (issue 18): `tunespec validate` and `tunespec plan` of a 10,000-variant grid
// (bench/specs/grid-10k.yaml: the quickstart spec, 25 learning rates x 20 batch sizes x 20 seeds),
// whole processes timed, this checkout against a peer checkout (by default main's merge base,
// unpacked under bench/.cache), alternating, medians of the rounds. Wall and CPU seconds both: on a shared
// machine CPU seconds are the steadier figure. Both checkouts keep their caches (plan's layer tables,
// engine choices and step probes) in bench/.cache/tunespec-cache, never the user's, warmed by one
// untimed plan each, so `plan` is timed as a second plan runs. Run by hand:
//   npx tsx bench/spec-throughput.ts [--rounds 5] [--peer <git ref>] [--spec <file>]
import { join, relative } from 'node:path';
import { parseArgs } from 'node:util';
import { ROOT } from '../test/helpers/cli.ts';
import { measure, median, type Measured } from './lib/measure.ts';
import { buildOurs, git, peerCheckout } from './lib/peer-checkout.ts';

const { values: opts } = parseArgs({
  options: {
    rounds: { type: 'string', default: '3' },
    peer: { type: 'string' },
    spec: { type: 'string', default: join(ROOT, 'bench', 'specs', 'grid-10k.yaml') },
  },
});
const rounds = Math.max(1, Number(opts.rounds));
const peerInfo = peerCheckout(opts.peer);
const [peerRef, peerCommit] = [peerInfo.ref, peerInfo.commit];

const CACHE = join(ROOT, 'bench', '.cache', 'tunespec-cache');
const ENV = { TUNESPEC_CACHE_DIR: CACHE, XDG_CACHE_HOME: join(CACHE, 'xdg') };

function run(checkout: string, command: string): Measured {
  const m = measure([process.execPath, join(checkout, 'bin', 'tunespec.js'), command, opts.spec!], { cwd: ROOT, env: ENV });
  if (m.code !== 0) throw new Error(`${relative(ROOT, checkout) || '.'}: ${command} exited ${m.code}:\n${m.stderr.slice(-2000)}`);
  return m;
}

buildOurs();
const peer = peerInfo.dir;
for (const checkout of [ROOT, peer]) run(checkout, 'plan');
const variants = /ok \((\d+) variants?\)/.exec(run(ROOT, 'validate').stdout)?.[1];
console.log(`Spec throughput: ${relative(ROOT, opts.spec!)} (${variants} variants), ${rounds} round(s), this checkout (${git('rev-parse', '--short', 'HEAD')}${git('status', '--porcelain') ? ', with changes' : ''}) vs ${peerRef} (${peerCommit})`);
const rows: string[][] = [['command', 'peer wall s', 'ours wall s', 'wall ratio', 'peer CPU s', 'ours CPU s', 'CPU ratio']];
for (const command of ['validate', 'plan']) {
  const ours: Measured[] = [];
  const theirs: Measured[] = [];
  for (let i = 0; i < rounds; i++) {
    // Alternate which goes first, so drift on a noisy machine falls on both sides.
    if (i % 2) ours.push(run(ROOT, command)), theirs.push(run(peer, command));
    else theirs.push(run(peer, command)), ours.push(run(ROOT, command));
  }
  const [pw, ow] = [median(theirs.map((m) => m.seconds)), median(ours.map((m) => m.seconds))];
  const [pc, oc] = [median(theirs.map((m) => m.cpuSeconds)), median(ours.map((m) => m.cpuSeconds))];
  rows.push([command, pw.toFixed(2), ow.toFixed(2), `${(pw / ow).toFixed(2)}x faster`, pc.toFixed(2), oc.toFixed(2), `${(pc / oc).toFixed(2)}x faster`]);
}
const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
for (const r of rows) console.log(r.map((cell, c) => cell.padEnd(widths[c]!)).join('  '));
console.log(`(medians of ${rounds}; the goal is under 1 s wall for each, process included, on a quiet machine)`);
