import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
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
  const sweepDir = join(runs, 'interrupted', readdirSync(join(runs, 'interrupted'))[0]);
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
