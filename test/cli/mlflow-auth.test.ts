import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir, tunespec, writeSmallSpec } from '../helpers/cli.ts';
import { startMlflow, type MlflowServer } from '../helpers/mlflow-server.ts';
import { authHeaders, readExperiment, send } from '../helpers/mlflow-read.ts';

const ADMIN = { username: 'admin', password: 'adm1n-Pa55-for-tests' };
let server: MlflowServer;
before(async () => {
  server = await startMlflow({ adminPassword: ADMIN.password });
});
after(async () => {
  await server?.stop();
});

/** `tunespec run` of a one-variant spec named `name`, as `user` with `password`. */
function runAs(name: string, user: string, password: string, sweep = '  training.learning_rate: [0.01]') {
  const dir = tempDir();
  const spec = writeSmallSpec(dir, { name, sweep });
  const env = { MLFLOW_TRACKING_URI: server.uri, MLFLOW_TRACKING_USERNAME: user, MLFLOW_TRACKING_PASSWORD: password };
  return { dir, ...tunespec(['run', spec, '--runs-dir', join(dir, 'runs')], dir, env) };
}

test('basic auth: the right password logs the sweep; the password is nowhere in what was logged', async () => {
  const r = runAs('guarded', ADMIN.username, ADMIN.password);
  assert.equal(r.code, 0, r.stderr);
  const exp = await readExperiment(server.uri, 'guarded', ADMIN);
  assert.deepEqual(exp.runs.map((x) => x.status).sort(), ['FINISHED', 'FINISHED']);
  for (const text of [r.stdout, r.stderr, ...exp.runs.map((x) => JSON.stringify(x))]) assert.ok(!text.includes(ADMIN.password));
});

test('basic auth: a wrong password is a clear error before training, naming the endpoint and the status', () => {
  const wrong = 'not-the-Pa55word';
  const r = runAs('guarded-wrong', ADMIN.username, wrong, '  training.learning_rate: [0.01, 0.001]');
  assert.equal(r.code, 1);
  assert.match(r.stderr, /MLflow GET \/api\/2\.0\/mlflow\/experiments\/get-by-name failed: 401: .*not authenticated/i);
  assert.match(r.stderr, /check MLFLOW_TRACKING_USERNAME\/MLFLOW_TRACKING_PASSWORD or MLFLOW_TRACKING_TOKEN/);
  assert.ok(!r.stderr.includes(wrong) && !r.stdout.includes(wrong));
  assert.ok(!existsSync(join(r.dir, 'runs', 'guarded-wrong')), 'nothing trained, nothing written');
});

test('basic auth: a read-only user is refused when the sweep starts, and the sweep leaves nothing in runs/', async () => {
  const reader = { username: 'reader', password: 'read-0nly-Pa55' };
  // send, not fetch: the previous test's spawnSync kept this process from seeing the server close a pooled socket.
  const created = await send(`${server.uri}/api/2.0/mlflow/users/create`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', ...authHeaders(ADMIN) },
    body: JSON.stringify(reader),
  });
  assert.ok(created.ok, await created.text());
  // The experiment exists (the first test made it) and readers may read it, but not add runs.
  const r = runAs('guarded', reader.username, reader.password);
  assert.equal(r.code, 1, r.stdout);
  // Reopening the first test's parent run (same sweep) is the first write it tries.
  assert.match(r.stderr, /MLflow POST \/api\/2\.0\/mlflow\/runs\/update failed: 403: Permission denied \(check MLFLOW_TRACKING_USERNAME/);
  assert.ok(!existsSync(join(r.dir, 'runs', 'guarded')), readdirSafe(join(r.dir, 'runs')));
});

function readdirSafe(dir: string): string {
  try {
    return readdirSync(dir, { recursive: true, encoding: 'utf8' }).join(' ');
  } catch {
    return '(none)';
  }
}
