import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { inspect } from 'node:util';
import { TrackingError } from '../../src/errors.ts';
import { MlflowClient } from '../../src/track/mlflow/client.ts';
import { resolveTrackingConfig, type TrackingConfig } from '../../src/track/mlflow/config.ts';
import { FlakyProxy } from '../helpers/flaky-proxy.ts';
import { freePort, startMlflow, type MlflowServer } from '../helpers/mlflow-server.ts';

const LOG_BATCH = '/api/2.0/mlflow/runs/log-batch';
const GET_RUN = '/api/2.0/mlflow/runs/get';

function config(uri: string, extra: Record<string, string> = {}): TrackingConfig {
  const c = resolveTrackingConfig({
    spec: {},
    specName: 'x',
    env: {
      MLFLOW_TRACKING_URI: uri,
      MLFLOW_HTTP_REQUEST_MAX_RETRIES: '3',
      MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR: '0.01',
      MLFLOW_HTTP_REQUEST_BACKOFF_JITTER: '0',
      MLFLOW_HTTP_REQUEST_TIMEOUT: '10',
      ...extra,
    },
  });
  assert.ok(c);
  return c;
}

/** Run `fn`, expect a TrackingError, return it. */
async function rejection(fn: () => Promise<unknown>): Promise<TrackingError> {
  try {
    await fn();
  } catch (e) {
    assert.ok(e instanceof TrackingError, `expected a TrackingError, got ${inspect(e)}`);
    return e;
  }
  assert.fail('expected the call to fail');
}

let server: MlflowServer;
let proxy: FlakyProxy;
let direct: MlflowClient;
let flaky: MlflowClient;
let experimentId: string;

async function newRun(name: string, tags: { key: string; value: string }[] = []) {
  return direct.createRun({ experimentId, runName: name, startTime: Date.now(), tags });
}

before(async () => {
  server = await startMlflow();
  proxy = await new FlakyProxy(server.uri).start();
  direct = new MlflowClient(config(server.uri));
  flaky = new MlflowClient(config(proxy.uri));
  experimentId = await direct.createExperiment(`client-test-${Date.now()}`);
});

after(async () => {
  await proxy?.close();
  await server?.stop();
});

test('a 2500-metric logBatch lands completely and in order, in packed requests', async () => {
  const run = await newRun('many-metrics');
  const t0 = Date.now();
  const metrics = Array.from({ length: 2500 }, (_, step) => ({ key: 'loss', value: 1 / (step + 1), timestamp: t0 + step, step }));
  proxy.reset();
  await flaky.logBatch(run.run_id, { metrics });
  assert.equal(proxy.count(LOG_BATCH), 3, 'packed into 3 requests of ≤1000 metrics');
  const history = await direct.getMetricHistory(run.run_id, 'loss');
  assert.equal(history.length, 2500);
  assert.deepEqual(
    history.map((m) => m.step),
    metrics.map((m) => m.step),
  );
  assert.deepEqual(
    history.map((m) => m.value),
    metrics.map((m) => m.value),
  );
  assert.equal(history[2499].timestamp, t0 + 2499);
});

test('NaN and ±Infinity are accepted; the server keeps NaN and stores ±Infinity as ±DBL_MAX', async () => {
  const run = await newRun('non-finite');
  await direct.logBatch(run.run_id, {
    metrics: [NaN, Infinity, -Infinity, 0.5].map((value, step) => ({ key: 'odd', value, step, timestamp: Date.now() })),
  });
  const history = await direct.getMetricHistory(run.run_id, 'odd');
  assert.deepEqual(
    history.map((m) => m.step),
    [0, 1, 2, 3],
  );
  assert.ok(Number.isNaN(history[0].value), `NaN came back as ${history[0].value}`);
  // MLflow 3.x clamps infinities to the largest finite double on the way in (SQL stores no inf).
  assert.equal(history[1].value, Number.MAX_VALUE);
  assert.equal(history[2].value, -Number.MAX_VALUE);
  assert.equal(history[3].value, 0.5);
});

test('re-logging a param with the same value is fine; a different value is a TrackingError naming endpoint, status and code', async () => {
  const run = await newRun('params');
  await direct.logBatch(run.run_id, { params: [{ key: 'lr', value: '0.001' }] });
  await direct.logBatch(run.run_id, { params: [{ key: 'lr', value: '0.001' }] });
  const err = await rejection(() => direct.logBatch(run.run_id, { params: [{ key: 'lr', value: '0.002' }] }));
  assert.match(err.message, /POST \/api\/2\.0\/mlflow\/runs\/log-batch/);
  assert.match(err.message, /\b400\b/);
  assert.match(err.message, /INVALID_PARAMETER_VALUE/);
  assert.equal(err.endpoint, `POST ${LOG_BATCH}`);
  assert.equal(err.status, 400);
  assert.equal(err.errorCode, 'INVALID_PARAMETER_VALUE');
  const stored = await direct.getRun(run.run_id);
  assert.deepEqual(stored?.data.params, [{ key: 'lr', value: '0.001' }]);
});

test('experiments, tag search on a backticked dotted key, and updateRun', async () => {
  assert.equal(await direct.getExperimentByName(`no-such-experiment-${Date.now()}`), undefined);
  const name = `search-${Date.now()}`;
  const id = await direct.createExperiment(name, [{ key: 'tunespec.project', value: 'p' }]);
  const exp = await direct.getExperimentByName(name);
  assert.equal(exp?.experiment_id, id);
  assert.equal(exp?.lifecycle_stage, 'active');
  assert.deepEqual(exp?.tags?.find((t) => t.key === 'tunespec.project')?.value, 'p');

  const start = Date.now();
  const x = await direct.createRun({ experimentId: id, runName: 'rx', startTime: start, tags: [{ key: 'tunespec.sweep_id', value: 'x' }] });
  await direct.createRun({ experimentId: id, runName: 'ry', startTime: start, tags: [{ key: 'tunespec.sweep_id', value: 'y' }] });
  const found = await direct.searchRuns([id], "tags.`tunespec.sweep_id` = 'x'");
  assert.deepEqual(
    found.map((r) => r.info.run_id),
    [x.run_id],
  );
  assert.equal(found[0].info.run_name, 'rx');
  assert.equal((await direct.searchRuns([id], "tags.`tunespec.sweep_id` = 'none'")).length, 0);

  await direct.updateRun(x.run_id, 'FINISHED', start + 1234);
  const done = await direct.getRun(x.run_id);
  assert.equal(done?.info.status, 'FINISHED');
  assert.equal(Number(done?.info.end_time), start + 1234);
  assert.equal(await direct.getRun('0123456789abcdef0123456789abcdef'), undefined);
});

test('artifacts: upload nested files, list them recursively, download the same bytes', async () => {
  const run = await newRun('artifacts');
  const weights = randomBytes(300_000);
  const notes = Buffer.from('hello\n');
  await direct.uploadArtifact(run.artifact_uri, 'model/weights.bin', weights);
  await direct.uploadArtifact(run.artifact_uri, 'notes.txt', notes);
  const files = (await direct.listAllArtifacts(run.run_id)).sort((a, b) => a.path.localeCompare(b.path));
  assert.deepEqual(
    files.map((f) => [f.path, Number(f.file_size)]),
    [
      ['model/weights.bin', weights.length],
      ['notes.txt', notes.length],
    ],
  );
  assert.ok((await direct.downloadArtifact(run.artifact_uri, 'model/weights.bin')).equals(weights));
  assert.ok((await direct.downloadArtifact(run.artifact_uri, 'notes.txt')).equals(notes));
  // Through the proxy too: the body is streamed, not re-encoded.
  proxy.reset();
  assert.ok((await flaky.downloadArtifact(run.artifact_uri, 'model/weights.bin')).equals(weights));
  assert.equal(proxy.count(), 1);
});

test('503 with Retry-After: 1 twice, then success: retried, and Retry-After honoured', async () => {
  const run = await newRun('retry-503');
  proxy.reset();
  proxy.failNext(2, 503, { headers: { 'Retry-After': '1' }, body: 'busy' });
  const t0 = performance.now();
  const got = await flaky.getRun(run.run_id);
  const elapsed = performance.now() - t0;
  assert.equal(got?.info.run_id, run.run_id);
  assert.equal(proxy.count(GET_RUN), 3);
  assert.equal(proxy.pending, 0);
  assert.ok(elapsed >= 1900, `two Retry-After: 1 should take ≥ 2 s; took ${Math.round(elapsed)} ms`);
});

test('500 then success is retried, and a POST body is resent intact', async () => {
  const run = await newRun('retry-500');
  proxy.reset();
  proxy.failNext(1, 500, { body: '<html>oops</html>' });
  await flaky.logBatch(run.run_id, { params: [{ key: 'k', value: 'v' }], metrics: [{ key: 'm', value: 2, step: 0, timestamp: Date.now() }] });
  assert.equal(proxy.count(LOG_BATCH), 2);
  const stored = await direct.getRun(run.run_id);
  assert.deepEqual(stored?.data.params, [{ key: 'k', value: 'v' }]);
  assert.equal((await direct.getMetricHistory(run.run_id, 'm')).length, 1);
});

test('a 400 is not retried and carries status and error code', async () => {
  const run = await newRun('no-retry-400');
  proxy.reset();
  proxy.failNext(1, 400, { body: JSON.stringify({ error_code: 'INVALID_PARAMETER_VALUE', message: 'bad things' }) });
  const err = await rejection(() => flaky.setTag(run.run_id, 'a', 'b'));
  assert.equal(proxy.count('/api/2.0/mlflow/runs/set-tag'), 1);
  assert.equal(err.status, 400);
  assert.equal(err.errorCode, 'INVALID_PARAMETER_VALUE');
  assert.equal(err.endpoint, 'POST /api/2.0/mlflow/runs/set-tag');
  assert.match(err.message, /POST \/api\/2\.0\/mlflow\/runs\/set-tag failed: 400 INVALID_PARAMETER_VALUE: bad things/);
});

test('retries run out: the last status is reported after maxRetries + 1 attempts', async () => {
  const run = await newRun('exhausted');
  proxy.reset();
  proxy.failNext(4, 503, { body: JSON.stringify({ error_code: 'TEMPORARILY_UNAVAILABLE', message: 'down' }) });
  const err = await rejection(() => flaky.getRun(run.run_id));
  assert.equal(proxy.count(GET_RUN), 4);
  assert.equal(err.status, 503);
  assert.equal(err.errorCode, 'TEMPORARILY_UNAVAILABLE');
});

test('dropped connections are retried', async () => {
  const run = await newRun('dropped');
  proxy.reset();
  proxy.dropNext(2);
  const got = await flaky.getRun(run.run_id);
  assert.equal(got?.info.run_id, run.run_id);
  assert.equal(proxy.count(GET_RUN), 3);

  proxy.reset();
  proxy.dropNext(1);
  await flaky.setTag(run.run_id, 'after-drop', 'yes');
  assert.equal(proxy.count('/api/2.0/mlflow/runs/set-tag'), 2);
  const stored = await direct.getRun(run.run_id);
  assert.equal(stored?.data.tags?.find((t) => t.key === 'after-drop')?.value, 'yes');
});

test('an answer cut off mid-body (a server killed as it answers) is retried like a dropped connection', async () => {
  const run = await newRun('cut');
  proxy.reset();
  proxy.cutNext(2);
  const got = await flaky.getRun(run.run_id);
  assert.equal(got?.info.run_id, run.run_id);
  assert.equal(proxy.count(GET_RUN), 3);

  // Cut every time: the error names the endpoint and the server, not undici's bare "terminated".
  const once = new MlflowClient(config(proxy.uri, { MLFLOW_HTTP_REQUEST_MAX_RETRIES: '1' }));
  proxy.reset();
  proxy.cutNext(2);
  const err = await rejection(() => once.getRun(run.run_id));
  assert.equal(proxy.count(GET_RUN), 2);
  assert.match(err.message, /^MLflow GET \/api\/2\.0\/mlflow\/runs\/get at http:\/\/127\.0\.0\.1:\d+: cannot reach the server \(the connection closed\) after 2 attempt\(s\)$/);
});

test('nothing listening: "cannot reach the server" after maxRetries + 1 attempts, naming the endpoint', async () => {
  const dead = `http://127.0.0.1:${await freePort()}`;
  const client = new MlflowClient(config(dead, { MLFLOW_HTTP_REQUEST_MAX_RETRIES: '2' }));
  const err = await rejection(() => client.getExperimentByName('e'));
  assert.match(err.message, /cannot reach the server/);
  assert.match(err.message, /after 3 attempt/);
  assert.match(err.message, /GET \/api\/2\.0\/mlflow\/experiments\/get-by-name/);
  assert.equal(err.endpoint, 'GET /api/2.0/mlflow/experiments/get-by-name');
  assert.equal(err.status, undefined);
});

test('healthy() is true for the server, false for a dead port or a 503, and never throws', async () => {
  assert.equal(await direct.healthy(), true);
  const dead = new MlflowClient(config(`http://127.0.0.1:${await freePort()}`));
  assert.equal(await dead.healthy(1), false);
  proxy.reset();
  proxy.failNext(1, 503, { headers: { 'Retry-After': '30' } });
  const t0 = performance.now();
  assert.equal(await flaky.healthy(), false);
  assert.ok(performance.now() - t0 < 5000, 'a probe does not wait out Retry-After');
  assert.equal(proxy.count('/health'), 1, 'a probe is one attempt');
  assert.equal(await flaky.healthy(), true);
});

test('a basic-auth password never appears in config.uri, errors or their messages', async () => {
  const password = 'Pw-s3cret-XYZZY';
  const withCreds = (uri: string) => uri.replace('http://', `http://alice:${password}@`);
  const cfg = config(withCreds(proxy.uri));
  assert.deepEqual(cfg.auth, { kind: 'basic', username: 'alice', password });
  assert.ok(!cfg.uri.includes(password));
  const client = new MlflowClient(cfg);

  // The header is sent (the server has no auth, so it ignores it).
  const run = await newRun('auth');
  proxy.reset();
  assert.equal((await client.getRun(run.run_id))?.info.run_id, run.run_id);
  assert.equal(proxy.lastHeaders.authorization, `Basic ${Buffer.from(`alice:${password}`).toString('base64')}`);

  const errors: TrackingError[] = [];
  await client.logBatch(run.run_id, { params: [{ key: 'p', value: '1' }] });
  errors.push(await rejection(() => client.logBatch(run.run_id, { params: [{ key: 'p', value: '2' }] })));
  proxy.failNext(4, 503);
  errors.push(await rejection(() => client.getRun(run.run_id)));
  proxy.failNext(1, 401, { body: JSON.stringify({ error_code: 'UNAUTHENTICATED', message: 'no' }) });
  errors.push(await rejection(() => client.getRun(run.run_id)));
  proxy.dropNext(4);
  errors.push(await rejection(() => client.getRun(run.run_id)));
  const dead = new MlflowClient(config(withCreds(`http://127.0.0.1:${await freePort()}`), { MLFLOW_HTTP_REQUEST_MAX_RETRIES: '0' }));
  errors.push(await rejection(() => dead.getRun(run.run_id)));
  assert.equal(await dead.healthy(1), false);

  const b64 = Buffer.from(`alice:${password}`).toString('base64');
  for (const e of errors) {
    const text = `${e.message}\n${e.stack}\n${inspect(e, { depth: 10 })}`;
    assert.ok(!text.includes(password), `password leaked: ${text}`);
    assert.ok(!text.includes(b64), `encoded credentials leaked: ${text}`);
  }
  assert.match(errors[2].message, /401/);
  assert.match(errors[4].message, /cannot reach the server/);
});
