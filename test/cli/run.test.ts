import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { tempDir, tunespec, writeSmallSpec } from '../helpers/cli.ts';

function variantDirs(runs: string, experiment: string): string[] {
  const exp = join(runs, experiment);
  return readdirSync(exp).flatMap((sweep) =>
    readdirSync(join(exp, sweep))
      .filter((v) => statSync(join(exp, sweep, v)).isDirectory())
      .map((v) => join(exp, sweep, v)),
  );
}

const dir = tempDir();
const runs = join(dir, 'runs');
const spec = writeSmallSpec(dir);

test('run trains every variant into runs/<experiment>/<sweep>/<variant>/ with model, metrics and status', async () => {
  const r = tunespec(['run', spec, '--runs-dir', runs]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /2 completed, 0 skipped, 0 failed, 0 interrupted/);
  const variants = variantDirs(runs, 'small');
  assert.equal(variants.length, 2);
  for (const v of variants) {
    const files = readdirSync(v).sort();
    assert.deepEqual(files, [
      'confusion_matrix.json', 'confusion_matrix.png', 'images', 'layers.json', 'learning_curves.png', 'metrics.csv', 'metrics.jsonl', 'model', 'model.onnx', 'params.json', 'result.json', 'spec.yaml', 'status.json',
    ]);
    const status = JSON.parse(readFileSync(join(v, 'status.json'), 'utf8'));
    assert.equal(status.status, 'completed');
    assert.equal(status.engine.name, 'wasm');
    assert.match(status.split.digest, /^[0-9a-f]{64}$/);
    const epochs = readFileSync(join(v, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    assert.deepEqual(epochs.map((e) => e.epoch), [1, 2]);
    const result = JSON.parse(readFileSync(join(v, 'result.json'), 'utf8'));
    const confusionTotal = result.confusion.flat().reduce((a: number, b: number) => a + b, 0);
    assert.equal(confusionTotal, status.split.validation);
    assert.equal(result.metrics.val_accuracy, result.confusion.reduce((n: number, row: number[], i: number) => n + row[i], 0) / confusionTotal);
    assert.ok(result.metrics.val_accuracy > 0.5, `transfer should beat chance (20%), got ${result.metrics.val_accuracy}`);
    const params = JSON.parse(readFileSync(join(v, 'params.json'), 'utf8'));
    assert.ok(['0.01', '0.001'].includes(params['training.learning_rate']));

    // The stored model is a plain tfjs LayersModel.
    const json = JSON.parse(readFileSync(join(v, 'model', 'model.json'), 'utf8'));
    const weights = readFileSync(join(v, 'model', 'weights.bin'));
    const model = await tf.loadLayersModel(
      tf.io.fromMemory({ modelTopology: json.modelTopology, weightSpecs: json.weightsManifest[0].weights, weightData: new Uint8Array(weights).buffer }),
    );
    const out = model.predict(tf.zeros([3, 28, 28, 1])) as tf.Tensor;
    assert.deepEqual(out.shape, [3, 5]);
    tf.dispose(out);
    model.dispose();
  }
  // Both variants saw the very same split.
  const digests = variants.map((v) => JSON.parse(readFileSync(join(v, 'status.json'), 'utf8')).split.digest);
  assert.equal(new Set(digests).size, 1);
  assert.ok(!readdirSync(join(runs, 'small')).some((s) => readdirSync(join(runs, 'small', s)).some((f) => f.startsWith('.staging'))));
});

test('a second run skips completed variants; --force retrains them', () => {
  const before = variantDirs(runs, 'small').map((v) => statSync(join(v, 'status.json')).mtimeMs);
  const again = tunespec(['run', spec, '--runs-dir', runs]);
  assert.equal(again.code, 0, again.stderr);
  assert.match(again.stdout, /0 completed, 2 skipped/);
  assert.deepEqual(variantDirs(runs, 'small').map((v) => statSync(join(v, 'status.json')).mtimeMs), before);

  const only = tunespec(['plan', spec]).stdout.match(/^0\s+([0-9a-f]{12})/m)![1];
  const forced = tunespec(['run', spec, '--runs-dir', runs, '--force', '--only', only]);
  assert.equal(forced.code, 0, forced.stderr);
  assert.match(forced.stdout, /1 completed, 0 skipped/);
  assert.equal(variantDirs(runs, 'small').length, 2);
});

test('runs compares the variants best first and names the best model', () => {
  const r = tunespec(['runs', spec, '--runs-dir', runs]);
  assert.equal(r.code, 0, r.stderr);
  const rows = r.stdout.split('\n').filter((l) => /^[0-9a-f]{12}\s/.test(l));
  assert.equal(rows.length, 2);
  const scores = rows.map((l) => Number(l.split(/\s+/)[3]));
  assert.ok(scores[0] >= scores[1], r.stdout);
  const best = r.stdout.match(/^best: ([0-9a-f]{12}) .*\nmodel: (.*model\.json)$/m);
  assert.ok(best, r.stdout);
  assert.ok(existsSync(best[2]));
  assert.equal(best[1], rows[0].slice(0, 12));
  assert.doesNotMatch(r.stdout, /MLflow/, 'untracked: no MLflow line');
});

test('a variant that cannot train is recorded as failed, the sweep goes on, and the exit code is 1', () => {
  const failing = tempDir();
  const r = tunespec(['run', writeSmallSpec(failing, { name: 'failing' }), '--runs-dir', join(failing, 'runs'), '--backend', 'native']);
  assert.equal(r.code, 1);
  assert.match(r.stdout, /0 completed, 0 skipped, 2 failed/);
  const variants = variantDirs(join(failing, 'runs'), 'failing');
  assert.equal(variants.length, 2);
  for (const v of variants) {
    const status = JSON.parse(readFileSync(join(v, 'status.json'), 'utf8'));
    assert.equal(status.status, 'failed');
    assert.match(status.reason, /no engine can run this variant \(native\): native: @tensorflow\/tfjs-node is not installed/);
    assert.ok(!existsSync(join(v, 'model')));
  }
});

test('usage errors exit 2 with a message, and write nothing', () => {
  const cases: [string[], RegExp][] = [
    [['run'], /run takes exactly one spec file/],
    [['run', spec, '--nope'], /Unknown option '--nope'/],
    [['run', spec, '--backend', 'gpu'], /--backend must be one of auto, native-gpu, native, wasm, cpu; got "gpu"/],
    [['run', spec, '--only', 'ffffffffffff', '--runs-dir', join(dir, 'other-runs')], /--only: no variant ffffffffffff in this plan/],
    [['frobnicate'], /unknown command "frobnicate"/],
  ];
  for (const [args, message] of cases) {
    const r = tunespec(args);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, message);
    assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace without --debug');
  }
  assert.ok(!existsSync(join(dir, 'other-runs')));
});
