import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir, tunespec, writeSmallSpec } from '../helpers/cli.ts';
import { startMlflow, type MlflowServer } from '../helpers/mlflow-server.ts';
import { readExperiment } from '../helpers/mlflow-read.ts';
import { writeHeldOut, type HeldOut } from '../helpers/held-out.ts';

const CLASSES = ['5', '6', '7', '8', '9'];
const fast = { MLFLOW_HTTP_REQUEST_MAX_RETRIES: '1', MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR: '0.1', MLFLOW_HTTP_REQUEST_TIMEOUT: '20' };

interface Report {
  variant: string;
  examples: number;
  loss: number;
  accuracy: number;
  classes: { name: string; precision: number; recall: number; f1: number; support: number }[];
  confusion: number[][];
  mlflow: { run?: string; note: string } | null;
}

let dir: string;
let spec: string;
let server: MlflowServer;
// Fashion-MNIST images the variants never saw, as gzipped IDX files: the test split a user brings.
let heldOut: HeldOut;
let testImages: string;
let testLabels: string;
let heldOutCount: number;

before(() => {
  dir = tempDir();
  heldOut = writeHeldOut(dir);
  ({ images: testImages, labels: testLabels } = heldOut);
  heldOutCount = [...heldOut.counts.values()].reduce((a, b) => a + b, 0);
  spec = writeSmallSpec(dir, { name: 'evaluated', sweep: '  training.learning_rate: [0.003, 0.01]' });
  const r = tunespec(['run', spec, '--runs-dir', 'runs'], dir);
  assert.equal(r.code, 0, r.stderr);
});
after(async () => {
  await server?.stop();
});

function evaluateJson(args: string[], cwd = dir, env?: Record<string, string>): Report {
  const r = tunespec(['evaluate', ...args, '--runs-dir', 'runs', '--json'], cwd, env);
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout) as Report;
}

const sum = (xs: number[]): number => xs.reduce((a, b) => a + b, 0);

test('evaluate the best variant on held-out Fashion-MNIST images: scores agree with the confusion matrix', () => {
  const report = evaluateJson(['best', testImages, testLabels, '--spec', spec]);
  assert.equal(report.examples, heldOutCount);
  assert.deepEqual(report.classes.map((c) => c.name), CLASSES);
  assert.equal(report.confusion.length, 5);
  assert.equal(sum(report.confusion.flat()), heldOutCount);
  const diagonal = report.confusion.map((row, i) => row[i]!);
  assert.ok(Math.abs(report.accuracy - sum(diagonal) / heldOutCount) < 1e-12);
  report.classes.forEach((c, i) => {
    const column = sum(report.confusion.map((row) => row[i]!));
    assert.equal(c.support, heldOut.counts.get(Number(c.name)));
    assert.ok(Math.abs(c.recall - diagonal[i]! / sum(report.confusion[i]!)) < 1e-12);
    assert.ok(Math.abs(c.precision - (column ? diagonal[i]! / column : 0)) < 1e-12);
  });
  assert.ok(report.accuracy > 0.6, `accuracy ${report.accuracy}`);
  assert.ok(report.loss > 0 && Number.isFinite(report.loss));
  assert.equal(report.mlflow, null);
});

test('evaluate prints loss, accuracy, per-class scores and the confusion matrix as tables', () => {
  const r = tunespec(['evaluate', 'best', testImages, testLabels, '--spec', spec, '--runs-dir', 'runs'], dir);
  assert.equal(r.code, 0, r.stderr);
  const lines = r.stdout.split('\n');
  assert.match(lines[0]!, new RegExp(`^variant [0-9a-f]{12} \\(lr=[\\d.]+\\) on ${heldOutCount} examples from `));
  assert.match(lines[1]!, /^loss \d\.\d{4} {2}accuracy \d\.\d{4}$/);
  assert.match(lines[3]!, /^class\s+precision\s+recall\s+f1\s+support$/);
  for (const [i, name] of CLASSES.entries()) assert.match(lines[4 + i]!, new RegExp(`^\\s*${name}(\\s+\\d\\.\\d{4}){3}\\s+${heldOut.counts.get(Number(name))}$`));
  assert.equal(lines[10], 'confusion matrix (rows: true class, columns: predicted)');
  assert.match(lines[11]!, /^true \\ predicted\s+5\s+6\s+7\s+8\s+9$/);
  const rows = lines.slice(12, 17).map((l) => l.trim().split(/\s+/).slice(1).map(Number));
  assert.equal(sum(rows.flat()), heldOutCount);
});

test('evaluate refuses data of another format than the variant was trained on', () => {
  const folder = join(dir, 'folder');
  mkdirSync(join(folder, '5'), { recursive: true });
  const cases: [string[], RegExp][] = [
    [['folder'], /^the variant was trained on IDX data \(an images file and a labels file\); got an image folder/],
    [[testImages], /^the variant was trained on IDX data \(an images file and a labels file\); got one file \(/],
    [['nowhere.idx', testLabels], /^nowhere\.idx: no such file or folder/],
  ];
  for (const [data, message] of cases) {
    const r = tunespec(['evaluate', 'best', ...data, '--spec', spec, '--runs-dir', 'runs'], dir);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, message);
  }
});

test('evaluate logs test metrics to the variant run in MLflow, or says the variant is not there', async () => {
  server = await startMlflow();
  const env = { MLFLOW_TRACKING_URI: server.uri, ...fast };

  // Trained without tracking: the server has no run of it.
  const untracked = evaluateJson(['best', testImages, testLabels, '--spec', spec, '--tracking-uri', server.uri], dir, fast);
  assert.match(untracked.mlflow!.note, /is not in MLflow experiment "evaluated" at http:\/\/127\.0\.0\.1:\d+; `tunespec sync runs\/evaluated\/[0-9a-f]+` uploads it/);

  const trackedDir = tempDir();
  const trackedSpec = writeSmallSpec(trackedDir, { name: 'tracked-eval', sweep: '  training.learning_rate: [0.003, 0.01]' });
  const run = tunespec(['run', trackedSpec, '--runs-dir', 'runs'], trackedDir, env);
  assert.equal(run.code, 0, run.stderr);
  const text = tunespec(['evaluate', 'best', testImages, testLabels, '--spec', trackedSpec, '--runs-dir', 'runs'], trackedDir, env);
  assert.equal(text.code, 0, text.stderr);
  const url = /^MLflow: logged test\/\* metrics to (http:\/\/127\.0\.0\.1:\d+\/#\/experiments\/\d+\/runs\/([0-9a-f]+)\?workflowType=machine_learning)$/m.exec(text.stdout);
  assert.ok(url, text.stdout);

  const report = evaluateJson(['best', testImages, testLabels, '--spec', trackedSpec], trackedDir, env);
  assert.equal(report.mlflow?.run, url[1]);
  const exp = await readExperiment(server.uri, 'tracked-eval');
  const child = exp.runs.find((r) => r.id === url[2])!;
  assert.equal(child.tags['tunespec.variant_id'], report.variant);
  const keys = ['test/loss', 'test/accuracy', ...CLASSES.flatMap((c) => ['precision', 'recall', 'f1'].map((m) => `test/${c}/${m}`))];
  for (const key of keys) {
    assert.ok(child.history[key], `${key} missing: ${Object.keys(child.history).join(', ')}`);
    assert.ok(child.history[key]!.every((m) => m.step === 0));
  }
  // Logged twice (text, then JSON), the latest value is this evaluation's.
  assert.ok(Math.abs(child.history['test/accuracy']!.at(-1)!.value - report.accuracy) < 1e-9);
  assert.ok(Math.abs(child.history['test/7/recall']!.at(-1)!.value - report.classes[2]!.recall) < 1e-9);
  // The other variant's run got nothing.
  const other = exp.runs.find((r) => r.tags['tunespec.kind'] === 'variant' && r.id !== url[2])!;
  assert.deepEqual(Object.keys(other.history).filter((k) => k.startsWith('test/')), []);
});
