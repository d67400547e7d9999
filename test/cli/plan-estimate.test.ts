import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir, tunespec, writeSmallSpec } from '../helpers/cli.ts';
import { roughDuration } from '../../src/train/duration.ts';

// writeSmallSpec: 300 examples, a quarter held out (225 train rows), 2 epochs.
const TRAIN_ROWS = 225;
const EPOCHS = 2;

/** The variant rows of plan's sweep table: [#, id, batch size, trainable params, engine, version, estimate]. */
function variantRows(stdout: string): string[][] {
  const lines = stdout.split('\n');
  const header = lines.findIndex((l) => /^#\s+variant\s/.test(l));
  return lines.slice(header + 1).filter((l) => /^\d+\s/.test(l)).map((l) => l.trim().split(/\s{2,}|\s(?=~)/));
}

test('plan shows each variant\'s engine and an estimated training time from a measured step, probed once per batch shape and then read from the cache', () => {
  const dir = tempDir();
  const cache = join(dir, 'cache');
  const spec = writeSmallSpec(dir, { epochs: EPOCHS, sweep: '  training.batch_size: [16, 32]' });
  const first = tunespec(['plan', spec, '--backend', 'cpu'], undefined, { TUNESPEC_CACHE_DIR: cache });
  assert.equal(first.code, 0, first.stderr);
  assert.match(first.stdout, /#\s+variant\s+training\.batch_size\s+trainable params\s+engine\s+est\. training\n/);
  assert.match(first.stdout, /\nest\. training: an estimate, one training step \(measured now, kept in .*step-probes\) times the variant's steps; /);
  const probes = readdirSync(join(cache, 'step-probes'));
  assert.equal(probes.length, 2, 'one probe per batch shape');
  const steps = probes.map((f) => JSON.parse(readFileSync(join(cache, 'step-probes', f), 'utf8')));
  for (const s of steps) {
    assert.match(s.engine, /^cpu \d/);
    assert.ok(s.stepSeconds > 0 && s.stepSeconds < 60, String(s.stepSeconds));
  }
  const rows = variantRows(first.stdout);
  assert.equal(rows.length, 2);
  for (const row of rows) {
    const batch = Number(row[2]);
    assert.match(row.slice(4).join(' '), /^cpu \d+\.\d+\.\d+ ~/);
    // The estimate is one of the two probes' step times the variant's steps.
    const shown = row.at(-1)!;
    const candidates = steps.map((s) => `~${roughDuration(s.stepSeconds * Math.ceil(TRAIN_ROWS / batch) * EPOCHS)}`);
    assert.ok(candidates.includes(shown), `${shown} not in ${candidates}`);
  }
  const again = tunespec(['plan', spec, '--backend', 'cpu'], undefined, { TUNESPEC_CACHE_DIR: cache });
  assert.equal(again.code, 0, again.stderr);
  assert.match(again.stdout, /one training step \(measured earlier, /);
  assert.deepEqual(variantRows(again.stdout), rows, 'the cached probes give the same estimates');
});

test('plan --no-feature-cache times the frozen layers on onnxruntime and the layers after them, as run trains them', () => {
  const dir = tempDir();
  const cache = join(dir, 'cache');
  const spec = writeSmallSpec(dir, { epochs: EPOCHS, sweep: '  training.learning_rate: [0.01, 0.001]' });
  const r = tunespec(['plan', spec, '--backend', 'cpu', '--no-feature-cache'], undefined, { TUNESPEC_CACHE_DIR: cache });
  assert.equal(r.code, 0, r.stderr);
  const probes = readdirSync(join(cache, 'step-probes'));
  assert.equal(probes.length, 1, 'the learning rate does not change the step');
  const step = JSON.parse(readFileSync(join(cache, 'step-probes', probes[0]), 'utf8'));
  // The spec freezes everything up to flatten: its batch runs on onnxruntime, the head trains in tfjs.
  assert.equal(step.prefix?.boundary, 'flatten');
  assert.match(step.prefix.engine, /^onnxruntime/);
  assert.ok(step.prefix.seconds > 0 && step.stepSeconds > step.prefix.seconds, JSON.stringify(step));
  const want = `~${roughDuration(step.stepSeconds * Math.ceil(TRAIN_ROWS / 32) * EPOCHS)}`;
  for (const row of variantRows(r.stdout)) assert.equal(row.at(-1), want);

  // With the cache the head trains on cached features: another probe, without the prefix.
  const cached = tunespec(['plan', spec, '--backend', 'cpu'], undefined, { TUNESPEC_CACHE_DIR: cache });
  assert.equal(cached.code, 0, cached.stderr);
  const both = readdirSync(join(cache, 'step-probes')).map((f) => JSON.parse(readFileSync(join(cache, 'step-probes', f), 'utf8')));
  assert.equal(both.length, 2);
  assert.equal(both.filter((s) => s.prefix).length, 1);
});

test("cache lists plan's caches beside the feature cache, and cache clear empties them too", () => {
  const dir = tempDir();
  const cache = join(dir, 'cache');
  const env = { TUNESPEC_CACHE_DIR: cache };
  const spec = writeSmallSpec(dir, { epochs: EPOCHS, sweep: '  training.batch_size: [16, 32]' });
  assert.equal(tunespec(['plan', spec, '--backend', 'cpu'], undefined, env).code, 0);
  const listed = tunespec(['cache'], undefined, env);
  assert.equal(listed.code, 0, listed.stderr);
  // Two batch sizes: two step probes, of one model (one layer table) on one engine.
  assert.match(listed.stdout, /\nlayer tables .*model-tables: 1 file, \d+ B\n/);
  assert.match(listed.stdout, /\nengine choices .*engine-choices: 1 file, \d+ B\n/);
  assert.match(listed.stdout, /\nstep probes .*step-probes: 2 files, \d+ B/);
  const json = JSON.parse(tunespec(['cache', '--json'], undefined, env).stdout);
  assert.deepEqual(
    json.planCaches.map((c: { name: string; dir: string; files: number }) => [c.name, c.dir, c.files]),
    [['layer tables', join(cache, 'model-tables'), 1], ['engine choices', join(cache, 'engine-choices'), 1], ['step probes', join(cache, 'step-probes'), 2]],
  );
  const cleared = tunespec(['cache', 'clear'], undefined, env);
  assert.equal(cleared.code, 0, cleared.stderr);
  assert.match(cleared.stdout, /\nremoved step probes .*step-probes: 2 files \(/);
  for (const d of ['model-tables', 'engine-choices', 'step-probes']) assert.ok(!existsSync(join(cache, d)), d);
  const again = tunespec(['plan', spec, '--backend', 'cpu'], undefined, env);
  assert.equal(again.code, 0, again.stderr);
  assert.match(again.stdout, /one training step \(measured now, /);
});

test('plan --no-estimate loads no engine and measures nothing', () => {
  const dir = tempDir();
  const cache = join(dir, 'cache');
  const r = tunespec(['plan', writeSmallSpec(dir), '--no-estimate'], undefined, { TUNESPEC_CACHE_DIR: cache });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /#\s+variant\s+training\.learning_rate\s+trainable params\n/);
  assert.doesNotMatch(r.stdout, /est\. training/);
  assert.ok(!existsSync(join(cache, 'step-probes')));
});
