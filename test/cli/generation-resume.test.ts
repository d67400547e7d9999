// A generation sweep on the tiny random Llama through the real CLI: `tunespec run` killed -9 after
// an epoch and run again resumes the variant from its checkpoint and ends bit for bit as an
// unbroken run (metrics.jsonl, result.json, the merged model's bytes); the frozen-block cache
// misses on the first sweep and hits on the next, and --no-feature-cache trains end to end to the
// same metrics. On wasm unless TUNESPEC_TEST_ENGINE names another engine.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir, tunespecAsync, tunespecSignalled, type Env } from '../helpers/cli.ts';
import { tinyChatSpec } from '../helpers/generation-variant.ts';

const ENGINE = process.env.TUNESPEC_TEST_ENGINE || 'wasm';
const engineEnv: Env = ENGINE.startsWith('native') ? { TUNESPEC_NO_NATIVE_BUILD: undefined } : {};
const TIMING = new Set(['timestamp', 'epoch_seconds', 'tokens_per_second']);
/** Cached and end-to-end training compute the same sums over differently padded batches; see test/train/decoder-cache.test.ts. */
const TOLERANCE = 1e-4;

const dir = tempDir('tunespec-generation-resume-');
test.after(() => rmSync(dir, { recursive: true, force: true }));
const cacheDir = join(dir, 'cache');

/** 15 training examples in batches of 2: 8 steps an epoch, 3 epochs. */
const spec = join(dir, 'gen-resume.yaml');
writeFileSync(
  spec,
  tinyChatSpec(
    'gen-resume',
    `validation: { fraction: 0.25, seed: 1 }
freeze: [{ from: model.embed_tokens, to: model.layers.0 }]
training:
  epochs: 3
  batch_size: 2
  optimizer: adamw
  weight_decay: 0.01
  max_grad_norm: 1.0
  schedule: { type: warmup_linear, warmup_steps: 2 }
  learning_rate: 0.01
  early_stopping: { patience: 5 }
  seed: 1
`,
  ),
);

const run = (runs: string, extra: string[] = []) => tunespecAsync(['run', spec, '--runs-dir', runs, '--backend', ENGINE, ...extra], undefined, { ...engineEnv, TUNESPEC_CACHE_DIR: cacheDir });

function variantDir(runs: string): string {
  const exp = join(runs, 'gen-resume');
  const sweep = readdirSync(exp).find((n) => !n.startsWith('.'))!;
  const [variant] = readdirSync(join(exp, sweep)).filter((n) => /^[0-9a-f]{12}$/.test(n));
  return join(exp, sweep, variant);
}

const json = (file: string) => JSON.parse(readFileSync(file, 'utf8'));
const epochs = (dir: string) =>
  readFileSync(join(dir, 'metrics.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => Object.fromEntries(Object.entries(JSON.parse(l) as Record<string, number>).filter(([k]) => !TIMING.has(k))));

function checkpointSteps(runs: string): number[] {
  const exp = join(runs, 'gen-resume');
  const name = existsSync(exp) ? readdirSync(exp).find((n) => n.startsWith('.checkpoints-')) : undefined;
  return name ? readdirSync(join(exp, name)).flatMap((n) => (/^step-(\d+)$/.exec(n) ? [Number(n.slice(5))] : [])) : [];
}

test('killed -9 after an epoch, `tunespec run` again resumes the generation variant and ends bit for bit as an unbroken run; the second sweep hits the frozen-block cache', async () => {
  const reference = join(dir, 'reference');
  const r = await run(reference);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  const ref = variantDir(reference);
  assert.equal(json(join(ref, 'status.json')).featureCache.status, 'miss');
  assert.match(r.stdout, /feature cache miss: hidden states at the input of model\.layers\.1 computed in [\d.]+s \(tfjs /);

  const runs = join(dir, 'runs');
  const killed = await tunespecSignalled(['run', spec, '--runs-dir', runs, '--backend', ENGINE], /epoch 1\/3 loss/, 'SIGKILL', { ...engineEnv, TUNESPEC_CACHE_DIR: cacheDir });
  assert.ok(killed.pid, killed.stdout + killed.stderr);
  assert.equal(killed.code, null, 'killed by the signal');
  assert.match(killed.stdout, /feature cache hit: hidden states at the input of model\.layers\.1 from the cache/);
  const steps = checkpointSteps(runs);
  assert.ok(steps.length && Math.max(...steps) >= 8 && Math.max(...steps) < 24, `an epoch-end checkpoint, not the last: ${steps}`);
  const epoch = Math.max(...steps) / 8;

  const resumed = await run(runs);
  assert.equal(resumed.code, 0, resumed.stdout + resumed.stderr);
  assert.match(resumed.stdout, new RegExp(`: resuming from epoch ${epoch}/3\\n`));
  const dirOf = variantDir(runs);
  assert.equal(json(join(dirOf, 'status.json')).featureCache.status, 'hit');
  assert.deepEqual(epochs(dirOf), epochs(ref), 'per-epoch metrics differ from the unbroken run');
  assert.deepEqual(json(join(dirOf, 'result.json')), json(join(ref, 'result.json')));
  assert.ok(readFileSync(join(dirOf, 'merged', 'model.safetensors')).equals(readFileSync(join(ref, 'merged', 'model.safetensors'))), 'the merged model differs from the unbroken run\'s');
  assert.deepEqual(checkpointSteps(runs), [], 'checkpoints go when the variant completes');

  // End to end, without the cache: the same training to float tolerance.
  const off = join(dir, 'off');
  const e = await run(off, ['--no-feature-cache']);
  assert.equal(e.code, 0, e.stdout + e.stderr);
  assert.deepEqual(json(join(variantDir(off), 'status.json')).featureCache, { status: 'off', detail: 'turned off (--no-feature-cache)' });
  const a = epochs(variantDir(off));
  const b = epochs(ref);
  assert.equal(a.length, b.length);
  a.forEach((m, i) => {
    for (const k of ['loss', 'val_loss', 'val_perplexity']) assert.ok(Math.abs(m[k] - b[i][k]) < TOLERANCE * Math.max(1, Math.abs(b[i][k])), `epoch ${i + 1} ${k}: ${m[k]} end to end, ${b[i][k]} cached`);
  });
});
