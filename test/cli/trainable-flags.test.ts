// tunespec trains what `freeze` says. A base model saved with frozen layers, fine-tuned by a spec
// that does not freeze them, trains them: validate and plan say so (a warning: it may be meant).
// A freeze that leaves no weight of the new head trainable is an error: the head starts random.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BASE_MODEL, tempDir, tunespec, writeSmallSpec } from '../helpers/cli.ts';

let dir: string;
let base: string;
const SAVED_FROZEN = ['conv1', 'bn1', 'pool1', 'conv2', 'bn2', 'pool2'];

before(() => {
  dir = tempDir('tunespec-flags-');
  // The shipped base, saved with its first two conv blocks not trainable (as Keras saves a frozen backbone).
  const json = JSON.parse(readFileSync(BASE_MODEL, 'utf8'));
  for (const layer of json.modelTopology.model_config?.config.layers ?? json.modelTopology.config.layers) {
    if (SAVED_FROZEN.includes(layer.config.name)) layer.config.trainable = false;
  }
  base = join(dir, 'model.json');
  writeFileSync(base, JSON.stringify(json));
  copyFileSync(join(BASE_MODEL, '..', 'weights.bin'), join(dir, 'weights.bin'));
});

after(() => rmSync(dir, { recursive: true, force: true }));

const head = `head:
  - { type: dense, units: 16, activation: relu }
  - { type: dense, units: 5, activation: softmax }`;

function spec(name: string, rest: string): string {
  return writeSmallSpec(dir, { name, model: `base_model:\n  source: ${JSON.stringify(base)}\n  cut: flatten\n${head}\n${rest}`, sweep: '  training.learning_rate: [0.01]' });
}

test('no freeze over a base saved with frozen layers: validate passes and warns at base_model.source, naming the layers and the fix', () => {
  const file = spec('nofreeze', '');
  const r = tunespec(['validate', file]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, `${file}: ok (1 variant)\n`);
  assert.equal(
    r.stderr,
    `${file}:3:11: warning: base_model.source: the base model was saved with 4 layers not trainable ("conv1", "bn1", "conv2" and 1 more), ` +
      'but with no freeze, tunespec trains them: tunespec follows freeze, not the saved flags; to keep them frozen, add - { from: 0, to: "bn2" } to freeze\n',
  );
});

test('a freeze that covers the saved-frozen layers: no warning', () => {
  const file = spec('covered', 'freeze:\n  - { from: 0, to: bn2 }');
  const r = tunespec(['validate', file]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stderr, '');
});

test('plan warns too, then prints the layers as they will train', () => {
  const file = spec('plan', 'freeze:\n  - { match: "^conv" }');
  const r = tunespec(['plan', file]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(
    r.stderr,
    `${file}:9:3: warning: freeze: the base model was saved with 2 layers not trainable ("bn1", "bn2"), ` +
      'but freeze leaves them trainable: tunespec follows freeze, not the saved flags; to keep them frozen, add - { from: 0, to: "bn2" } to freeze\n',
  );
  assert.match(r.stdout, /\bbn1\b.*\btrainable\b/);
});

test('a freeze that leaves no weight of the new head trainable is an error at the range that froze it', () => {
  const file = spec('headfrozen', 'freeze:\n  - { from: 0, to: conv3 }\n  - { match: "^head_" }');
  const r = tunespec(['validate', file]);
  assert.equal(r.code, 1);
  assert.equal(r.stdout, '');
  assert.equal(
    r.stderr,
    `${file}:10:5: freeze.1: freezes every layer of the new head that has weights ("head_0_dense", "head_1_dense"); ` +
      'the head starts from random weights, so frozen it cannot learn: leave at least its output layer trainable\n',
  );
});
