// The sampler against its definition: draws follow the softmax of logits / temperature, restricted
// to the top k, then to the smallest nucleus of mass p, renormalised; temperature 0 is argmax.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { argMax, tokenChooser } from '../../src/model/families/llama/sample.ts';

const logits = new Float32Array([1.0, 3.0, 2.5, -1.0, 0.2, 3.0]);

function softmax(xs: number[]): number[] {
  const m = Math.max(...xs);
  const e = xs.map((x) => Math.exp(x - m));
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((x) => x / s);
}

/** Frequencies of each token over n seeded draws. */
function frequencies(choose: (l: Float32Array) => number, n: number): number[] {
  const counts = new Array(logits.length).fill(0);
  for (let i = 0; i < n; i++) counts[choose(logits)]++;
  return counts.map((c) => c / n);
}

const close = (got: number[], want: number[], tol: number, what: string) =>
  got.forEach((g, i) => assert.ok(Math.abs(g - want[i]) < tol, `${what}: token ${i} drawn ${g.toFixed(4)}, expected ${want[i].toFixed(4)}`));

test('temperature 0 is argmax, the first of equal maxima as tf.argMax picks it', () => {
  assert.equal(argMax(logits), 1);
  assert.equal(tokenChooser({ temperature: 0, seed: 3 })(logits), 1);
  assert.equal(tokenChooser({ temperature: 1, topK: 1, seed: 3 })(logits), 1);
});

test('draws follow softmax(logits / T), within top-k and top-p, renormalised', () => {
  const n = 40_000;
  const all = [...logits];
  close(frequencies(tokenChooser({ temperature: 1, seed: 1 }), n), softmax(all), 0.01, 'T=1');
  close(frequencies(tokenChooser({ temperature: 0.5, seed: 2 }), n), softmax(all.map((x) => x / 0.5)), 0.01, 'T=0.5');
  // Top 3: tokens 1 and 5 (3.0, tie kept in index order) and 2 (2.5).
  const top3 = softmax([3.0, 2.5, 3.0]);
  close(frequencies(tokenChooser({ temperature: 1, topK: 3, seed: 3 }), n), [0, top3[0], top3[1], 0, 0, top3[2]], 0.01, 'top_k=3');
  // Probabilities sorted: 1, 5 (≈0.33 each), 2 (≈0.20), …: a nucleus of 0.6 needs tokens 1 and 5 only.
  const p = softmax(all);
  assert.ok(p[1] + p[5] >= 0.6 && p[1] < 0.6);
  close(frequencies(tokenChooser({ temperature: 1, topP: 0.6, seed: 4 }), n), [0, 0.5, 0, 0, 0, 0.5], 0.01, 'top_p=0.6');
});

test('the same seed draws the same tokens; bad settings are refused by name', () => {
  const draw = (seed: number) => {
    const c = tokenChooser({ temperature: 1, seed });
    return Array.from({ length: 50 }, () => c(logits));
  };
  assert.deepEqual(draw(9), draw(9));
  assert.notDeepEqual(draw(9), draw(10));
  assert.throws(() => tokenChooser({ temperature: -1 }), { message: 'temperature must be a number ≥ 0; got -1' });
  assert.throws(() => tokenChooser({ temperature: 1, topP: 0 }), { message: 'top_p must be in (0, 1]; got 0' });
  assert.throws(() => tokenChooser({ temperature: 1, topK: 1.5 }), { message: 'top_k must be an integer ≥ 0; got 1.5' });
});
