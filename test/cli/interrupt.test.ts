import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir, tunespecAsync, tunespecSignalled, writeSmallSpec } from '../helpers/cli.ts';

test('Ctrl-C marks the current variant interrupted, stops the sweep and leaves nothing half-written', async () => {
  const dir = tempDir();
  const runs = join(dir, 'runs');
  const spec = writeSmallSpec(dir, { name: 'interrupted', epochs: 200 });
  const r = await tunespecSignalled(['run', spec, '--runs-dir', runs], /epoch 1\/200/, 'SIGINT');
  assert.ok(r.pid, r.stdout);
  assert.equal(r.code, 130, r.stderr);
  assert.match(r.stdout, /0 completed, 0 skipped, 0 failed, 1 interrupted/);
  const sweepDir = join(runs, 'interrupted', readdirSync(join(runs, 'interrupted')).filter((e) => !e.startsWith('.'))[0]);
  const entries = readdirSync(sweepDir);
  assert.ok(!entries.some((e) => e.startsWith('.staging')), entries.join(' '));
  const variants = entries.filter((e) => /^[0-9a-f]{12}$/.test(e));
  assert.equal(variants.length, 1, 'the second variant never started');
  const status = JSON.parse(readFileSync(join(sweepDir, variants[0], 'status.json'), 'utf8'));
  assert.equal(status.status, 'interrupted');
  assert.ok(!existsSync(join(sweepDir, variants[0], 'model')), 'no model is stored for an interrupted variant');

  // An interrupted variant does not count as done: `runs` shows it as such, and a rerun trains it.
  const listed = await tunespecAsync(['runs', spec, '--runs-dir', runs]);
  assert.match(listed.stdout, new RegExp(`^${variants[0]}\\s+lr=0.01\\s+interrupted`, 'm'));
});

test('Ctrl-C during run --force keeps the completed result: an interrupted attempt never replaces it', async () => {
  const dir = tempDir();
  const runs = join(dir, 'runs');
  const spec = writeSmallSpec(dir, { name: 'forced', epochs: 150, sweep: '  training.learning_rate: [0.01]' });
  const done = await tunespecAsync(['run', spec, '--runs-dir', runs]);
  assert.equal(done.code, 0, done.stderr);
  const sweepDir = join(runs, 'forced', readdirSync(join(runs, 'forced')).filter((e) => !e.startsWith('.'))[0]);
  const [variant] = readdirSync(sweepDir).filter((e) => /^[0-9a-f]{12}$/.test(e));
  const before = readFileSync(join(sweepDir, variant, 'status.json'), 'utf8');
  const weights = readFileSync(join(sweepDir, variant, 'model', 'weights.bin'));

  const r = await tunespecSignalled(['run', spec, '--runs-dir', runs, '--force'], /epoch 1\/150/, 'SIGINT');
  assert.ok(r.pid, r.stdout);
  assert.equal(r.code, 130, r.stderr);
  assert.match(r.stdout, /0 completed, 0 skipped, 0 failed, 1 interrupted/);
  assert.match(r.stdout, new RegExp(`lr=0.01 \\(${variant}\\): this attempt was interrupted; the completed result in \\S+${variant} stays`));
  assert.equal(readFileSync(join(sweepDir, variant, 'status.json'), 'utf8'), before, 'the completed attempt is untouched');
  assert.deepEqual(readFileSync(join(sweepDir, variant, 'model', 'weights.bin')), weights);
  assert.deepEqual(readdirSync(sweepDir).filter((e) => e.startsWith('.')), [], 'the interrupted attempt left nothing behind');
  const listed = await tunespecAsync(['runs', spec, '--runs-dir', runs]);
  assert.match(listed.stdout, new RegExp(`^${variant}\\s+lr=0.01\\s+completed`, 'm'));
});

test('a piped run reports progress within a long epoch, and Ctrl-C mid-epoch stops it at the next batch', async () => {
  const dir = tempDir();
  const runs = join(dir, 'runs');
  // Batches of one over 1,500 training examples: an epoch of 1,500 steps, far longer than the wait for the first progress line.
  const spec = writeSmallSpec(dir, { name: 'long-epoch', epochs: 3, sweep: '  training.batch_size: [1]' });
  writeFileSync(spec, readFileSync(spec, 'utf8').replace('limit_per_class: 60', 'limit_per_class: 400'));
  let sent = false;
  let killed = false;
  let child: ChildProcess | undefined;
  // Not a timing assertion: a run that ignores Ctrl-C would otherwise hang the suite.
  const guard = setTimeout(() => ((killed = true), child?.kill('SIGKILL')), 180_000);
  const r = await tunespecAsync(
    ['run', spec, '--runs-dir', runs],
    (chunk, c) => {
      child = c;
      if (!sent && /epoch 1\/3 batch \d+\/1500 \d+ ex\/s, epoch ETA [\d.]+ (s|min|h), variant ETA [\d.]+ (s|min|h) \(training only\)/.test(chunk)) {
        sent = true;
        c.kill('SIGINT');
      }
    },
    { TUNESPEC_PROGRESS_SECONDS: '0.05' },
  );
  clearTimeout(guard);
  assert.ok(!killed, 'the run did not stop after Ctrl-C');
  assert.ok(sent, `no progress line within the epoch:\n${r.stdout}`);
  assert.equal(r.code, 130, r.stderr);
  assert.doesNotMatch(r.stdout, /epoch 1\/3 loss/, 'the first epoch never finished: the interrupt landed mid-epoch');
  const sweepDir = join(runs, 'long-epoch', readdirSync(join(runs, 'long-epoch')).filter((e) => !e.startsWith('.'))[0]);
  const entries = readdirSync(sweepDir);
  assert.ok(!entries.some((e) => e.startsWith('.staging')), entries.join(' '));
  const [variant] = entries.filter((e) => /^[0-9a-f]{12}$/.test(e));
  assert.equal(JSON.parse(readFileSync(join(sweepDir, variant, 'status.json'), 'utf8')).status, 'interrupted');
  assert.ok(!existsSync(join(sweepDir, variant, 'model')), 'no model is stored for an interrupted variant');
});
