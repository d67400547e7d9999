// Run by `npm run test:native` after `npm run setup:native` (CI does both), not by `npm test`:
// the README's quickstart sweep, trained on native TensorFlow built against pip's libtensorflow.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT, tempDir, tunespec } from '../helpers/cli.ts';

test('the quickstart sweep trains on the native engine, to the accuracies the README quotes', () => {
  const runs = join(tempDir(), 'runs');
  const native = { TUNESPEC_NO_NATIVE_BUILD: undefined };
  const doctor = tunespec(['doctor'], ROOT, native);
  assert.match(doctor.stdout, /^native\s+yes\s+@tensorflow\/tfjs-node on TensorFlow 2\.21\.0 \(.*libtensorflow.*\), device CPU$/m);
  const r = tunespec(['run', join(ROOT, 'experiments', 'quickstart.yaml'), '--runs-dir', runs, '--backend', 'native'], ROOT, native);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /3 completed/);
  const sweep = join(runs, 'quickstart', readdirSync(join(runs, 'quickstart'))[0]);
  for (const v of readdirSync(sweep).filter((f) => /^[0-9a-f]{12}$/.test(f))) {
    const status = JSON.parse(readFileSync(join(sweep, v, 'status.json'), 'utf8'));
    assert.equal(status.engine.name, 'native');
    assert.equal(status.engine.version, '4.22.0 (TensorFlow 2.21.0)');
    const { metrics } = JSON.parse(readFileSync(join(sweep, v, 'result.json'), 'utf8'));
    assert.ok(metrics.val_accuracy > 0.94, `${status.label}: val_accuracy ${metrics.val_accuracy}`);
  }
});
