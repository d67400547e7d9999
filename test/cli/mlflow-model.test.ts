import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { QUICKSTART_IMAGES, tempDir, tunespec, writeSmallSpec } from '../helpers/cli.ts';
import { startMlflow, type MlflowServer } from '../helpers/mlflow-server.ts';
import { readExperiment, send } from '../helpers/mlflow-read.ts';
import { writeHeldOut } from '../helpers/held-out.ts';
import { parseIdx } from '../../src/data/readers/idx.ts';
import { idxBytes } from '../data/fixtures.ts';

const fast = { MLFLOW_HTTP_REQUEST_MAX_RETRIES: '1', MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR: '0.1', MLFLOW_HTTP_REQUEST_TIMEOUT: '20' };
const NAME = 'fashion-small';

let server: MlflowServer;
let dir: string;
let spec: string;
let env: Record<string, string>;
let runOutput: string;

function git(cwd: string, ...args: string[]): string {
  return execFileSync('git', args, { cwd, encoding: 'utf8' }).trim();
}

async function api<T>(path: string, init: { method?: string; json?: unknown } = {}): Promise<T> {
  const res = await send(`${server.uri}/api/2.0/mlflow/${path}`, {
    method: init.method ?? 'GET',
    headers: { 'Content-Type': 'application/json' },
    body: init.json === undefined ? undefined : JSON.stringify(init.json),
  });
  if (!res.ok) throw new Error(`${path}: ${res.status} ${await res.text()}`);
  return (await res.json()) as T;
}

type KV = { key: string; value: string }[];
interface Model {
  info: { model_id: string; status: string; source_run_id: string; artifact_uri: string; model_type: string; tags?: KV };
  data: { params?: KV; metrics?: { key: string; value: number; step: number }[] };
}
interface Version {
  name: string;
  version: string;
  source: string;
  run_id: string;
  tags?: KV;
}

const asMap = (kv: KV | undefined): Record<string, string> => Object.fromEntries((kv ?? []).map((t) => [t.key, t.value]));

async function loggedModels(experimentId: string): Promise<Model[]> {
  return (await api<{ models?: Model[] }>('logged-models/search', { method: 'POST', json: { experiment_ids: [experimentId] } })).models ?? [];
}

async function modelFiles(id: string, path?: string): Promise<{ path: string; size: number }[]> {
  const q = path ? `?artifact_directory_path=${encodeURIComponent(path)}` : '';
  const r = await api<{ files?: { path: string; is_dir: boolean; file_size?: number }[] }>(`logged-models/${id}/artifacts/directories${q}`);
  const out: { path: string; size: number }[] = [];
  for (const f of r.files ?? []) {
    if (f.is_dir) out.push(...(await modelFiles(id, f.path)));
    else out.push({ path: f.path, size: f.file_size ?? 0 });
  }
  return out;
}

async function modelFile(model: Model, path: string): Promise<Buffer> {
  const res = await send(`${server.uri}/api/2.0/mlflow-artifacts/artifacts/${model.info.artifact_uri.replace(/^mlflow-artifacts:\//, '')}/${path}`, {});
  assert.ok(res.ok, `${path}: ${res.status}`);
  return Buffer.from(await res.arrayBuffer());
}

async function versions(): Promise<Version[]> {
  const filter = encodeURIComponent(`name = '${NAME}'`);
  const r = await api<{ model_versions?: Version[] }>(`model-versions/search?filter=${filter}`);
  return (r.model_versions ?? []).sort((a, b) => Number(a.version) - Number(b.version));
}

/** The stored variant folders of the spec's sweep, by variant id. */
function storedVariants(): Map<string, string> {
  const exp = join(dir, 'runs', 'registry');
  const [sweep] = readdirSync(exp);
  return new Map(readdirSync(join(exp, sweep!)).filter((n) => /^[0-9a-f]{12}$/.test(n)).map((n) => [n, join(exp, sweep!, n)]));
}

before(async () => {
  server = await startMlflow();
  dir = tempDir();
  // Committed in its own repository, so the registered versions can name the commit.
  spec = writeSmallSpec(dir, { name: 'registry', epochs: 1, extra: `register:\n  name: ${NAME}` });
  git(dir, 'init', '-q', '-b', 'main');
  git(dir, '-c', 'user.name=t', '-c', 'user.email=t@example.com', 'add', '.');
  git(dir, '-c', 'user.name=t', '-c', 'user.email=t@example.com', 'commit', '-q', '-m', 'spec');
  env = { MLFLOW_TRACKING_URI: server.uri, TUNESPEC_CACHE_DIR: tempDir('tunespec-cache-'), ...fast };
  const r = tunespec(['run', spec, '--runs-dir', 'runs'], dir, env);
  assert.equal(r.code, 0, r.stderr);
  runOutput = r.stdout;
});
after(async () => {
  await server?.stop();
});

test('every completed variant is an MLflow logged model: linked to its run, with its params, metrics and files', async () => {
  const exp = await readExperiment(server.uri, 'registry');
  const children = exp.runs.filter((r) => r.tags['tunespec.kind'] === 'variant');
  const models = await loggedModels(exp.id);
  assert.equal(models.length, 2);
  const stored = storedVariants();
  for (const model of models) {
    assert.equal(model.info.status, 'LOGGED_MODEL_READY');
    assert.equal(model.info.model_type, 'tunespec');
    const run = children.find((r) => r.id === model.info.source_run_id);
    assert.ok(run, 'the model names its run');
    const tags = asMap(model.info.tags);
    assert.equal(tags['tunespec.attempt'], run.tags['tunespec.attempt']);
    assert.equal(tags['tunespec.variant_id'], run.tags['tunespec.variant_id']);
    assert.deepEqual(asMap(model.data.params), run.params);
    // The run's latest value of each metric, as the runs table shows it.
    const metrics = Object.fromEntries((model.data.metrics ?? []).map((m) => [m.key, m.value]));
    for (const [key, history] of Object.entries(run.history)) assert.equal(metrics[key], history.at(-1)!.value, key);
    const outputs = await api<{ run: { outputs?: { model_outputs?: { model_id: string }[] } } }>(`runs/get?run_id=${run.id}`);
    assert.deepEqual(outputs.run.outputs?.model_outputs?.map((o) => o.model_id), [model.info.model_id]);

    const local = stored.get(tags['tunespec.variant_id']!)!;
    const files = (await modelFiles(model.info.model_id)).map((f) => f.path).sort();
    assert.deepEqual(files, ['MLmodel', 'model.onnx', 'model/model.json', 'model/weights.bin', 'result.json', 'spec.yaml', 'status.json']);
    assert.deepEqual(await modelFile(model, 'model/weights.bin'), readFileSync(join(local, 'model', 'weights.bin')));
    assert.deepEqual(await modelFile(model, 'model.onnx'), readFileSync(join(local, 'model.onnx')));
    const mlmodel = parse((await modelFile(model, 'MLmodel')).toString());
    assert.equal(mlmodel.model_id, model.info.model_id);
    assert.equal(mlmodel.run_id, run.id);
    assert.equal(mlmodel.flavors.onnx.data, 'model.onnx');
    assert.equal(mlmodel.flavors.tunespec.model, 'model/model.json');
    assert.deepEqual(mlmodel.flavors.tunespec.class_names, ['5', '6', '7', '8', '9']);
  }

  // Syncing again finds every model finished and makes no other.
  const again = tunespec(['sync', spec, '--runs-dir', 'runs'], dir, env);
  assert.equal(again.code, 0, again.stderr);
  assert.equal((await loggedModels(exp.id)).length, 2);
});

test('`register:` in the spec registers the sweep\'s best variant when the sweep ends, tagged with variant, sweep and commit', async () => {
  const best = [...storedVariants()]
    .map(([id, path]) => ({ id, score: JSON.parse(readFileSync(join(path, 'result.json'), 'utf8')).metrics.val_accuracy as number }))
    .sort((a, b) => b.score - a.score)[0]!;
  assert.match(runOutput, new RegExp(`MLflow: best variant ${best.id} \\(.*\\) registered as models:/${NAME}/1: http://127\\.0\\.0\\.1:\\d+/#/models/${NAME}/versions/1`));
  const [v1, ...others] = await versions();
  assert.equal(others.length, 0);
  const tags = asMap(v1!.tags);
  assert.equal(tags['tunespec.variant_id'], best.id);
  assert.match(tags['tunespec.sweep_id']!, /^[0-9a-f]+$/);
  assert.equal(tags['mlflow.source.git.commit'], git(dir, 'rev-parse', 'HEAD'));
  const model = (await api<{ model: Model }>(`logged-models/${v1!.source.replace('models:/', '')}`)).model;
  assert.equal(asMap(model.info.tags)['tunespec.variant_id'], best.id);
  assert.equal(v1!.run_id, model.info.source_run_id);
});

test('register is idempotent: the same variant twice is one version, another variant the next', async () => {
  const again = tunespec(['register', 'best', '--spec', spec, '--name', NAME, '--runs-dir', 'runs'], dir, env);
  assert.equal(again.code, 0, again.stderr);
  assert.match(again.stdout, new RegExp(`already registered as models:/${NAME}/1:`));
  assert.equal((await versions()).length, 1);

  const bestId = asMap((await versions())[0]!.tags)['tunespec.variant_id'];
  const other = [...storedVariants().keys()].find((id) => id !== bestId)!;
  for (const expected of ['registered', 'already registered']) {
    const r = tunespec(['register', other, '--name', NAME, '--runs-dir', 'runs', '--json'], dir, env);
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout);
    assert.equal(out.version, '2');
    assert.equal(out.created, expected === 'registered');
    assert.equal(out.uri, `models:/${NAME}/2`);
  }
  const all = await versions();
  assert.deepEqual(all.map((v) => asMap(v.tags)['tunespec.variant_id']), [bestId, other]);

  const missing = tunespec(['register', 'best', '--spec', spec, '--runs-dir', 'runs'], dir, env);
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /register needs --name/);
});

test('predict and evaluate take models:/NAME/VERSION and models:/NAME@ALIAS, with the same results as the stored variant', async () => {
  const [v1, v2] = await versions();
  await api('registered-models/alias', { method: 'POST', json: { name: NAME, alias: 'champion', version: v2!.version } });
  // Three images to predict on, as an IDX file.
  const images = parseIdx(readFileSync(QUICKSTART_IMAGES), QUICKSTART_IMAGES);
  const inputs = join(dir, 'three-idx3-ubyte');
  writeFileSync(inputs, idxBytes([3, 28, 28], images.data.subarray(1000 * 784, 1003 * 784)));
  const predict = (target: string): unknown => {
    const r = tunespec(['predict', target, inputs, '--runs-dir', 'runs', '--json'], dir, env);
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout);
    return { variant: out.variant, predictions: out.predictions };
  };
  for (const [uri, version] of [[`models:/${NAME}/1`, v1!], [`models:/${NAME}@champion`, v2!]] as const) {
    const local = predict(asMap(version.tags)['tunespec.variant_id']!);
    assert.deepEqual(predict(uri), local, uri);
  }
  // Each version was downloaded once, into the cache.
  assert.equal(readdirSync(join(env.TUNESPEC_CACHE_DIR!, 'registry')).length, 2);

  const heldOut = writeHeldOut(dir);
  const evaluate = (target: string): { variant: string; accuracy: number; confusion: number[][] } => {
    const r = tunespec(['evaluate', target, heldOut.images, heldOut.labels, '--runs-dir', 'runs', '--json'], dir, env);
    assert.equal(r.code, 0, r.stderr);
    return JSON.parse(r.stdout);
  };
  const registered = evaluate(`models:/${NAME}/1`);
  const local = evaluate(asMap(v1!.tags)['tunespec.variant_id']!);
  assert.deepEqual([registered.variant, registered.accuracy, registered.confusion], [local.variant, local.accuracy, local.confusion]);

  const unknown = tunespec(['predict', `models:/${NAME}/9`, inputs, '--runs-dir', 'runs'], dir, env);
  assert.equal(unknown.code, 1);
  assert.match(unknown.stderr, new RegExp(`models:/${NAME}/9: no such version of registered model "${NAME}" at http://127\\.0\\.0\\.1:\\d+`));
  const noServer = tunespec(['predict', `models:/${NAME}/1`, inputs, '--runs-dir', 'runs'], dir, { TUNESPEC_CACHE_DIR: env.TUNESPEC_CACHE_DIR });
  assert.equal(noServer.code, 2);
  assert.match(noServer.stderr, /names a model in an MLflow registry: say which server with --tracking-uri or MLFLOW_TRACKING_URI/);
});
