import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { appendFileSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { QUICKSTART_IMAGES, tempDir, tunespec, tunespecAsync, tunespecSignalled, writeSmallSpec } from '../helpers/cli.ts';
import { startMlflow, type MlflowServer } from '../helpers/mlflow-server.ts';
import { downloadArtifact, readExperiment, send } from '../helpers/mlflow-read.ts';

let server: MlflowServer;
before(async () => {
  server = await startMlflow();
});
after(async () => {
  await server?.stop();
});

const PASSWORD = 'pw-SECRET-4711';
const TOKEN = 'tok-SECRET-0815';
const fast = { MLFLOW_HTTP_REQUEST_MAX_RETRIES: '1', MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR: '0.1', MLFLOW_HTTP_REQUEST_TIMEOUT: '20' };

function git(cwd: string, ...args: string[]): string {
  return execFileSync('git', args, { cwd, encoding: 'utf8' }).trim();
}

/** A spec committed in its own git repository, with a remote whose URL carries a token. */
function specInRepo(name: string): { dir: string; spec: string } {
  const dir = tempDir();
  const spec = writeSmallSpec(dir, { name, extra: 'description: a tracked sweep\ntags: [transfer, small]' });
  git(dir, 'init', '-q', '-b', 'sweeps');
  git(dir, 'remote', 'add', 'origin', `https://ci-bot:${TOKEN}@git.example.com/team/models.git`);
  git(dir, '-c', 'user.name=t', '-c', 'user.email=t@example.com', 'add', '.');
  git(dir, '-c', 'user.name=t', '-c', 'user.email=t@example.com', 'commit', '-q', '-m', 'sweep');
  return { dir, spec };
}

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .map((f) => join(dir, f))
    .filter((f) => statSync(f).isFile());
}

test('a sweep lands in MLflow: parent and children, params, full histories, tags, inputs, artifacts; no credentials anywhere', async () => {
  const { dir, spec } = specInRepo('tracked');
  const uriWithPassword = server.uri.replace('http://', `http://alice:${PASSWORD}@`);
  const r = tunespec(['run', spec, '--runs-dir', join(dir, 'runs')], dir, { MLFLOW_TRACKING_URI: uriWithPassword, ...fast });
  assert.equal(r.code, 0, r.stderr);
  // Every printed URL opens MLflow 3's machine-learning views, not its GenAI ones.
  assert.match(r.stdout, /MLflow: sweep logged to http:\/\/127\.0\.0\.1:\d+\/#\/experiments\/\d+\/runs\/[0-9a-f]+\?workflowType=machine_learning$/m);
  // The experiment's runs table, sorted best first by the kept weights' score.
  const experimentUrl = r.stdout.match(/\(experiment: (http:\/\/127\.0\.0\.1:\d+\/#\/experiments\/\d+\/runs\?\S+)\)/)?.[1];
  assert.ok(experimentUrl, r.stdout);
  assert.deepEqual(Object.fromEntries(new URLSearchParams(experimentUrl.split('?')[1])), { workflowType: 'machine_learning', orderByKey: 'metrics.`kept/val/accuracy`', orderByAsc: 'false' });
  const compare = r.stdout.match(/MLflow: variants side by side at (\S+)$/m)?.[1];
  assert.ok(compare, r.stdout);
  const compareQuery = new URLSearchParams(compare.split('?')[1]);
  assert.equal(compareQuery.get('workflowType'), 'machine_learning');

  const exp = await readExperiment(server.uri, 'tracked');
  assert.equal(exp.tags['mlflow.experiment.primaryMetric.name'], 'kept/val/accuracy');
  assert.equal(exp.tags['mlflow.experiment.primaryMetric.greaterIsBetter'], 'true');
  const parents = exp.runs.filter((x) => x.tags['tunespec.kind'] === 'sweep');
  const children = exp.runs.filter((x) => x.tags['tunespec.kind'] === 'variant');
  assert.equal(parents.length, 1);
  assert.equal(children.length, 2);
  const parent = parents[0];
  assert.equal(parent.status, 'FINISHED');
  assert.equal(parent.name, 'sweep: learning_rate×2');
  assert.equal(parent.params['sweep.training.learning_rate'], '0.01,0.001');
  assert.equal((await downloadArtifact(server.uri, parent, 'spec.yaml')).toString(), readFileSync(spec, 'utf8'));
  const comparison = (await downloadArtifact(server.uri, parent, 'comparison.csv')).toString().trim().split('\n');
  assert.equal(comparison.length, 3);
  // Led by what a user compares: rank, name, the swept value, the kept scores (objective first); the id last.
  assert.equal(comparison[0], 'rank,variant,training.learning_rate,kept/val/accuracy,kept/val/loss,kept/epoch,status,seconds,variant_id');

  // The parent names the winner: best first everywhere, its scores as metrics, its run as a tag.
  const best = [...children].sort((a, b) => b.history['kept/val/accuracy'][0].value - a.history['kept/val/accuracy'][0].value)[0];
  assert.equal(parent.tags.best_run_id, best.id);
  assert.ok(comparison[1].startsWith(`1,${best.name},${best.params['training.learning_rate']},${best.history['kept/val/accuracy'][0].value.toFixed(4)},`), comparison[1]);
  assert.ok(comparison[1].endsWith(`,${best.tags['tunespec.variant_id']}`), comparison[1]);
  assert.equal(parent.tags.best_variant, best.name);
  assert.equal(parent.tags.best_variant_id, best.tags['tunespec.variant_id']);
  assert.equal(parent.tags['best.training.learning_rate'], best.params['training.learning_rate']);
  assert.equal(parent.history['best/val/accuracy'][0].value, best.history['kept/val/accuracy'][0].value);
  assert.equal(parent.history['kept/val/accuracy'][0].value, best.history['kept/val/accuracy'][0].value);
  assert.equal(parent.history['best/val/loss'][0].value, best.history['kept/val/loss'][0].value);
  assert.deepEqual(JSON.parse(compareQuery.get('runs')!), [best.id, children.find((c) => c.id !== best.id)!.id]);
  const note = parent.tags['mlflow.note.content'];
  assert.ok(note.length < 600, note);
  assert.ok(note.startsWith(`Best: **[${best.name}](${server.uri}/#/experiments/${exp.id}/runs/${best.id}?workflowType=machine_learning)**, kept/val/accuracy `), note);
  const table = (await downloadArtifact(server.uri, parent, 'comparison.md')).toString().trim().split('\n');
  assert.equal(table[0], '| # | variant | kept/val/accuracy | kept/val/loss | kept/epoch | status | seconds | id |');
  assert.ok(table[2].startsWith(`| 1 | [${best.name}](${server.uri}/#/experiments/${exp.id}/runs/${best.id}?workflowType=machine_learning) | `), table[2]);
  assert.equal(table.length, 4);

  const commit = git(dir, 'rev-parse', 'HEAD');
  for (const child of children) {
    assert.equal(child.tags['mlflow.parentRunId'], parent.id);
    assert.match(child.name, /^lr=0\.0?01$/);
    assert.equal(child.status, 'FINISHED');
    assert.ok(child.endTime! >= child.startTime);
    // Numbers are plain numerals (a numeric axis in parallel coordinates); every resolved value is there.
    assert.ok(['0.01', '0.001'].includes(child.params['training.learning_rate']));
    assert.equal(child.params['head.0.units'], '16');
    // Only what a user compares: the experiment's name, description and tags are not params.
    for (const key of ['name', 'description', 'tags', 'tags.0']) assert.equal(child.params[key], undefined, key);
    // Sources as the server can show them: the file's name and the digest of its bytes.
    const images = readFileSync(QUICKSTART_IMAGES);
    assert.equal(child.params['data.images'], `${basename(QUICKSTART_IMAGES)}#sha256=${createHash('sha256').update(images).digest('hex')}`);
    assert.equal(child.params['training.batch_size'], '32');
    assert.equal(child.params['validation.fraction'], '0.25');
    assert.match(child.params['base_model.source'], /^model\.json#sha256=[0-9a-f]{64}$/);
    assert.equal(child.params['freeze.0.to'], 'flatten');
    // Grouped as the UI groups charts, by prefix: training, validation, diagnostics.
    for (const key of ['train/loss', 'train/accuracy', 'val/loss', 'val/accuracy', 'train/learning_rate', 'diag/epoch_seconds', 'diag/examples_per_second']) {
      assert.deepEqual(child.history[key]?.map((m) => m.step), [1, 2], key);
    }
    for (const key of Object.keys(child.history)) assert.match(key, /^(train|val|kept|diag)\//, key);
    const stored = readdirSync(join(dir, 'runs', 'tracked'))
      .flatMap((s) => readdirSync(join(dir, 'runs', 'tracked', s)).map((v) => join(dir, 'runs', 'tracked', s, v)))
      .find((p) => p.endsWith(child.tags['tunespec.variant_id']))!;
    const local = readFileSync(join(stored, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    assert.deepEqual(child.history['val/loss'].map((m) => m.value), local.map((l) => l.val_loss));
    assert.deepEqual(child.history['val/loss'].map((m) => m.timestamp), local.map((l) => l.timestamp));
    // The score is the kept weights', logged once, at the kept epoch's step.
    const result = JSON.parse(readFileSync(join(stored, 'result.json'), 'utf8'));
    assert.deepEqual(child.history['kept/val/accuracy'].map((m) => [m.step, m.value]), [[result.metrics.kept_epoch, result.metrics.val_accuracy]]);
    assert.deepEqual(child.history['kept/epoch'].map((m) => m.step), [result.metrics.kept_epoch]);
    assert.ok(result.metrics.kept_epoch >= 1);
    // The frozen prefix ran once for the sweep: one variant computed its features, the other read them.
    assert.match(child.tags['tunespec.feature_cache'], /^(hit|miss): features of flatten /);
    assert.equal(child.history['diag/feature_cache/hit']?.[0]?.value, child.tags['tunespec.feature_cache'].startsWith('hit') ? 1 : 0);
    assert.equal(child.tags['tunespec.onnx'], 'exported');
    assert.equal(child.history['diag/onnx/argmax_agreement']?.[0]?.value, 1);
    assert.ok(child.history['diag/onnx/max_abs_diff'][0].value < 1e-5);
    assert.equal(child.tags['mlflow.source.git.commit'], commit);
    assert.equal(child.tags['mlflow.source.git.branch'], 'sweeps');
    assert.equal(child.tags['mlflow.source.git.repoURL'], 'https://git.example.com/team/models.git');
    assert.equal(child.tags['tunespec.git.dirty'], 'false');
    assert.equal(child.tags['mlflow.source.name'], 'tracked.yaml');
    assert.equal(child.tags['mlflow.source.type'], 'LOCAL');
    assert.ok(child.tags['mlflow.user']);
    assert.match(child.tags['tunespec.variant_id'], /^[0-9a-f]{12}$/);
    assert.equal(child.tags['tunespec.sweep_id'], parent.tags['tunespec.sweep_id']);
    assert.equal(child.tags['tunespec.engine'], 'wasm');
    assert.equal(child.tags['tunespec.device'], 'cpu');
    assert.match(child.tags['mlflow.note.content'], /\| kept\/val\/accuracy \|/);
    assert.deepEqual(child.inputs.map((i) => i.tags.find((t) => t.key === 'mlflow.data.context')?.value).sort(), ['training', 'validation']);
    const paths = child.artifacts.map((a) => a.path);
    for (const p of ['spec.yaml', 'metrics.csv', 'confusion_matrix.json', 'confusion_matrix.png', 'learning_curves.png', 'model/model.json', 'model/weights.bin', 'model.onnx']) {
      assert.ok(paths.includes(p), `${p} in ${paths.join(', ')}`);
    }
    assert.deepEqual(JSON.parse((await downloadArtifact(server.uri, child, 'confusion_matrix.json')).toString()), JSON.parse(readFileSync(join(stored, 'confusion_matrix.json'), 'utf8')));
    assert.deepEqual([...(await downloadArtifact(server.uri, child, 'learning_curves.png')).subarray(1, 4)], [...Buffer.from('PNG')]);
    // Logged the way MLflow's log_image logs them, at the kept epoch's step, so the comparison's image view shows them.
    assert.equal(child.tags['mlflow.loggedImages'], 'True');
    for (const key of ['learning_curves', 'confusion_matrix']) {
      const logged = paths.filter((p) => p.startsWith(`images/${key}+step+${result.metrics.kept_epoch}+timestamp+`));
      assert.deepEqual(logged.map((p) => p.endsWith('+compressed.png')).sort(), [false, true], paths.join(', '));
      assert.deepEqual(await downloadArtifact(server.uri, child, logged.find((p) => !p.endsWith('+compressed.png'))!), readFileSync(join(stored, `${key}.png`)));
    }
    assert.deepEqual(await downloadArtifact(server.uri, child, 'model/weights.bin'), readFileSync(join(stored, 'model', 'weights.bin')));
  }

  // Credentials appear nowhere: output, local store, params, tags, artifacts.
  const everywhere = [r.stdout, r.stderr, ...filesUnder(join(dir, 'runs')).map((f) => readFileSync(f, 'latin1'))];
  for (const run of exp.runs) {
    everywhere.push(JSON.stringify(run.params), JSON.stringify(run.tags));
    for (const a of run.artifacts) everywhere.push((await downloadArtifact(server.uri, run, a.path)).toString('latin1'));
  }
  for (const text of everywhere) {
    assert.ok(!text.includes(PASSWORD) && !text.includes(TOKEN) && !text.includes('alice:'), 'a credential leaked');
  }
});

test('a bearer token is sent but never recorded; re-running skips what MLflow already holds, even from another run store', async () => {
  const dir = tempDir();
  const spec = writeSmallSpec(dir, { name: 'rerun' });
  const env = { MLFLOW_TRACKING_URI: server.uri, MLFLOW_TRACKING_TOKEN: TOKEN, ...fast };
  const first = tunespec(['run', spec, '--runs-dir', join(dir, 'runs')], dir, env);
  assert.equal(first.code, 0, first.stderr);
  const again = tunespec(['run', spec, '--runs-dir', join(dir, 'runs')], dir, env);
  assert.equal(again.code, 0, again.stderr);
  assert.match(again.stdout, /0 completed, 2 skipped/);
  const elsewhere = tunespec(['run', spec, '--runs-dir', join(dir, 'other-runs')], dir, env);
  assert.equal(elsewhere.code, 0, elsewhere.stderr);
  assert.match(elsewhere.stdout, /0 completed, 2 skipped/);
  assert.match(elsewhere.stdout, /already finished in MLflow run http:\/\/127\.0\.0\.1:\d+\/#\/experiments\//);
  const exp = await readExperiment(server.uri, 'rerun');
  assert.equal(exp.runs.length, 3, 'one parent and two children, nothing duplicated');
  for (const text of [first.stdout, first.stderr, ...exp.runs.map((x) => JSON.stringify(x.tags) + JSON.stringify(x.params))]) assert.ok(!text.includes(TOKEN));

  // `runs` names the best variant's MLflow run.
  const listed = tunespec(['runs', spec, '--runs-dir', join(dir, 'runs')], dir, env);
  const url = listed.stdout.match(/^MLflow: http:\/\/127\.0\.0\.1:\d+\/#\/experiments\/\d+\/runs\/([0-9a-f]+)\?workflowType=machine_learning$/m);
  assert.ok(url, listed.stdout);
  const bestId = listed.stdout.match(/^best: ([0-9a-f]{12})/m)![1];
  assert.equal(exp.runs.find((x) => x.id === url[1])?.tags['tunespec.variant_id'], bestId);

  // sync after a clean run uploads nothing.
  const sync = tunespec(['sync', spec, '--runs-dir', join(dir, 'runs')], dir, env);
  assert.equal(sync.code, 0, sync.stderr);
  assert.match(sync.stdout, /2 variant\(s\) checked, 0 metric value\(s\) and 0 file\(s\) uploaded/);
});

test('a child left RUNNING by a dead process is marked KILLED and the variant retrains under the same parent', async () => {
  const dir = tempDir();
  const spec = writeSmallSpec(dir, { name: 'stale', sweep: '  training.learning_rate: [0.01]' });
  const env = { MLFLOW_TRACKING_URI: server.uri, ...fast };
  assert.equal(tunespec(['run', spec, '--runs-dir', join(dir, 'runs')], dir, env).code, 0);
  const before = await readExperiment(server.uri, 'stale');
  const parent = before.runs.find((x) => x.tags['tunespec.kind'] === 'sweep')!;
  const child = before.runs.find((x) => x.tags['tunespec.kind'] === 'variant')!;
  // What a process killed mid-variant leaves behind: a RUNNING child of the same variant.
  const res = await send(`${server.uri}/api/2.0/mlflow/runs/create`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({
      experiment_id: before.id,
      run_name: child.name,
      start_time: Date.now(),
      tags: [
        { key: 'mlflow.parentRunId', value: parent.id },
        { key: 'tunespec.kind', value: 'variant' },
        { key: 'tunespec.sweep_id', value: child.tags['tunespec.sweep_id'] },
        { key: 'tunespec.variant_id', value: child.tags['tunespec.variant_id'] },
        { key: 'tunespec.attempt', value: 'killed-attempt' },
      ],
    }),
  });
  assert.ok(res.ok);
  const r = tunespec(['run', spec, '--runs-dir', join(dir, 'runs'), '--force'], dir, env);
  assert.equal(r.code, 0, r.stderr);
  const afterRun = await readExperiment(server.uri, 'stale');
  const attempts = afterRun.runs.filter((x) => x.tags['tunespec.kind'] === 'variant').map((x) => [x.tags['tunespec.attempt'] === 'killed-attempt' ? 'dead' : 'live', x.status]);
  assert.deepEqual(attempts.sort(), [['dead', 'KILLED'], ['live', 'FINISHED'], ['live', 'FINISHED']]);
  assert.equal(afterRun.runs.filter((x) => x.tags['tunespec.kind'] === 'sweep').length, 1);
});

test('a deleted experiment is a clear error before anything trains or is written', async () => {
  const dir = tempDir();
  const spec = writeSmallSpec(dir, { name: 'binned' });
  const created = await send(`${server.uri}/api/2.0/mlflow/experiments/create`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ name: 'binned' }) });
  const { experiment_id } = (await created.json()) as { experiment_id: string };
  await send(`${server.uri}/api/2.0/mlflow/experiments/delete`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ experiment_id }) });
  const r = tunespec(['run', spec, '--runs-dir', join(dir, 'runs')], dir, { MLFLOW_TRACKING_URI: server.uri, ...fast });
  assert.equal(r.code, 1);
  assert.match(r.stderr, /MLflow experiment "binned" \(id \d+\) exists but is deleted: restore it/);
  assert.throws(() => readdirSync(join(dir, 'runs', 'binned')), /ENOENT/);
});

test('--tracking-uri beats the spec, which beats MLFLOW_TRACKING_URI; tracking.experiment names the experiment', async () => {
  const dir = tempDir();
  const spec = writeSmallSpec(dir, { name: 'routed', sweep: '  training.learning_rate: [0.01]', extra: `tracking: { uri: "http://127.0.0.1:9", experiment: team-board }` });
  const env = { MLFLOW_TRACKING_URI: 'http://127.0.0.1:9', ...fast };
  const r = tunespec(['run', spec, '--runs-dir', join(dir, 'runs'), '--tracking-uri', server.uri], dir, env);
  assert.equal(r.code, 0, r.stderr);
  const exp = await readExperiment(server.uri, 'team-board');
  assert.equal(exp.runs.length, 2);
});

test('failed variants are FAILED runs with their reason; Ctrl-C leaves KILLED runs; the parent says which', async () => {
  const dir = tempDir();
  const env = { MLFLOW_TRACKING_URI: server.uri, ...fast };
  const failing = writeSmallSpec(dir, { name: 'tracked-failing' });
  const r = tunespec(['run', failing, '--runs-dir', join(dir, 'runs'), '--backend', 'native'], dir, env);
  assert.equal(r.code, 1);
  const failed = await readExperiment(server.uri, 'tracked-failing');
  const byKind = (kind: string) => failed.runs.filter((x) => x.tags['tunespec.kind'] === kind);
  assert.deepEqual(byKind('variant').map((x) => x.status), ['FAILED', 'FAILED']);
  for (const child of byKind('variant')) assert.match(child.tags['tunespec.reason'], /no engine can run this variant/);
  assert.equal(byKind('sweep')[0].status, 'FAILED');

  const long = writeSmallSpec(dir, { name: 'tracked-interrupted', epochs: 200 });
  let sent = false;
  const i = await tunespecAsync(
    ['run', long, '--runs-dir', join(dir, 'runs')],
    (chunk, child) => {
      if (!sent && /epoch 2\/200/.test(chunk)) {
        sent = true;
        child.kill('SIGINT');
      }
    },
    env,
  );
  assert.equal(i.code, 130, i.stderr);
  const killed = await readExperiment(server.uri, 'tracked-interrupted');
  const child = killed.runs.find((x) => x.tags['tunespec.kind'] === 'variant')!;
  assert.equal(child.status, 'KILLED');
  assert.ok(child.history['val/loss'].length >= 2, 'the epochs it trained are there');
  assert.equal(killed.runs.find((x) => x.tags['tunespec.kind'] === 'sweep')!.status, 'KILLED');
});

test('turning tracking on after a local-only run uploads the stored variants; an uncommitted spec is marked dirty', async () => {
  const { dir, spec } = specInRepo('tracked-later');
  appendFileSync(spec, '# tweaked after the commit\n');
  const local = tunespec(['run', spec, '--runs-dir', join(dir, 'runs')], dir);
  assert.equal(local.code, 0, local.stderr);
  const r = tunespec(['run', spec, '--runs-dir', join(dir, 'runs')], dir, { MLFLOW_TRACKING_URI: server.uri, ...fast });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /0 completed, 2 skipped/);
  // Skipped means not retrained: what goes to the server instead is said (in variant-id order, which the spec's text decides).
  assert.match(r.stdout, /MLflow: uploading 2 attempt\(s\) from \S+ that the server lacks: lr=0\.0?01 \([0-9a-f]{12}, completed\), lr=0\.0?01 \([0-9a-f]{12}, completed\); a variant skipped below is not retrained, only uploaded/);
  const exp = await readExperiment(server.uri, 'tracked-later');
  const children = exp.runs.filter((x) => x.tags['tunespec.kind'] === 'variant');
  assert.deepEqual(children.map((x) => x.status), ['FINISHED', 'FINISHED']);
  for (const child of children) {
    assert.deepEqual(child.history['val/accuracy'].map((m) => m.step), [1, 2]);
    assert.equal(child.tags['tunespec.git.dirty'], 'true');
  }
});

test('sync onto runs an older tunespec logged (flat metric names, other params) adds the new names beside the old, then uploads nothing', async () => {
  const dir = tempDir();
  const spec = writeSmallSpec(dir, { name: 'legacy', sweep: '  training.learning_rate: [0.01]' });
  const local = tunespec(['run', spec, '--runs-dir', join(dir, 'runs')], dir);
  assert.equal(local.code, 0, local.stderr);
  const stored = filesUnder(join(dir, 'runs', 'legacy'));
  const status = JSON.parse(readFileSync(stored.find((f) => f.endsWith('status.json'))!, 'utf8'));
  const post = async (path: string, body: unknown): Promise<any> => {
    const res = await send(`${server.uri}/api/2.0/mlflow/${path}`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
    const text = await res.text();
    assert.ok(res.ok, `${path}: ${res.status} ${text}`);
    return JSON.parse(text);
  };
  // What the previous layout left on the server: flat names, final/* at step 0, name and relative sources as params.
  const { experiment_id } = await post('experiments/create', { name: 'legacy' });
  const sweepTag = { key: 'tunespec.sweep_id', value: status.sweep };
  const parent = (await post('runs/create', { experiment_id, run_name: 'sweep', start_time: Date.now(), tags: [{ key: 'tunespec.kind', value: 'sweep' }, sweepTag] })).run.info.run_id;
  const tags = [
    { key: 'mlflow.parentRunId', value: parent },
    { key: 'tunespec.kind', value: 'variant' },
    sweepTag,
    { key: 'tunespec.variant_id', value: status.variant },
    { key: 'tunespec.attempt', value: status.attempt },
  ];
  const child = (await post('runs/create', { experiment_id, run_name: status.label, start_time: Date.now(), tags })).run.info.run_id;
  const t = Date.now();
  await post('runs/log-batch', {
    run_id: child,
    params: [{ key: 'name', value: 'legacy' }, { key: 'base_model.source', value: '../models/fashion-base/model.json' }],
    metrics: [
      { key: 'val_accuracy', value: 0.5, timestamp: t, step: 1 },
      { key: 'val_accuracy', value: 0.6, timestamp: t, step: 2 },
      { key: 'final/val_accuracy', value: 0.6, timestamp: t, step: 0 },
    ],
  });
  await post('runs/update', { run_id: child, status: 'FINISHED', end_time: t });

  const env = { MLFLOW_TRACKING_URI: server.uri, ...fast };
  const sync = tunespec(['sync', spec, '--runs-dir', join(dir, 'runs')], dir, env);
  assert.equal(sync.code, 0, sync.stderr);
  const exp = await readExperiment(server.uri, 'legacy');
  assert.equal(exp.runs.length, 2, 'the old runs are reused, not duplicated');
  const run = exp.runs.find((x) => x.id === child)!;
  assert.equal(run.params['base_model.source'], '../models/fashion-base/model.json', 'a logged param keeps its value');
  assert.equal(run.params.name, 'legacy');
  assert.deepEqual(run.history.val_accuracy.map((m) => m.step), [1, 2], 'old names stay');
  assert.deepEqual(run.history['val/accuracy'].map((m) => m.step), [1, 2]);
  assert.equal(run.history['kept/val/accuracy'].length, 1);
  const parentRun = exp.runs.find((x) => x.id === parent)!;
  assert.equal(parentRun.tags.best_run_id, child);
  assert.equal(parentRun.history['best/val/accuracy'][0].value, run.history['kept/val/accuracy'][0].value);

  const again = tunespec(['sync', spec, '--runs-dir', join(dir, 'runs')], dir, env);
  assert.equal(again.code, 0, again.stderr);
  assert.match(again.stdout, /1 variant\(s\) checked, 0 metric value\(s\) and 0 file\(s\) uploaded/);
  assert.equal((await readExperiment(server.uri, 'legacy')).runs.find((x) => x.id === parent)!.history['best/val/accuracy'].length, 1, 'the summary is logged once');
});

test("Ctrl-C during a tracked run --force: the local completed result stays, and the interrupted attempt's run ends KILLED", async () => {
  const dir = tempDir();
  const env = { MLFLOW_TRACKING_URI: server.uri, ...fast };
  const spec = writeSmallSpec(dir, { name: 'tracked-forced', epochs: 150, sweep: '  training.learning_rate: [0.01]' });
  const runs = join(dir, 'runs');
  assert.equal(tunespec(['run', spec, '--runs-dir', runs], dir, env).code, 0);
  const i = await tunespecSignalled(['run', spec, '--runs-dir', runs, '--force'], /epoch 1\/150/, 'SIGINT', env);
  assert.equal(i.code, 130, i.stderr);
  assert.match(i.stdout, /this attempt was interrupted; the completed result in \S+ stays/);
  const exp = await readExperiment(server.uri, 'tracked-forced');
  const children = exp.runs.filter((x) => x.tags['tunespec.kind'] === 'variant');
  assert.deepEqual(children.map((x) => x.status).sort(), ['FINISHED', 'KILLED']);
  assert.equal(children.find((x) => x.status === 'KILLED')!.tags['tunespec.reason'], 'interrupted by the user');
  // The stored result is still the finished run's attempt.
  const sweep = readdirSync(join(runs, 'tracked-forced')).filter((e) => !e.startsWith('.'))[0];
  const variant = readdirSync(join(runs, 'tracked-forced', sweep)).filter((e) => /^[0-9a-f]{12}$/.test(e))[0];
  const stored = JSON.parse(readFileSync(join(runs, 'tracked-forced', sweep, variant, 'status.json'), 'utf8'));
  assert.equal(stored.status, 'completed');
  assert.equal(children.find((x) => x.status === 'FINISHED')!.tags['tunespec.attempt'], stored.attempt);
});
