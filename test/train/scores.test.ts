import { test } from 'node:test';
import assert from 'node:assert/strict';
import { classScores } from '../../src/train/scores.ts';

const close = (a: number, b: number): boolean => Math.abs(a - b) < 1e-12;

function assertScores(actual: ReturnType<typeof classScores>, expected: [number, number, number, number][]): void {
  assert.equal(actual.length, expected.length);
  actual.forEach((s, i) => {
    const [precision, recall, f1, support] = expected[i]!;
    assert.ok(close(s.precision, precision) && close(s.recall, recall) && close(s.f1, f1) && s.support === support, `class ${i}: ${JSON.stringify(s)}`);
  });
}

test('precision over columns, recall over rows, f1 their harmonic mean, support the row sum', () => {
  // confusion[true][predicted]
  const scores = classScores([
    [8, 2],
    [1, 9],
  ]);
  assertScores(scores, [
    [8 / 9, 8 / 10, (2 * (8 / 9) * 0.8) / (8 / 9 + 0.8), 10],
    [9 / 11, 9 / 10, (2 * (9 / 11) * 0.9) / (9 / 11 + 0.9), 10],
  ]);
});

test('a perfect classifier scores 1 everywhere', () => {
  assertScores(
    classScores([
      [3, 0, 0],
      [0, 4, 0],
      [0, 0, 5],
    ]),
    [
      [1, 1, 1, 3],
      [1, 1, 1, 4],
      [1, 1, 1, 5],
    ],
  );
});

test('a class never predicted has precision 0, not NaN (0/0 counts as 0, as scikit-learn zero_division=0)', () => {
  const scores = classScores([
    [5, 0, 1],
    [2, 0, 3], // class 1 is never predicted: its column is all zeros
    [0, 0, 4],
  ]);
  assert.equal(scores[1]!.precision, 0);
  assert.equal(scores[1]!.recall, 0);
  assert.equal(scores[1]!.f1, 0);
  assert.equal(scores[1]!.support, 5);
  assertScores([scores[0]!, scores[2]!], [
    [5 / 7, 5 / 6, (2 * (5 / 7) * (5 / 6)) / (5 / 7 + 5 / 6), 6],
    [4 / 8, 1, (2 * 0.5 * 1) / 1.5, 4],
  ]);
});

test('a class with no examples has support 0 and recall 0; a wrong guess of it costs it precision', () => {
  const scores = classScores([
    [4, 1],
    [0, 0], // no example of class 1, yet it was predicted once
  ]);
  assertScores(scores, [
    [1, 4 / 5, (2 * 0.8) / 1.8, 5],
    [0, 0, 0, 0],
  ]);
  for (const s of scores) for (const v of Object.values(s)) assert.ok(Number.isFinite(v));
});

test('an empty matrix gives no scores', () => {
  assert.deepEqual(classScores([]), []);
});
