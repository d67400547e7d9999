// Where an issue lands in the file: parseSpecText keeps the YAML document so that every issue
// found on the plain value (by checkStructure) can be located by its path, line and column.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { dottedToPath, locate, parseSpecText, pointerToPath, type PathSegment } from '../../src/spec/parse.ts';
import { checkStructure, type PathIssue } from '../../src/spec/structure.ts';

const SPEC = `name: locations
base_model:
  source: ./model.json
  cut: flatten
head:
  - type: dense
    units: 64
    activation: relu
  - { type: dropout, rate: 0.3 }
  - type: dense
    units: 5
    activation: softmax
freeze:
  - { from: 0, to: flatten }
  - { match: "^conv" }
data:
  format: idx
  images: images.gz
  labels: labels.gz
  classes: [5, 6, 7, 8, 9]
training:
  epochs: 2
  learning_rate: 0.001
  schedule:
    type: step
    every: 2
sweep:
  training.learning_rate: [0.1, 0.01]
`;

/** SPEC with the line that starts with `from` replaced by `to` (which may be several lines). */
function edit(from: string, to: string): string {
  const lines = SPEC.split('\n');
  const i = lines.findIndex((l) => l.startsWith(from));
  assert.ok(i >= 0, `no line starts with ${JSON.stringify(from)}`);
  lines.splice(i, 1, ...to.split('\n'));
  return lines.join('\n');
}

/** The issues of a text, each with its position: what the CLI prints, minus the file name. */
/** SPEC without the line that starts with `from`. */
function drop(from: string): string {
  return SPEC.split('\n')
    .filter((l) => !l.startsWith(from))
    .join('\n');
}

function located(text: string): { line: number; col: number; message: string; issue: PathIssue }[] {
  const parsed = parseSpecText(text, 'spec.yaml');
  assert.deepEqual(parsed.issues, [], 'the text must be valid YAML');
  const { issues } = checkStructure(parsed.value);
  return issues.map((issue) => ({ ...locate(parsed.source, issue.path, issue.key), message: issue.message, issue }));
}

function only(text: string) {
  const all = located(text);
  assert.equal(all.length, 1, all.map((i) => i.message).join('\n'));
  return all[0];
}

function at(text: string, path: PathSegment[], key = false) {
  return locate(parseSpecText(text, 'spec.yaml').source, path, key);
}

test('the base text is a valid spec', () => {
  assert.deepEqual(located(SPEC), []);
});

test('locate finds values in block mappings, block lists and flow collections', () => {
  assert.deepEqual(at(SPEC, ['name']), { line: 1, col: 7 });
  assert.deepEqual(at(SPEC, ['base_model', 'cut']), { line: 4, col: 8 });
  assert.deepEqual(at(SPEC, ['head', 0]), { line: 6, col: 5 });
  assert.deepEqual(at(SPEC, ['head', 2, 'units']), { line: 11, col: 12 });
  assert.deepEqual(at(SPEC, ['head', 1, 'rate']), { line: 9, col: 28 });
  assert.deepEqual(at(SPEC, ['freeze', 0, 'to']), { line: 14, col: 20 });
  assert.deepEqual(at(SPEC, ['data', 'classes', 3]), { line: 20, col: 22 });
  assert.deepEqual(at(SPEC, ['training', 'schedule', 'every']), { line: 26, col: 12 });
  assert.deepEqual(at(SPEC, ['sweep', 'training.learning_rate', 1]), { line: 28, col: 33 });
});

test('with key, locate points at the key rather than the value', () => {
  assert.deepEqual(at(SPEC, ['training', 'epochs'], true), { line: 22, col: 3 });
  assert.deepEqual(at(SPEC, ['head', 1, 'rate'], true), { line: 9, col: 22 });
  assert.deepEqual(at(SPEC, ['sweep', 'training.learning_rate'], true), { line: 28, col: 3 });
});

test('a path that does not exist falls back to its deepest existing ancestor', () => {
  assert.deepEqual(at(SPEC, ['training', 'momentum']), at(SPEC, ['training']));
  assert.deepEqual(at(SPEC, ['training']), { line: 22, col: 3 });
  assert.deepEqual(at(SPEC, ['head', 7, 'units']), at(SPEC, ['head']));
  assert.deepEqual(at(SPEC, ['nothing', 'here']), { line: 1, col: 1 });
});

test('an error deep in a block list points at the value in the right item', () => {
  const i = only(edit('    units: 5', '    units: five'));
  assert.deepEqual(i.issue.path, ['head', 2, 'units']);
  assert.deepEqual([i.line, i.col], [11, 12]);
  assert.equal(i.message, 'head.2.units: must be an integer, got the string "five"');
});

test('an error in a flow mapping inside a list points at the value', () => {
  const i = only(edit('  - { type: dropout', '  - { type: dropout, rate: 1.5 }'));
  assert.deepEqual(i.issue.path, ['head', 1, 'rate']);
  assert.deepEqual([i.line, i.col], [9, 28]);
  assert.match(i.message, /^head\.1\.rate: /);
});

test('an error in a flow list element points at that element', () => {
  const i = only(edit('  classes:', '  classes: [5, 6, 7, true, 9]'));
  assert.deepEqual(i.issue.path, ['data', 'classes', 3]);
  assert.deepEqual([i.line, i.col], [20, 22]);
});

test('an error three mappings deep points at the value', () => {
  const i = only(edit('    every: 2', '    every: 0'));
  assert.deepEqual(i.issue.path, ['training', 'schedule', 'every']);
  assert.deepEqual([i.line, i.col], [26, 12]);
  assert.equal(i.message, 'training.schedule.every: must be >= 1');
});

test('an unknown key points at the key, with a did-you-mean hint', () => {
  const i = only(edit('    activation: relu', '    activaton: relu'));
  assert.equal(i.issue.key, true);
  assert.deepEqual(i.issue.path, ['head', 0, 'activaton']);
  assert.deepEqual([i.line, i.col], [8, 5]);
  assert.match(i.message, /^head\.0: unknown property "activaton" \(did you mean "activation"\?\); allowed: /);
});

test('an unknown key in a flow mapping points at the key', () => {
  const j = only(edit('  - { type: dropout', '  - { type: dropout, rat: 0.3 }'));
  assert.deepEqual(j.issue.path, ['head', 1, 'rat']);
  assert.deepEqual([j.line, j.col], [9, 22]);
});

test('an unknown top-level key points at the key at column 1', () => {
  const i = only(edit('sweep:', 'sweeep:'));
  assert.deepEqual([i.line, i.col], [27, 1]);
  assert.match(i.message, /^spec: unknown property "sweeep" \(did you mean "sweep"\?\)/);
});

test('a missing required property points at its parent', () => {
  // the parent's value: the training mapping starts where its first remaining key is
  const i = only(drop('  epochs: 2'));
  assert.deepEqual(i.issue.path, ['training']);
  assert.equal(i.message, 'training: missing required property "epochs"');
  assert.deepEqual([i.line, i.col], [22, 3]);

  const j = only(drop('    units: 5'));
  assert.deepEqual(j.issue.path, ['head', 2]);
  assert.equal(j.message, 'head.2: missing required property "units"');
  assert.deepEqual([j.line, j.col], [10, 5]);

  const k = only(drop('name: locations'));
  assert.deepEqual(k.issue.path, []);
  assert.equal(k.message, 'spec: missing required property "name"');
  assert.deepEqual([k.line, k.col], [1, 1]);
});

test('several issues in one text are all reported and each is located', () => {
  const text = edit('  epochs: 2', '  epochs: 0\n  optimizer: adamw').replace('name: locations', 'name: "bad name"');
  const all = located(text).sort((a, b) => a.line - b.line || a.col - b.col);
  assert.deepEqual(
    all.map((i) => [i.line, i.col, i.message.split(':')[0]]),
    [
      [1, 7, 'name'],
      [22, 11, 'training.epochs'],
      [23, 14, 'training.optimizer'],
    ],
  );
});

test('YAML syntax errors come back located, with no value', () => {
  const parsed = parseSpecText(edit('  epochs: 2', '  epochs: 2\n  epochs: 3'), 'dir/spec.yaml');
  assert.equal(parsed.value, undefined);
  assert.equal(parsed.issues.length, 1);
  assert.deepEqual(parsed.issues[0], { file: 'dir/spec.yaml', line: 23, col: 3, message: 'YAML: Map keys must be unique' });

  const tabs = parseSpecText('name: x\ntraining:\n\tepochs: 2\n', 'spec.yaml');
  assert.equal(tabs.value, undefined);
  assert.deepEqual(
    tabs.issues.map((i) => [i.line, i.col]),
    [[3, 1]],
  );
  assert.match(tabs.issues[0].message, /^YAML: .*[Tt]ab/);
});

test('parseSpecText keeps one-line messages: no excerpt, no repeated position', () => {
  const parsed = parseSpecText('name: "open\n', 'spec.yaml');
  assert.ok(parsed.issues.length >= 1);
  for (const i of parsed.issues) {
    assert.ok(!i.message.includes('\n'), i.message);
    assert.doesNotMatch(i.message, /at line \d+, column \d+/);
  }
});

test('pointerToPath and dottedToPath turn numeric parts into indexes', () => {
  assert.deepEqual(pointerToPath(''), []);
  assert.deepEqual(pointerToPath('/head/2/units'), ['head', 2, 'units']);
  assert.deepEqual(pointerToPath('/sweep/a~1b~0c'), ['sweep', 'a/b~c']);
  assert.deepEqual(dottedToPath('head.1.rate'), ['head', 1, 'rate']);
  assert.deepEqual(dottedToPath('training.learning_rate'), ['training', 'learning_rate']);
});

test('duplicate keys are found in every mapping, block or flow, nested or not, each at its second occurrence', () => {
  const parsed = parseSpecText('name: x\nhead:\n  - { type: dense, type: dropout }\ntraining:\n  epochs: 1\n  nested: { a: 1, b: { c: 1, c: 2 } }\n  epochs: 2\n', 'spec.yaml');
  assert.equal(parsed.value, undefined);
  assert.deepEqual(
    parsed.issues.map((i) => [i.line, i.col, i.message]),
    [
      [3, 20, 'YAML: Map keys must be unique'],
      [6, 30, 'YAML: Map keys must be unique'],
      [7, 3, 'YAML: Map keys must be unique'],
    ],
  );
  // Keys equal as strings but not as values are different keys, as YAML has them.
  assert.deepEqual(parseSpecText('a: 1\n"1": 2\n1: 3\n', 'spec.yaml').issues, []);
});
