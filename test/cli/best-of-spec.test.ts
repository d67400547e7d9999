import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir, tunespec } from '../helpers/cli.ts';

// `best` needs only the spec's name and objective: its base model and data are not read (they may
// live on another machine, or be large), but the spec itself is still checked and located.

const SPEC = `name: elsewhere
base_model: { source: ./no-such-model/model.json, cut: flatten }
data: { format: idx, images: ./no-such-images.gz, labels: ./no-such-labels.gz }
head: [{ type: dense, units: 5, activation: softmax }]
training: { epochs: 1, batch_size: 8, learning_rate: 0.001 }
`;

test('predict and evaluate best read the spec, not its base model and data', () => {
  const dir = tempDir();
  writeFileSync(join(dir, 'spec.yaml'), SPEC);
  for (const args of [
    ['predict', 'best', 'x.png', '--spec', 'spec.yaml'],
    ['evaluate', 'best', 'x.csv', '--spec', 'spec.yaml'],
  ]) {
    const r = tunespec([...args, '--runs-dir', 'runs'], dir);
    assert.equal(r.code, 1, r.stderr);
    assert.equal(r.stderr.trim(), `no completed variant of elsewhere in ${join(dir, 'runs')}: run the sweep first`);
  }
});

test('best of an invalid spec is a located spec error', () => {
  const dir = tempDir();
  writeFileSync(join(dir, 'spec.yaml'), SPEC.replace('epochs: 1', 'epochs: 0'));
  const r = tunespec(['predict', 'best', 'x.png', '--spec', 'spec.yaml', '--runs-dir', 'runs'], dir);
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stderr, /^spec\.yaml:5:21: training\.epochs: must be >= 1$/m);
});
