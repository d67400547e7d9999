// loadSpec checks variants that differ only in UNCHECKED_FIELDS once; this holds only while no
// semantic check or warning reads those fields, which is what this test makes sure of.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkSemantics, checkWarnings, UNCHECKED_FIELDS, type SpecContext } from '../../src/spec/semantic.ts';
import { checkStructure } from '../../src/spec/structure.ts';
import type { Experiment } from '../../src/spec/types.ts';

/** `value` with every read of an unchecked field (a dotted path below `at`) throwing. */
function guarded<T>(value: T, at: string[] = []): T {
  if (!value || typeof value !== 'object') return value;
  return new Proxy(value as object, {
    get(target, key, receiver) {
      const path = [...at, String(key)].join('.');
      if (UNCHECKED_FIELDS.has(path)) throw new Error(`a semantic check read ${path}`);
      return guarded(Reflect.get(target, key, receiver), [...at, String(key)]);
    },
  }) as T;
}

const layers = [{ name: 'conv1', params: 80, trainable: false }, { name: 'flatten' }];
const context = (baseFormat: 'tfjs' | 'onnx' | null): SpecContext => ({
  baseLayers: layers,
  baseFormat,
  builtLayers: (cut, s) => [...layers.slice(0, cut + 1), ...s.head.map((_, i) => ({ name: `head_${i}` }))],
  classCount: 5,
});

test('no semantic check or warning reads an unchecked field, on valid and invalid specs', () => {
  const specs = [
    { head: [{ type: 'dense', units: 5, activation: 'softmax' }], freeze: [{ from: 0, to: 'flatten' }] },
    // Each of these trips checks: every layer frozen, wrong class count, no softmax, decay on adam, warmup twice.
    {
      head: [{ type: 'dense', units: 3 }],
      freeze: [{ from: 0, to: 'head_0' }],
      extraTraining: { weight_decay: 0.1, schedule: { type: 'warmup_linear', warmup_steps: 5, warmup_fraction: 0.1 } },
    },
    { head: [{ type: 'pooling', mode: 'mean' }, { type: 'dense', units: 5, activation: 'softmax' }], freeze: [] },
  ];
  let findings = 0;
  for (const { head, freeze, extraTraining } of specs as { head: unknown[]; freeze: unknown[]; extraTraining?: object }[]) {
    const { spec, issues } = checkStructure({
      name: 'guard',
      base_model: { source: './model.json', cut: 'flatten' },
      head,
      freeze,
      data: { format: 'idx', images: 'i.gz', labels: 'l.gz', classes: [5, 6, 7, 8, 9], class_names: ['a', 'b'] },
      training: { epochs: 2, batch_size: 32, learning_rate: 0.001, seed: 3, ...extraTraining },
    });
    assert.deepEqual(issues, []);
    for (const format of ['tfjs', 'onnx', null] as const) {
      findings += checkSemantics(guarded(spec as Experiment), context(format)).length;
      findings += checkWarnings(guarded(spec as Experiment), context(format)).length;
    }
  }
  assert.ok(findings > 5, 'the specs trip checks, so the checks ran past their first lines');
});
