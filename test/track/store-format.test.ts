import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import AjvModule from 'ajv';
import { QUICKSTART_IMAGES, tempDir, tunespec, writeSmallSpec } from '../helpers/cli.ts';
import { STORE_SCHEMA_FILE, storeSchemaText } from '../../scripts/write_schema.ts';
import { readHistory, readStoredVariant } from '../../src/track/local-store.ts';
import { STORE_FORMAT } from '../../src/track/store-format.ts';
import { readRunStore } from '../../bench/lib/run-store.ts';
import { StoreError } from '../../src/errors.ts';

// One tiny sweep trained once; every test works on its own copy of the run store.
let work: string;
let spec: string;
let trained: string;

before(() => {
  work = tempDir();
  spec = writeSmallSpec(work, { name: 'store', epochs: 1, sweep: '  training.learning_rate: [0.01, 0.001]', extra: 'export: { onnx: false }' });
  trained = join(work, 'runs');
  const r = tunespec(['run', spec, '--runs-dir', trained]);
  assert.equal(r.code, 0, r.stderr);
});

interface Store {
  runs: string;
  sweep: string;
  variants: string[];
}

function copyStore(name: string): Store {
  const runs = join(work, name);
  cpSync(trained, runs, { recursive: true });
  const [sweep] = readdirSync(join(runs, 'store'));
  const dir = join(runs, 'store', sweep!);
  const variants = readdirSync(dir).filter((f) => /^[0-9a-f]{12}$/.test(f)).map((v) => join(dir, v));
  return { runs, sweep: dir, variants };
}

const readJson = (file: string): Record<string, unknown> => JSON.parse(readFileSync(file, 'utf8'));
const rewrite = (file: string, edit: (json: Record<string, unknown>) => void): void => {
  const json = readJson(file);
  edit(json);
  writeFileSync(file, JSON.stringify(json, null, 2));
};

test('the published run store schema is the one src/track/store-format.ts defines (npm run schema regenerates it)', () => {
  assert.equal(readFileSync(STORE_SCHEMA_FILE, 'utf8'), storeSchemaText());
});

test('a new store stamps its format on every record, and every file matches the published schema', () => {
  const Ajv = AjvModule.default ?? AjvModule;
  const ajv = new Ajv({ allErrors: true, allowUnionTypes: true });
  const schema = JSON.parse(readFileSync(STORE_SCHEMA_FILE, 'utf8'));
  ajv.addSchema(schema);
  const check = (kind: string, value: unknown): void => {
    const validate = ajv.getSchema(`${schema.$id}#/definitions/${kind}`)!;
    assert.ok(validate(value), `${kind}: ${ajv.errorsText(validate.errors)}`);
  };
  const { sweep, variants } = copyStore('stamped');
  const record = readJson(join(sweep, 'sweep.json'));
  assert.equal(record.format, STORE_FORMAT);
  check('sweep', record);
  assert.equal(variants.length, 2);
  for (const v of variants) {
    const status = readJson(join(v, 'status.json'));
    assert.equal(status.format, STORE_FORMAT);
    check('status', status);
    check('result', readJson(join(v, 'result.json')));
    check('params', readJson(join(v, 'params.json')));
    for (const line of readFileSync(join(v, 'metrics.jsonl'), 'utf8').trim().split('\n')) check('epoch', JSON.parse(line));
  }
});

test('a store written before the format was versioned (no format field) reads as it did: runs, predict and the bench see the same', () => {
  const current = copyStore('current');
  const old = copyStore('format-1');
  rewrite(join(old.sweep, 'sweep.json'), (j) => delete j.format);
  for (const v of old.variants) rewrite(join(v, 'status.json'), (j) => delete j.format);

  const listed = (s: Store): string => {
    const r = tunespec(['runs', spec, '--runs-dir', s.runs]);
    assert.equal(r.code, 0, r.stderr);
    return r.stdout.replaceAll(s.runs, '<runs>');
  };
  assert.equal(listed(old), listed(current));
  assert.match(listed(old), /best: /);

  const predicted = (s: Store): unknown => {
    const r = tunespec(['predict', 'best', QUICKSTART_IMAGES, '--spec', spec, '--runs-dir', s.runs, '--top', '1', '--json']);
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout);
    return { ...out, dir: out.dir.replace(s.runs, '<runs>') };
  };
  assert.deepEqual(predicted(old), predicted(current));
  assert.deepEqual(readRunStore(old.runs), readRunStore(current.runs));
});

test('a store from a newer tunespec is refused by every reader, naming the file and what to do', () => {
  const s = copyStore('format-3');
  const file = join(s.variants[0]!, 'status.json');
  rewrite(file, (j) => (j.format = STORE_FORMAT + 1));
  const message = `${file}: run store format ${STORE_FORMAT + 1}, written by a newer tunespec; this one reads formats 1 to ${STORE_FORMAT}: upgrade tunespec, or give this one a run store of its own (--runs-dir)\n`;
  for (const args of [['runs', spec], ['run', spec], ['predict', 'best', QUICKSTART_IMAGES, '--spec', spec]]) {
    const r = tunespec([...args, '--runs-dir', s.runs]);
    assert.equal(r.code, 1, args[0]);
    assert.equal(r.stderr, message, args[0]);
  }
  assert.throws(() => readRunStore(s.runs), (err: Error) => err instanceof StoreError && err.message === message.trimEnd());
});

test('a damaged record is an error naming its file, never an absent variant', () => {
  const s = copyStore('damaged');
  const status = join(s.variants[0]!, 'status.json');
  const text = readFileSync(status, 'utf8');
  writeFileSync(status, text.slice(0, text.length / 2));
  const truncated = tunespec(['runs', spec, '--runs-dir', s.runs]);
  assert.equal(truncated.code, 1);
  assert.match(truncated.stderr, new RegExp(`^${status}: not valid JSON \\(.*\\); the run store is damaged here: repair the file, or move its folder out of the run store\\n$`));

  writeFileSync(status, JSON.stringify({ ...JSON.parse(text), variant: undefined, seconds: 'soon' }));
  const wrong = tunespec(['runs', spec, '--runs-dir', s.runs]);
  assert.equal(wrong.code, 1);
  assert.equal(wrong.stderr, `${status}: not a valid status.json (run store format ${STORE_FORMAT}): missing variant; seconds must be number\n`);

  rmSync(status);
  mkdirSync(status);
  const unreadable = tunespec(['runs', spec, '--runs-dir', s.runs]);
  assert.equal(unreadable.code, 1);
  assert.match(unreadable.stderr, new RegExp(`^${status}: cannot read: EISDIR`));

  const sweepRecord = join(s.sweep, 'sweep.json');
  writeFileSync(sweepRecord, '{"sweep": ');
  const sync = tunespec(['sync', join(s.sweep), '--runs-dir', s.runs]);
  assert.equal(sync.code, 1);
  assert.match(sync.stderr, new RegExp(`^${sweepRecord}: not valid JSON`));
});

test('metrics.jsonl: absent is no epochs; a bad line is named by file and line', async () => {
  const s = copyStore('history');
  const v = s.variants[0]!;
  const file = join(v, 'metrics.jsonl');
  const lines = readFileSync(file, 'utf8');
  assert.equal((await readHistory(v)).length, 1);
  writeFileSync(file, lines + '{"epoch": 2, "timestamp": 1, "loss": null}\n' + '{"epoch": 3, "timest\n');
  await assert.rejects(readHistory(v), (err: Error) => err instanceof StoreError && err.message.startsWith(`${file}:3: not valid JSON`));
  writeFileSync(file, lines + '{"epoch": "two", "timestamp": 1}\n');
  await assert.rejects(readHistory(v), (err: Error) => err.message === `${file}:2: not a valid metrics.jsonl (run store format ${STORE_FORMAT}): epoch must be integer`);
  rmSync(file);
  assert.deepEqual(await readHistory(v), []);
});

test('a metric JSON holds as null (a diverged loss) reads back as NaN, and the readers take it', async () => {
  const s = copyStore('diverged');
  const v = s.variants[0]!;
  writeFileSync(join(v, 'metrics.jsonl'), '{"epoch": 1, "timestamp": 1, "loss": null, "val_accuracy": 0.5}\n');
  rewrite(join(v, 'result.json'), (json) => ((json.metrics as Record<string, unknown>).val_loss = null));
  const [epoch] = await readHistory(v);
  assert.ok(Number.isNaN(epoch!.loss) && epoch!.val_accuracy === 0.5, JSON.stringify(epoch));
  const stored = await readStoredVariant(v);
  assert.ok(Number.isNaN(stored!.result!.metrics.val_loss));
  const r = tunespec(['runs', spec, '--runs-dir', s.runs]);
  assert.equal(r.code, 0, r.stderr);
});
