import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir, tunespec, tunespecAsync, writeSmallSpec } from '../helpers/cli.ts';
import { startMlflow, type MlflowServer } from '../helpers/mlflow-server.ts';
import { authHeaders, downloadArtifact, readExperiment, send } from '../helpers/mlflow-read.ts';
import { serveBaseModel } from '../helpers/model-server.ts';

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

/** Every file under `dir` that holds `secret`, read as bytes (SQLite databases and weights included). */
function filesHolding(dir: string, secret: string): string[] {
  const files = readdirSync(dir, { recursive: true, encoding: 'utf8' }).filter((f) => statSync(join(dir, f)).isFile());
  assert.ok(files.length > 0, `nothing under ${dir}`);
  return files.filter((f) => readFileSync(join(dir, f)).includes(secret));
}

test('a signed base-model URL: its signature and token reach no file, param, tag, artifact or output', async () => {
  const secret = 'Sig0123456789abcdefSECRET';
  const query = `?X-Amz-Signature=${secret}&token=tok-${secret}`;
  const resignedQuery = `?X-Amz-Signature=${secret}-2&token=tok-${secret}-2`;
  // The host checks the signature on model.json and on its weight shards alike.
  const models = await serveBaseModel({ query: [query, resignedQuery] });
  try {
    const base = `http://127.0.0.1:${models.port}/models`;
    const dir = tempDir();
    const runs = join(dir, 'runs');
    const env = { MLFLOW_TRACKING_URI: server.uri, MLFLOW_TRACKING_USERNAME: ADMIN.username, MLFLOW_TRACKING_PASSWORD: ADMIN.password };
    const spec = writeSmallSpec(dir, { name: 'signed-base', source: `${base}/model.json${query}#frag-${secret}`, epochs: 1, sweep: '  training.learning_rate: [0.01]' });
    const missing = writeSmallSpec(dir, { name: 'signed-missing', source: `${base}/nope.json${query}` });
    const outputs = [
      await tunespecAsync(['run', spec, '--runs-dir', runs], undefined, env),
      await tunespecAsync(['plan', spec]),
      await tunespecAsync(['inspect', spec]),
      await tunespecAsync(['inspect', `${base}/model.json${query}`]),
      await tunespecAsync(['inspect', `${base}/model.json${query}`, '--json']),
      await tunespecAsync(['validate', missing]),
    ];
    assert.equal(outputs[0].code, 0, outputs[0].stderr);
    assert.deepEqual(outputs.map((r) => r.code), [0, 0, 0, 0, 0, 1], outputs.map((r) => r.stderr).join('\n'));
    assert.ok(models.requests.includes(`/models/weights.bin${query}`), 'the shard was fetched with the signature');
    assert.equal(outputs[5].stderr.trim(), `${missing}:3:11: base_model.source: cannot fetch ${base}/nope.json: HTTP 404 Not Found`);
    for (const r of outputs) assert.ok(!r.stdout.includes(secret) && !r.stderr.includes(secret), r.stdout + r.stderr);

    assert.deepEqual(filesHolding(runs, secret), []);
    const sweep = readdirSync(join(runs, 'signed-base'))[0];
    const variant = readdirSync(join(runs, 'signed-base', sweep)).find((f) => /^[0-9a-f]{12}$/.test(f))!;
    const params = JSON.parse(readFileSync(join(runs, 'signed-base', sweep, variant, 'params.json'), 'utf8'));
    // The recorded source is the URL without its secrets, plus the digest of what it served.
    assert.match(params['base_model.source'], new RegExp(`^${base}/model\\.json#sha256=[0-9a-f]{64}$`));

    const exp = await readExperiment(server.uri, 'signed-base', ADMIN);
    assert.equal(exp.runs.length, 2);
    for (const run of exp.runs) {
      assert.ok(!JSON.stringify(run).includes(secret), JSON.stringify(run));
      for (const a of run.artifacts) assert.ok(!(await downloadArtifact(server.uri, run, a.path, ADMIN)).includes(secret), a.path);
    }
    assert.equal(exp.runs.find((r) => r.params['base_model.source'])?.params['base_model.source'], params['base_model.source']);
    // And nowhere in the server's store: its database and artifact folder.
    assert.deepEqual(filesHolding(server.dir, secret), []);

    // A freshly signed URL for the same bytes is the same variant: nothing retrains.
    const resigned = writeSmallSpec(dir, { name: 'signed-base', source: `${base}/model.json${resignedQuery}`, epochs: 1, sweep: '  training.learning_rate: [0.01]' });
    const again = await tunespecAsync(['run', resigned, '--runs-dir', runs]);
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, /0 completed, 1 skipped/);
  } finally {
    models.close();
  }
});

function readdirSafe(dir: string): string {
  try {
    return readdirSync(dir, { recursive: true, encoding: 'utf8' }).join(' ');
  } catch {
    return '(none)';
  }
}
