// Text specs on an image base through the real CLI: validate must still read the text data and
// report its problems at their lines, and run must refuse before anything is written. Text on a
// Hugging Face encoder, trained end to end, is test/cli/text-run.test.ts.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BASE_MODEL, tempDir, tunespec } from '../helpers/cli.ts';

const dir = tempDir('tunespec-text-');
after(() => rmSync(dir, { recursive: true, force: true }));

function textSpec(name: string, data: string): string {
  const file = join(dir, `${name}.yaml`);
  writeFileSync(
    file,
    `name: ${name}
base_model:
  source: ${JSON.stringify(BASE_MODEL)}
  cut: flatten
head:
  - { type: dense, units: 2, activation: softmax }
freeze:
  - { from: 0, to: flatten }
data:
${data}
training:
  epochs: 1
  learning_rate: 0.001
sweep:
  training.learning_rate: [0.001, 0.0001]
`,
  );
  return file;
}

const BASE_ISSUE =
  '3:11: base_model.source: data.format text needs a text encoder base (a Hugging Face model folder with tokenizer.json); this base is a TensorFlow.js model, which takes image or numeric input';

test('validate reads a JSONL text file and points at its malformed line', () => {
  writeFileSync(join(dir, 'reviews.jsonl'), '{"text": "good", "label": "pos"}\n{"text": "bad", "label": "neg"}\n{"text": "odd" "label": "neg"}\n');
  const spec = textSpec('jsonl', '  format: text\n  path: reviews.jsonl\n  max_length: 16');
  const r = tunespec(['validate', spec], dir);
  assert.equal(r.code, 1);
  assert.equal(r.stdout, '');
  const lines = r.stderr.trim().split('\n');
  assert.equal(lines.length, 2, r.stderr);
  assert.equal(lines[0], `${spec}:${BASE_ISSUE}`);
  assert.match(lines[1]!, new RegExp(`^${spec}:10:3: data: reviews\\.jsonl:3: not a JSON object: `));
});

test('validate counts a text file\'s classes for the head, after the class subset', () => {
  writeFileSync(join(dir, 'three.tsv'), 'text\tlabel\nfine\ta\nfair\tb\nfoul\tc\n');
  const all = tunespec(['validate', textSpec('three', '  format: text\n  path: three.tsv')], dir);
  assert.match(all.stderr, /6:27: head\.0\.units: the output layer has 2 units but the data has 3 classes/);
  const two = tunespec(['validate', textSpec('two', '  format: text\n  path: three.tsv\n  classes: [a, c]')], dir);
  assert.doesNotMatch(two.stderr, /units/);
  assert.equal(two.stderr.trim().split('\n').length, 1, two.stderr);
});

test('run refuses a text spec with the validation message and writes no run', () => {
  writeFileSync(join(dir, 'ok.csv'), 'text,label\n"good, really",pos\nbad,neg\n');
  const spec = textSpec('refused', '  format: text\n  path: ok.csv');
  const runs = join(dir, 'runs');
  const r = tunespec(['run', spec, '--runs-dir', runs], dir);
  assert.equal(r.code, 1);
  assert.equal(r.stderr.trim(), `${spec}:${BASE_ISSUE}`);
  assert.equal(existsSync(runs), false);
});
