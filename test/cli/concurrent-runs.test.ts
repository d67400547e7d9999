import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir, tunespec, tunespecAsync, tunespecSignalled, writeSmallSpec, type CliResult } from '../helpers/cli.ts';

const THREE = '  training.learning_rate: [0.01, 0.003, 0.001]';

function planIds(spec: string): string[] {
  const r = tunespec(['plan', spec]);
  assert.equal(r.code, 0, r.stderr);
  return [...r.stdout.matchAll(/^(\d+)\s+([0-9a-f]{12})\s/gm)].map((m) => m[2]);
}

function onlySweep(runs: string, experiment: string): string {
  const sweeps = readdirSync(join(runs, experiment)).filter((e) => !e.startsWith('.'));
  assert.equal(sweeps.length, 1, sweeps.join(' '));
  return join(runs, experiment, sweeps[0]);
}

/** What a user would check after the runs: one whole, completed attempt per variant and nothing half-written left over. */
function assertWholeSweep(runs: string, experiment: string, ids: string[], epochs: number): string {
  const sweep = onlySweep(runs, experiment);
  const entries = readdirSync(sweep);
  assert.ok(entries.includes('spec.yaml') && entries.includes('sweep.json'), entries.join(' '));
  assert.deepEqual(entries.filter((e) => e.startsWith('.')), [], 'no staging or replaced folders left behind');
  assert.deepEqual(entries.filter((e) => statSync(join(sweep, e)).isDirectory()).sort(), [...ids].sort());
  for (const id of ids) {
    const status = JSON.parse(readFileSync(join(sweep, id, 'status.json'), 'utf8'));
    assert.equal(status.status, 'completed', `${id}: ${status.reason}`);
    const lines = readFileSync(join(sweep, id, 'metrics.jsonl'), 'utf8').trim().split('\n');
    assert.deepEqual(lines.map((l) => JSON.parse(l).epoch), Array.from({ length: epochs }, (_, i) => i + 1), `${id} metrics.jsonl`);
    assert.ok(existsSync(join(sweep, id, 'learning_curves.png')) && existsSync(join(sweep, id, 'model', 'weights.bin')));
  }
  assert.deepEqual(readdirSync(join(runs, experiment)).filter((e) => e.startsWith('.')), [], 'every lock released');
  return sweep;
}

function counts(stdout: string): { completed: number; skipped: number } {
  const m = stdout.match(/(\d+) completed, (\d+) skipped, 0 failed, 0 interrupted/);
  assert.ok(m, stdout);
  return { completed: Number(m[1]), skipped: Number(m[2]) };
}

test('two runs of one sweep started together on one runs folder: each variant trained once, nothing corrupted', async () => {
  const dir = tempDir();
  const runs = join(dir, 'runs');
  const spec = writeSmallSpec(dir, { name: 'together', epochs: 12, sweep: THREE });
  const ids = planIds(spec);
  const [a, b] = await Promise.all([tunespecAsync(['run', spec, '--runs-dir', runs]), tunespecAsync(['run', spec, '--runs-dir', runs])]);
  assert.equal(a.code, 0, a.stderr + a.stdout);
  assert.equal(b.code, 0, b.stderr + b.stdout);
  assertWholeSweep(runs, 'together', ids, 12);
  const ca = counts(a.stdout);
  const cb = counts(b.stdout);
  // Every variant trained by exactly one of the two, and skipped (done by the other) by the other one.
  assert.equal(ca.completed + cb.completed, 3, a.stdout + b.stdout);
  assert.equal(ca.skipped + cb.skipped, 3);
});

test('a second run started while the first trains leaves its work alone and says who holds the variant', async () => {
  const dir = tempDir();
  const runs = join(dir, 'runs');
  const spec = writeSmallSpec(dir, { name: 'staggered', epochs: 5, sweep: THREE });
  const ids = planIds(spec);
  let second: Promise<CliResult> | undefined;
  let firstPid = 0;
  // The first run is paused (SIGSTOP) mid-way through its first variant until the second has
  // looked at that variant, so the second always arrives while the first holds it, however fast
  // or slow this machine is. The pause ends when the second exits, whatever happens.
  const first = await tunespecAsync(['run', spec, '--runs-dir', runs], (chunk, child) => {
    if (second || !/epoch 1\/5/.test(chunk)) return;
    firstPid = child.pid!;
    child.kill('SIGSTOP');
    let resumed = false;
    const resume = (): void => {
      if (!resumed) child.kill('SIGCONT');
      resumed = true;
    };
    second = tunespecAsync(['run', spec, '--runs-dir', runs], (out) => void (/being trained by/.test(out) && resume())).finally(resume);
  });
  assert.ok(second, first.stdout);
  const later = await second;
  assert.equal(first.code, 0, first.stderr + first.stdout);
  assert.equal(later.code, 0, later.stderr + later.stdout);
  const sweep = assertWholeSweep(runs, 'staggered', ids, 5);
  assert.equal(readFileSync(join(sweep, 'spec.yaml'), 'utf8'), readFileSync(spec, 'utf8'));
  // The first variant was the first process's when the second arrived: it said so, and who.
  assert.match(later.stdout, new RegExp(`${ids[0]}\\): being trained by pid ${firstPid} on this host \\(since `));
  assert.match(later.stdout, new RegExp(`skip lr=0.01 \\(${ids[0]}\\): completed by pid ${firstPid} `));
  assert.equal(counts(first.stdout).completed + counts(later.stdout).completed, 3);
});

test('two array tasks of the same index at once (a re-submitted task) go through the same lock', async () => {
  const dir = tempDir();
  const runs = join(dir, 'runs');
  const spec = writeSmallSpec(dir, { name: 'resubmitted', epochs: 12 });
  const ids = planIds(spec);
  const [a, b] = await Promise.all([
    tunespecAsync(['run', spec, '--index', '1', '--runs-dir', runs]),
    tunespecAsync(['run', spec, '--index', '1', '--runs-dir', runs]),
  ]);
  assert.equal(a.code, 0, a.stderr + a.stdout);
  assert.equal(b.code, 0, b.stderr + b.stdout);
  assertWholeSweep(runs, 'resubmitted', [ids[1]], 12);
  assert.deepEqual([counts(a.stdout).completed, counts(b.stdout).completed].sort(), [0, 1]);
});

test('a lock left by a killed run is recovered, and the run says whose it was', async () => {
  const dir = tempDir();
  const runs = join(dir, 'runs');
  const spec = writeSmallSpec(dir, { name: 'killed', epochs: 30, sweep: '  training.learning_rate: [0.01]' });
  const ids = planIds(spec);
  const killed = await tunespecSignalled(['run', spec, '--runs-dir', runs], /epoch 1\/30/, 'SIGKILL');
  assert.ok(killed.pid, killed.stdout);
  assert.equal(killed.code, null, 'killed by the signal');
  const sweep = onlySweep(runs, 'killed');
  assert.ok(readdirSync(sweep).some((e) => e.startsWith('.staging-')), 'the killed run left its unfinished attempt');
  const r = tunespec(['run', spec, '--runs-dir', runs]);
  assert.equal(r.code, 0, r.stderr + r.stdout);
  assert.match(r.stdout, new RegExp(`${ids[0]}\\): recovered the lock of pid ${killed.pid} on this host \\(started [^)]+\\), which is no longer running; removed its unfinished attempt`));
  assertWholeSweep(runs, 'killed', ids, 30);
});

test("a lock held on another host waits while its heartbeat is fresh, and is taken over once it is stale", async () => {
  const dir = tempDir();
  const runs = join(dir, 'runs');
  const spec = writeSmallSpec(dir, { name: 'elsewhere', epochs: 2, sweep: '  training.learning_rate: [0.01]' });
  const [id] = planIds(spec);
  mkdirSync(join(runs, 'elsewhere'), { recursive: true });
  const lock = join(runs, 'elsewhere', `.lock-${id}`);
  const owner = (pid: number) => JSON.stringify({ pid, host: 'node-17.cluster', started: '2026-01-01T00:00:00.000Z', token: 'x' });

  // Fresh heartbeat: the run waits, naming the holder; Ctrl-C while it waits stops it (130), the lock untouched.
  writeFileSync(lock, owner(4242));
  const stopped = await tunespecSignalled(['run', spec, '--runs-dir', runs], /\): waiting for pid 4242 /, 'SIGINT');
  assert.equal(stopped.code, 130, stopped.stderr + stopped.stdout);
  assert.match(stopped.stdout, /\): interrupted while waiting for pid 4242 on host node-17.cluster/);
  assert.match(stopped.stdout, /0 completed, 0 skipped, 0 failed, 1 interrupted/);
  assert.equal(readFileSync(lock, 'utf8'), owner(4242));

  // Once the holder lets go, the waiting run trains.

  let released = false;
  const waited = await tunespecAsync(['run', spec, '--runs-dir', runs], (chunk) => {
    if (!released && /\): waiting for pid 4242 /.test(chunk)) {
      released = true;
      rmSync(lock);
    }
  });
  assert.ok(released, waited.stdout);
  assert.equal(waited.code, 0, waited.stderr + waited.stdout);
  assert.match(waited.stdout, new RegExp(`${id}\\): being trained by pid 4242 on host node-17.cluster \\(since 2026-01-01T00:00:00.000Z\\)`));
  assert.match(waited.stdout, /1 completed, 0 skipped/);

  // A heartbeat older than the limit: that host's process is gone; --force retrains at once.
  writeFileSync(lock, owner(4343));
  const old = new Date(Date.now() - 60 * 60 * 1000);
  utimesSync(lock, old, old);
  const r = tunespec(['run', spec, '--runs-dir', runs, '--force']);
  assert.equal(r.code, 0, r.stderr + r.stdout);
  assert.match(r.stdout, /recovered the lock of pid 4343 on host node-17.cluster \(started 2026-01-01T00:00:00.000Z\), whose heartbeat stopped \d+ minute\(s\) ago/);
  assertWholeSweep(runs, 'elsewhere', [id], 2);
});

test('a lock file of another shape is refused, naming the file, and never trusted', async () => {
  const dir = tempDir();
  const runs = join(dir, 'runs');
  const spec = writeSmallSpec(dir, { name: 'foreign', epochs: 1, sweep: '  training.learning_rate: [0.01]' });
  const [id] = planIds(spec);
  mkdirSync(join(runs, 'foreign'), { recursive: true });
  const lock = join(runs, 'foreign', `.lock-${id}`);
  // A pid that is not a number: trusted, it would look alive forever (kill(pid, 0) fails, but not with ESRCH).
  writeFileSync(lock, JSON.stringify({ pid: 'abc', host: 'node-17.cluster', started: '2026-01-01T00:00:00.000Z' }));
  const r = tunespec(['run', spec, '--runs-dir', runs]);
  assert.equal(r.code, 1, r.stderr + r.stdout);
  assert.match(r.stderr, new RegExp(`${lock.replace(/[.]/g, '\\.')}: not a variant lock as tunespec writes it \\(the lock must have required property 'token', pid must be integer\\); if no tunespec process is training this variant, remove the file`));
  assert.ok(existsSync(lock), 'the file is left for the user to judge');
});
