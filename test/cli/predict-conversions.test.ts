// predict fits inputs to the model the way training did (resize, channels), and says so: one
// stderr line per distinct lossy change, with how many inputs had it; stdout stays the table/JSON.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pngjs from 'pngjs';
import { BASE_MODEL, tempDir, tunespec, writeSmallSpec } from '../helpers/cli.ts';

let dir: string;
let spec: string;

function png(width: number, height: number, rgb: (p: number) => [number, number, number]): Buffer {
  const image = new pngjs.PNG({ width, height });
  for (let p = 0; p < width * height; p++) image.data.set([...rgb(p), 255], 4 * p);
  return pngjs.PNG.sync.write(image);
}

before(() => {
  dir = tempDir('tunespec-predict-conv-');
  // Trained on 28×28 grey IDX images through a resize to the base's 28×28 input, so predict resizes other sizes too.
  spec = writeSmallSpec(dir, {
    name: 'conv',
    epochs: 1,
    sweep: '  training.learning_rate: [0.003]',
    extra: 'export: { onnx: false }',
    model: `base_model:
  source: ${JSON.stringify(BASE_MODEL)}
  cut: flatten
  preprocess: { resize: { height: 28, width: 28 } }
head:
  - { type: dense, units: 5, activation: softmax }
freeze:
  - { from: 0, to: flatten }`,
  });
  const r = tunespec(['run', spec, '--runs-dir', 'runs'], dir);
  assert.equal(r.code, 0, r.stderr);
  mkdirSync(join(dir, 'in'));
  writeFileSync(join(dir, 'in', 'a-colour-64x48.png'), png(64, 48, (p) => [p % 256, 40, 200]));
  writeFileSync(join(dir, 'in', 'b-colour-64x48.png'), png(64, 48, (p) => [200, p % 256, 40]));
  writeFileSync(join(dir, 'in', 'c-grey-64x48.png'), png(64, 48, (p) => [p % 256, p % 256, p % 256]));
  writeFileSync(join(dir, 'in', 'd-grey-28x28.png'), png(28, 28, (p) => [p % 256, p % 256, p % 256]));
});

after(() => rmSync(dir, { recursive: true, force: true }));

test('predict says what it did to inputs that did not fit: one line per distinct conversion, counted', () => {
  const r = tunespec(['predict', 'best', join('in'), '--spec', spec, '--runs-dir', 'runs', '--json'], dir);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(
    r.stderr,
    'predict: 2 inputs resized 64×48 → 28×28 (width×height), RGB → grey\n' + 'predict: 1 input resized 64×48 → 28×28 (width×height)\n',
  );
  assert.equal(JSON.parse(r.stdout).predictions.length, 4);
});

test('inputs that already fit: nothing on stderr', () => {
  const r = tunespec(['predict', 'best', join('in', 'd-grey-28x28.png'), '--spec', spec, '--runs-dir', 'runs'], dir);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stderr, '');
});
