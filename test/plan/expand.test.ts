// expandGrid: a spec's sweep turned into variants. Pure (no files are read), so the raw spec here
// points at files that need not exist.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { expandGrid } from '../../src/plan/expand.ts';
import { setAtPath } from '../../src/spec/sweep.ts';
import { checkStructure } from '../../src/spec/structure.ts';
import { dottedToPath } from '../../src/spec/parse.ts';
import { variantIdentity } from '../../src/spec/derived.ts';
import { canonicalJson, shortHash } from '../../src/plan/canonical.ts';

type Raw = Record<string, unknown>;

/** A structurally valid raw spec (as YAML parsing gives it), with optional changes on top. */
function spec(changes: Raw = {}): Raw {
  return {
    name: 'expand',
    base_model: { source: './model.json', cut: 'flatten' },
    head: [
      { type: 'dense', units: 64, activation: 'relu' },
      { type: 'dropout', rate: 0.3 },
      { type: 'dense', units: 5, activation: 'softmax' },
    ],
    freeze: [{ from: 0, to: 'flatten' }],
    data: { format: 'idx', images: 'images.gz', labels: 'labels.gz', classes: [5, 6, 7, 8, 9] },
    training: { epochs: 2, batch_size: 32, learning_rate: 0.001 },
    ...changes,
  };
}

/** The same object with its keys in reverse order, at every depth (lists keep their order). */
function reversedKeys<T>(value: T): T {
  if (Array.isArray(value)) return value.map(reversedKeys) as T;
  if (value && typeof value === 'object') {
    return Object.fromEntries(
      Object.keys(value)
        .reverse()
        .map((k) => [k, reversedKeys((value as Raw)[k])]),
    ) as T;
  }
  return value;
}

const DIGEST = 'a'.repeat(64);

test('a spec without sweep is one variant labelled base', () => {
  for (const raw of [spec(), spec({ sweep: {} })]) {
    const plan = expandGrid(raw, DIGEST);
    assert.equal(plan.variants.length, 1);
    const [v] = plan.variants;
    assert.equal(v.index, 0);
    assert.equal(v.label, 'base');
    assert.deepEqual(v.overrides, {});
    assert.match(v.id, /^[0-9a-f]{12}$/);
    assert.match(plan.sweepId, /^[0-9a-f]{12}$/);
  }
  assert.equal(expandGrid(spec(), DIGEST).variants[0].id, expandGrid(spec({ sweep: {} }), DIGEST).variants[0].id);
});

test('variants carry the spec with defaults applied', () => {
  const [v] = expandGrid(spec(), DIGEST).variants;
  assert.equal(v.spec.training.optimizer, 'adam');
  assert.deepEqual(v.spec.training.schedule, { type: 'constant' });
  assert.equal(v.spec.validation.fraction, 0.2);
  assert.deepEqual(v.spec.freeze, [{ from: 0, to: 'flatten' }]);
  assert.equal(v.spec.head[0].type === 'dense' && v.spec.head[0].l2, 0);
});

test('the grid is the cartesian product, in order, the last sweep key varying fastest', () => {
  const plan = expandGrid(
    spec({ sweep: { 'training.learning_rate': [0.01, 0.001], 'training.batch_size': [16, 32, 64] } }),
    DIGEST,
  );
  assert.equal(plan.variants.length, 6);
  assert.deepEqual(
    plan.variants.map((v) => v.index),
    [0, 1, 2, 3, 4, 5],
  );
  assert.deepEqual(
    plan.variants.map((v) => v.label),
    ['lr=0.01,bs=16', 'lr=0.01,bs=32', 'lr=0.01,bs=64', 'lr=0.001,bs=16', 'lr=0.001,bs=32', 'lr=0.001,bs=64'],
  );
  assert.deepEqual(plan.variants[4].overrides, { 'training.learning_rate': 0.001, 'training.batch_size': 32 });
  for (const v of plan.variants) {
    assert.equal(v.spec.training.learning_rate, v.overrides['training.learning_rate']);
    assert.equal(v.spec.training.batch_size, v.overrides['training.batch_size']);
  }
});

test('the number of variants is the product of the list lengths', () => {
  const plan = expandGrid(
    spec({
      sweep: {
        'training.learning_rate': [0.1, 0.01, 0.001],
        'training.optimizer': ['adam', 'sgd'],
        'head.1.rate': [0.1, 0.2, 0.3, 0.4],
        'training.seed': [1],
      },
    }),
    DIGEST,
  );
  assert.equal(plan.variants.length, 3 * 2 * 4 * 1);
  assert.equal(new Set(plan.variants.map((v) => v.id)).size, 24, 'every variant has its own id');
  assert.equal(plan.variants[0].label, 'lr=0.1,opt=adam,head.1.rate=0.1,training.seed=1');
  assert.equal(plan.variants[23].label, 'lr=0.001,opt=sgd,head.1.rate=0.4,training.seed=1');
});

function assertSamePlan(a: ReturnType<typeof expandGrid>, b: ReturnType<typeof expandGrid>): void {
  assert.deepEqual(
    a.variants.map((v) => v.id),
    b.variants.map((v) => v.id),
  );
  assert.equal(a.sweepId, b.sweepId);
}

test('ids and the sweep id are stable across calls', () => {
  const raw = spec({ sweep: { 'training.learning_rate': [0.01, 0.001] } });
  assertSamePlan(expandGrid(raw, DIGEST), expandGrid(structuredClone(raw), DIGEST));
});

test('expandGrid leaves the raw spec as it was', () => {
  const raw = spec({ sweep: { 'training.learning_rate': [0.01, 0.001], 'training.schedule': [{ type: 'step' }] } });
  const copy = structuredClone(raw);
  expandGrid(raw, DIGEST);
  assert.deepEqual(raw, copy);
  const plain = spec();
  const plainCopy = structuredClone(plain);
  expandGrid(plain, DIGEST);
  assert.deepEqual(plain, plainCopy);
});

test('ids do not depend on the order of keys in the YAML mappings', () => {
  const raw = spec({ sweep: { 'training.learning_rate': [0.01, 0.001] } });
  assertSamePlan(expandGrid(raw, DIGEST), expandGrid(reversedKeys(raw), DIGEST));
});

test('the same combination has the same id whatever the order of the sweep keys', () => {
  const ab = expandGrid(spec({ sweep: { 'training.learning_rate': [0.01, 0.001], 'training.batch_size': [16, 32] } }), DIGEST);
  const ba = expandGrid(spec({ sweep: { 'training.batch_size': [16, 32], 'training.learning_rate': [0.01, 0.001] } }), DIGEST);
  const key = (o: Record<string, unknown>) => `${o['training.learning_rate']}/${o['training.batch_size']}`;
  const idsAb = new Map(ab.variants.map((v) => [key(v.overrides), v.id]));
  const idsBa = new Map(ba.variants.map((v) => [key(v.overrides), v.id]));
  assert.deepEqual(new Map([...idsBa].sort()), new Map([...idsAb].sort()));
  assert.deepEqual(
    ba.variants.map((v) => v.label),
    ['bs=16,lr=0.01', 'bs=16,lr=0.001', 'bs=32,lr=0.01', 'bs=32,lr=0.001'],
  );
});

test('ids ignore the cosmetic fields: name, description, tags', () => {
  const sweep = { 'training.learning_rate': [0.01, 0.001] };
  const ids = (raw: Raw) => expandGrid(raw, DIGEST).variants.map((v) => v.id);
  const base = ids(spec({ sweep }));
  assert.deepEqual(ids(spec({ sweep, description: 'a longer story' })), base);
  assert.deepEqual(ids(spec({ sweep, tags: ['x', 'y'] })), base);
  assert.deepEqual(ids(spec({ sweep, name: 'renamed' })), base);
});

test('ids change with the inputs digest', () => {
  const raw = spec({ sweep: { 'training.learning_rate': [0.01, 0.001] } });
  const a = expandGrid(raw, DIGEST);
  const b = expandGrid(raw, 'b'.repeat(64));
  const c = expandGrid(raw, '');
  a.variants.forEach((v, i) => {
    assert.notEqual(v.id, b.variants[i].id);
    assert.notEqual(v.id, c.variants[i].id);
  });
  assert.notEqual(a.sweepId, b.sweepId);
});

test('ids change with any swept value and with any other field', () => {
  const idOf = (raw: Raw) => expandGrid(raw, DIGEST).variants.map((v) => v.id);
  const base = idOf(spec({ sweep: { 'training.learning_rate': [0.01, 0.001] } }));
  assert.notEqual(base[0], base[1]);
  // one swept value changed: only that variant's id changes
  const changed = idOf(spec({ sweep: { 'training.learning_rate': [0.01, 0.002] } }));
  assert.equal(changed[0], base[0]);
  assert.notEqual(changed[1], base[1]);
  // an unswept field changed: every id changes
  const otherSeed = idOf(spec({ training: { epochs: 2, batch_size: 32, learning_rate: 0.001, seed: 1 }, sweep: { 'training.learning_rate': [0.01, 0.001] } }));
  otherSeed.forEach((id, i) => assert.notEqual(id, base[i]));
  // a swept value equal to what the spec already says gives the unswept variant's id
  const unswept = idOf(spec());
  const sweptToSame = idOf(spec({ sweep: { 'training.learning_rate': [0.001] } }));
  assert.deepEqual(sweptToSame, unswept);
});

test('a value given explicitly and the same value by default have the same id', () => {
  const explicit = spec();
  (explicit.training as Raw).optimizer = 'adam';
  (explicit.training as Raw).schedule = { type: 'constant' };
  assert.equal(expandGrid(explicit, DIGEST).variants[0].id, expandGrid(spec(), DIGEST).variants[0].id);
});

test('defaults apply inside swept objects', () => {
  const plan = expandGrid(
    spec({ sweep: { 'training.schedule': [{ type: 'step' }, { type: 'step', every: 2 }, { type: 'cosine' }, { type: 'warmup' }] } }),
    DIGEST,
  );
  assert.deepEqual(
    plan.variants.map((v) => v.spec.training.schedule),
    [
      { type: 'step', every: 1, factor: 0.5 },
      { type: 'step', every: 2, factor: 0.5 },
      { type: 'cosine', min_learning_rate: 0 },
      { type: 'warmup', epochs: 1 },
    ],
  );
  // the override is what the user wrote, not the defaulted object
  assert.deepEqual(plan.variants[0].overrides, { 'training.schedule': { type: 'step' } });
  assert.equal(plan.variants[0].label, 'training.schedule={"type":"step"}');
  assert.equal(plan.variants[1].label, 'training.schedule={"every":2,"type":"step"}');
  // {type: step} and {type: step, every: 1, factor: 0.5} are the same schedule
  const spelled = expandGrid(spec({ sweep: { 'training.schedule': [{ type: 'step', every: 1, factor: 0.5 }] } }), DIGEST);
  assert.equal(spelled.variants[0].id, plan.variants[0].id);
});

test('defaults apply inside swept head layers', () => {
  const plan = expandGrid(spec({ sweep: { 'head.0': [{ type: 'dense', units: 32 }, { type: 'batch_norm' }] } }), DIGEST);
  assert.deepEqual(plan.variants[0].spec.head[0], { type: 'dense', units: 32, activation: 'linear', l2: 0 });
  assert.deepEqual(plan.variants[1].spec.head[0], { type: 'batch_norm', momentum: 0.99, epsilon: 0.001 });
  assert.deepEqual(plan.variants[1].spec.head[1], { type: 'dropout', rate: 0.3 });
});

test('labels: short names for common training fields, the dotted path otherwise', () => {
  const plan = expandGrid(
    spec({
      training: { epochs: 2, learning_rate: 0.001, optimizer: 'sgd' },
      sweep: {
        'training.learning_rate': [0.001],
        'training.batch_size': [32],
        'training.optimizer': ['sgd'],
        'training.momentum': [0.9],
        'head.1.rate': [0.5],
        'data.classes': [[5, 6, 7, 8, 9]],
      },
    }),
    DIGEST,
  );
  assert.equal(plan.variants[0].label, 'lr=0.001,bs=32,opt=sgd,mom=0.9,head.1.rate=0.5,data.classes=[5,6,7,8,9]');
});

test('the sweep id changes when the set of variants changes', () => {
  const a = expandGrid(spec({ sweep: { 'training.learning_rate': [0.01, 0.001] } }), DIGEST);
  const b = expandGrid(spec({ sweep: { 'training.learning_rate': [0.01, 0.001, 0.0001] } }), DIGEST);
  const c = expandGrid(spec({ sweep: { 'training.learning_rate': [0.001, 0.01] } }), DIGEST);
  assert.notEqual(a.sweepId, b.sweepId);
  assert.deepEqual(
    new Set(c.variants.map((v) => v.id)),
    new Set(a.variants.map((v) => v.id)),
  );
});

test('every variant and its id are what re-validating its combination from the raw spec gives, for scalar and object sweeps alike', () => {
  const sweeps: Record<string, unknown[]>[] = [
    // Scalars on independent paths: variants after the first are built from it, not re-validated.
    { 'training.learning_rate': [0.1, 0.01], 'training.batch_size': [8, 16, 32], 'training.seed': [1, 2], 'training.epochs': [1, 3] },
    // An object value and a path through a discriminated list item: every variant re-validated.
    { 'training.learning_rate': [0.1, 0.01], 'training.schedule': [{ type: 'step', factor: 0.5 }, { type: 'cosine' }] },
    { 'head.1.rate': [0.1, 0.5], 'training.optimizer': ['adam', 'sgd'] },
  ];
  for (const sweep of sweeps) {
    const raw = spec({ sweep });
    const plan = expandGrid(raw, DIGEST);
    const keys = Object.keys(sweep);
    assert.equal(plan.variants.length, keys.reduce((n, k) => n * sweep[k].length, 1));
    for (const v of plan.variants) {
      let doc: unknown = spec();
      for (const k of keys) doc = setAtPath(doc, dottedToPath(k), v.overrides[k]);
      const { spec: expected } = checkStructure(doc);
      assert.deepEqual(v.spec, expected, `${v.label}`);
      // Scalar sweeps splice values into one template and hash its head once: the id is still the hash of the whole.
      assert.equal(v.id, shortHash(canonicalJson({ identity: variantIdentity(expected!), inputsDigest: DIGEST })), `${v.label}`);
    }
    assert.deepEqual(raw, spec({ sweep }), 'the raw spec is untouched');
  }
});
