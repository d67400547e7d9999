import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BIN, cliEnv, ROOT, tempDir, tunespec, tunespecAsync, writeSmallSpec } from '../helpers/cli.ts';
import { MlflowServer } from '../helpers/mlflow-server.ts';
import { downloadArtifact, readExperiment, send } from '../helpers/mlflow-read.ts';
import { RedisServer } from '../helpers/redis-server.ts';
import { MlflowClient } from '../../src/track/mlflow/client.ts';
import { resolveTrackingConfig } from '../../src/track/mlflow/config.ts';
import { ensureExperiment, SweepTracker } from '../../src/track/mlflow/sweep-tracker.ts';
import type { SweepRecord } from '../../src/track/local-store.ts';

const REDIS_PASSWORD = 'redis-SECRET-2718';
// Both servers exist before either starts, so `after` stops whichever did start when the other fails.
const mlflow = new MlflowServer();
const redis = new RedisServer(REDIS_PASSWORD);
before(async () => {
  await Promise.all([mlflow.start(), redis.start()]);
});
after(async () => {
  await Promise.all([mlflow.stop(), redis.stop()]);
});

interface WorkerProcess {
  child: ChildProcess;
  log(): string;
  exited: Promise<number | null>;
}

/** A worker as its own process, the way each machine would run one. Short lock and stall check, so a killed worker's job is found in seconds. */
function startWorker(name: string, runsDir: string, extra: string[] = []): WorkerProcess {
  const args = ['worker', '--queue', redis.url, '--name', name, '--runs-dir', runsDir, '--lock-duration', '4', '--stalled-interval', '1', ...extra];
  const child = spawn(process.execPath, [BIN, ...args], { cwd: ROOT, env: cliEnv({ MLFLOW_TRACKING_URI: mlflow.uri }) });
  let out = '';
  child.stdout!.setEncoding('utf8').on('data', (c: string) => (out += c));
  child.stderr!.setEncoding('utf8').on('data', (c: string) => (out += c));
  return { child, log: () => out, exited: new Promise((resolve) => child.on('exit', (code) => resolve(code))) };
}

/** Completed attempts in a run store, by variant id. */
function completedIn(runs: string, experiment: string): string[] {
  const exp = join(runs, experiment);
  if (!existsSync(exp)) return [];
  const ids: string[] = [];
  // Hidden entries are not sweeps: a worker killed mid-variant leaves its variant's `.lock-<id>`.
  for (const sweep of readdirSync(exp).filter((s) => !s.startsWith('.'))) {
    for (const v of readdirSync(join(exp, sweep))) {
      const status = join(exp, sweep, v, 'status.json');
      if (!v.startsWith('.') && statSync(join(exp, sweep, v)).isDirectory() && existsSync(status) && JSON.parse(readFileSync(status, 'utf8')).status === 'completed') ids.push(v);
    }
  }
  return ids;
}

/** The RUNNING run of a variant trained by `worker`, found with one search (readExperiment would fetch every history). */
async function runningRunOf(variant: string, worker: string): Promise<string | undefined> {
  const api = (path: string, init?: RequestInit) => send(`${mlflow.uri}/api/2.0/mlflow/${path}`, { ...init, headers: { 'Content-Type': 'application/json' } }).then((r) => (r.ok ? r.json() : undefined));
  const exp = await api('experiments/get-by-name?experiment_name=queued');
  if (!exp) return undefined;
  const filter = `tags.\`tunespec.variant_id\` = '${variant}' and tags.\`tunespec.worker\` = '${worker}' and attributes.status = 'RUNNING'`;
  const found = await api('runs/search', { method: 'POST', body: JSON.stringify({ experiment_ids: [exp.experiment.experiment_id], filter }) });
  return found?.runs?.[0]?.info.run_id;
}

async function until<T>(what: string, probe: () => Promise<T | undefined> | T | undefined, seconds = 120): Promise<T> {
  const deadline = Date.now() + seconds * 1000;
  while (Date.now() < deadline) {
    const v = await probe();
    if (v !== undefined) return v;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`timed out waiting for ${what}`);
}

test('two workers train a queued sweep; one is killed -9 mid-variant; every variant completes exactly once, the killed attempt is KILLED in MLflow', async () => {
  const dir = tempDir();
  const spec = writeSmallSpec(dir, { name: 'queued', epochs: 10, sweep: '  training.learning_rate: [0.01, 0.003, 0.001]' });
  // Augmentation keeps the feature cache off: on cached features a variant ends before the kill lands.
  writeFileSync(spec, readFileSync(spec, 'utf8').replace('  limit_per_class: 60', '  limit_per_class: 60\n  augment: { flip: true }'));
  const runsA = join(dir, 'runs-a');
  const runsB = join(dir, 'runs-b');
  const a = startWorker('worker-a', runsA);
  const b = startWorker('worker-b', runsB);
  try {
    // The submitter queues the sweep and follows it; it learns which variant worker-a trains first.
    let victim: string | undefined;
    const submitted = tunespecAsync(['run', spec, '--queue', redis.url], (chunk) => {
      victim ??= /\(([0-9a-f]{12})\) training on worker-a: epoch \d+\/10/.exec(chunk)?.[1];
    }, { MLFLOW_TRACKING_URI: mlflow.uri });

    // Kill worker-a once its variant's MLflow child run exists and is RUNNING: a real mid-variant death.
    const variant = await until('worker-a to train a variant', () => victim);
    await until('worker-a\'s child run in MLflow', () => runningRunOf(variant, 'worker-a'));
    a.child.kill('SIGKILL');
    await a.exited;
    assert.equal(completedIn(runsA, 'queued').includes(variant), false, 'worker-a died before finishing its variant');

    const r = await submitted;
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /3 completed, 0 failed/);
    // Said while the job waits, or by its next attempt when another worker took it before a poll.
    assert.match(r.stdout, new RegExp(`\\(${variant}\\) (back in the queue|training on worker-b \\(again): its worker stopped answering`));

    // Local stores: each variant completed exactly once across the two machines.
    const done = [...completedIn(runsA, 'queued'), ...completedIn(runsB, 'queued')].sort();
    assert.equal(done.length, 3, done.join(' '));
    assert.equal(new Set(done).size, 3, `a variant completed twice: ${done.join(' ')}`);
    assert.ok(completedIn(runsB, 'queued').includes(variant), 'worker-b retrained the killed variant');

    // MLflow: one parent, one FINISHED child per variant, and the killed attempt KILLED under the same parent.
    const exp = await readExperiment(mlflow.uri, 'queued');
    const parents = exp.runs.filter((x) => x.tags['tunespec.kind'] === 'sweep');
    assert.equal(parents.length, 1);
    const parent = parents[0];
    const children = exp.runs.filter((x) => x.tags['tunespec.kind'] === 'variant');
    for (const c of children) assert.equal(c.tags['mlflow.parentRunId'], parent.id);
    const finished = children.filter((c) => c.status === 'FINISHED');
    assert.deepEqual(finished.map((c) => c.tags['tunespec.variant_id']).sort(), done);
    const killed = children.filter((c) => c.status === 'KILLED');
    assert.equal(killed.length, 1, children.map((c) => `${c.tags['tunespec.variant_id']} ${c.tags['tunespec.worker']} ${c.status}`).join('\n'));
    assert.equal(killed[0].tags['tunespec.variant_id'], variant);
    assert.equal(killed[0].tags['tunespec.worker'], 'worker-a');
    assert.equal(finished.find((c) => c.tags['tunespec.variant_id'] === variant)!.tags['tunespec.worker'], 'worker-b');
    assert.notEqual(killed[0].tags['tunespec.attempt'], finished.find((c) => c.tags['tunespec.variant_id'] === variant)!.tags['tunespec.attempt']);
    assert.equal(children.length, 4);
    // The last variant to settle closed the parent, with every variant in its table.
    const closed = await until('the parent run to close', async () => (await readExperiment(mlflow.uri, 'queued')).runs.find((x) => x.id === parent.id && x.status === 'FINISHED'), 30);
    assert.equal(closed.params['sweep.training.learning_rate'], '0.01,0.003,0.001');
    const table = (await downloadArtifact(mlflow.uri, closed, 'comparison.csv')).toString().trim().split('\n');
    assert.deepEqual(table.slice(1).map((row) => row.split(',').at(-1)).sort(), done);

    // Queuing the sweep again adds nothing, and status reattaches to the finished sweep.
    const again = tunespec(['run', spec, '--queue', redis.url, '--detach'], dir, { MLFLOW_TRACKING_URI: mlflow.uri });
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, /0 variant\(s\) queued on redis:\/\/127\.0\.0\.1:\d+, 3 already queued or done/);
    const status = tunespec(['status', spec, '--queue', redis.url], dir, { MLFLOW_TRACKING_URI: mlflow.uri });
    assert.equal(status.code, 0, status.stderr);
    assert.equal(status.stdout.match(/completed on worker-/g)?.length, 3);

    // Worker-b stops cleanly on SIGTERM.
    b.child.kill('SIGTERM');
    assert.equal(await b.exited, 0, b.log());

    // The Redis password reaches no output and no MLflow field.
    const everywhere = [r.stdout, r.stderr, again.stdout, again.stderr, status.stdout, status.stderr, a.log(), b.log()];
    for (const run of exp.runs) everywhere.push(JSON.stringify(run.params), JSON.stringify(run.tags));
    for (const text of everywhere) assert.ok(!text.includes(REDIS_PASSWORD), 'the Redis password leaked');
  } finally {
    for (const w of [a, b]) if (w.child.exitCode === null) w.child.kill('SIGKILL');
  }
});

test('a deterministic failure (NaN loss) is not retried; the rest of the sweep completes; the parent is FAILED', async () => {
  const dir = tempDir();
  const spec = writeSmallSpec(dir, { name: 'queued-nan', epochs: 2, sweep: '  data.scale: [1.0e-38, 255]' });
  writeFileSync(spec, readFileSync(spec, 'utf8').replace('  limit_per_class: 60', '  limit_per_class: 60\n  scale: 255'));
  const w = startWorker('worker-n', join(dir, 'runs'));
  try {
    const r = await tunespecAsync(['run', spec, '--queue', redis.url, '--attempts', '3', '--backoff', '0.1'], undefined, { MLFLOW_TRACKING_URI: mlflow.uri });
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(r.stdout, /1 completed, 1 failed/);
    assert.match(r.stdout, /failed after 1 attempt\(s\): worker worker-n: the inputs hold \d+ NaN or infinite values \(check data\.scale and base_model\.preprocess\) \(deterministic: not retried\)/);
    const exp = await readExperiment(mlflow.uri, 'queued-nan');
    const children = exp.runs.filter((x) => x.tags['tunespec.kind'] === 'variant');
    assert.deepEqual(children.map((c) => c.status).sort(), ['FAILED', 'FINISHED'], 'one attempt each: the NaN variant was not retried');
    const parent = await until('the parent run to close', async () => (await readExperiment(mlflow.uri, 'queued-nan')).runs.find((x) => x.tags['tunespec.kind'] === 'sweep' && x.status !== 'RUNNING'), 30);
    assert.equal(parent.status, 'FAILED');
  } finally {
    w.child.kill('SIGKILL');
    await w.exited;
  }
});

test('a queued sweep with `register:` registers its best variant when it closes: the worker and the attached run agree on one version, and status again changes nothing', async () => {
  const dir = tempDir();
  const name = 'queued-classifier';
  const spec = writeSmallSpec(dir, { name: 'queued-register', epochs: 1, extra: `register:\n  name: ${name}` });
  const w = startWorker('worker-r', join(dir, 'runs'));
  const versions = async (): Promise<{ version: string; tags?: { key: string; value: string }[] }[]> => {
    const res = await send(`${mlflow.uri}/api/2.0/mlflow/model-versions/search?${new URLSearchParams({ filter: `name = '${name}'` })}`, {});
    return ((await res.json()) as { model_versions?: { version: string; tags?: { key: string; value: string }[] }[] }).model_versions ?? [];
  };
  try {
    // Both the last worker and this attached run close the sweep, each registering.
    const r = await tunespecAsync(['run', spec, '--queue', redis.url], undefined, { MLFLOW_TRACKING_URI: mlflow.uri });
    assert.equal(r.code, 0, r.stdout + r.stderr);
    await until('the worker to close the sweep', () => (/MLflow parent run closed/.test(w.log()) ? true : undefined), 60);
    const exp = await readExperiment(mlflow.uri, 'queued-register');
    const children = exp.runs.filter((x) => x.tags['tunespec.kind'] === 'variant');
    assert.equal(children.length, 2);
    const best = [...children].sort((a, b) => b.history['kept/val/accuracy'][0].value - a.history['kept/val/accuracy'][0].value)[0];
    const said = new RegExp(`MLflow: best variant ${best.tags['tunespec.variant_id']} \\(${best.name.replace(/[.]/g, '\\.')}\\) (registered|was already registered) as models:/${name}/\\d+: http://127\\.0\\.0\\.1:\\d+/#/models/${name}/versions/\\d+`);
    assert.match(r.stdout, said);
    assert.match(w.log(), said);
    const [only, ...more] = await versions();
    assert.equal(more.length, 0, 'one version, however the two closers interleaved');
    const tags = Object.fromEntries((only.tags ?? []).map((t) => [t.key, t.value]));
    assert.equal(tags['tunespec.variant_id'], best.tags['tunespec.variant_id']);
    assert.equal(tags['tunespec.attempt'], best.tags['tunespec.attempt']);
    assert.ok(r.stdout.includes(`models:/${name}/${only.version}:`), r.stdout);

    // Watching the settled sweep again closes it again, which registers nothing new.
    const status = tunespec(['status', spec, '--queue', redis.url], dir, { MLFLOW_TRACKING_URI: mlflow.uri });
    assert.equal(status.code, 0, status.stderr);
    assert.match(status.stdout, new RegExp(`was already registered as models:/${name}/${only.version}:`));
    assert.equal((await versions()).length, 1);
  } finally {
    w.child.kill('SIGKILL');
    await w.exited;
  }
});

test('a worker whose files differ from the submitter\'s fails the job with a clear message, after the configured retries; status reattaches', async () => {
  const dir = tempDir();
  const spec = writeSmallSpec(dir, { name: 'queued-moved', epochs: 1 });
  const queued = tunespec(['run', spec, '--queue', redis.url, '--detach', '--attempts', '2', '--backoff', '0.1'], dir);
  assert.equal(queued.code, 0, queued.stderr);
  assert.match(queued.stdout, /2 variant\(s\) queued on redis:\/\/127\.0\.0\.1:\d+\n/);
  assert.match(queued.stdout, /detached: `tunespec status .* --queue redis:\/\/127\.0\.0\.1:\d+` watches the sweep/);
  // The spec this worker sees is not the one that was queued.
  writeFileSync(spec, readFileSync(spec, 'utf8') + '# edited after queuing\n');
  const w = startWorker('worker-m', join(dir, 'runs'));
  try {
    const r = await tunespecAsync(['status', spec, '--queue', redis.url]);
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(r.stdout, /failed after 2 attempt\(s\): worker worker-m: .*queued-moved\.yaml differs from the spec the sweep was queued from \(sha256 [0-9a-f]{12}, queued [0-9a-f]{12}\)/);
    assert.match(r.stdout, /0 completed, 2 failed/);
    assert.ok(!existsSync(join(dir, 'runs')), 'nothing was written to the worker\'s run store');
    // Queuing again retries the failed jobs.
    const again = tunespec(['run', spec, '--queue', redis.url, '--detach'], dir);
    assert.match(again.stdout, /0 variant\(s\) queued .*, 2 failed one\(s\) queued again/);
  } finally {
    w.child.kill('SIGKILL');
    await w.exited;
  }
});

test('bad queue options are usage errors; an unreachable Redis is a clear error; nothing is queued or written', () => {
  const dir = tempDir();
  const spec = writeSmallSpec(dir, { name: 'queued-bad' });
  const cases: [string[], number, RegExp][] = [
    [['run', spec, '--queue', 'http://127.0.0.1:6379'], 2, /--queue http:\/\/127\.0\.0\.1:6379: scheme "http:" is not supported/],
    [['run', spec, '--queue', redis.url, '--index', '0'], 2, /--queue runs the whole sweep: --index, --only, --force and --restart do not apply/],
    [['run', spec, '--queue', redis.url, '--attempts', '0'], 2, /--attempts must be an integer ≥ 1; got "0"/],
    [['run', spec, '--queue', redis.url, '--tracking-uri', 'http://bob:pw-XYZ@127.0.0.1:5000'], 2, /--tracking-uri http:\/\/127\.0\.0\.1:5000 carries credentials/],
    [['worker', '--queue', redis.url, '--concurrency', 'two'], 2, /--concurrency must be an integer ≥ 1; got "two"/],
    [['worker'], 2, /worker needs --queue/],
    [['status', spec], 2, /status needs --queue/],
    [['status', spec, '--queue', redis.url], 2, /status: no variant of sweep [0-9a-f]{12} .* is in the queue on redis:\/\/127\.0\.0\.1:\d+; `tunespec run/],
    [['run', spec, '--queue', `redis://:${REDIS_PASSWORD}@127.0.0.1:1`], 1, /^queue: no Redis answers at redis:\/\/127\.0\.0\.1:1: connect ECONNREFUSED/],
    [['run', spec, '--queue', redis.url.replace(REDIS_PASSWORD, 'wrong-pass')], 1, /^queue: no Redis answers at redis:\/\/127\.0\.0\.1:\d+: WRONGPASS/],
  ];
  for (const [args, code, message] of cases) {
    const r = tunespec(args, dir);
    assert.equal(r.code, code, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, message);
    assert.ok(!r.stderr.includes(REDIS_PASSWORD) && !r.stderr.includes('pw-XYZ') && !r.stderr.includes('wrong-pass'), r.stderr);
  }
  assert.ok(!existsSync(join(dir, 'runs')));
});

test('array tasks started together share one run store and one MLflow parent: each trains its index, params agree', async () => {
  const dir = tempDir();
  const runs = join(dir, 'runs');
  const spec = writeSmallSpec(dir, { name: 'arrayed', epochs: 3 });
  const env = { MLFLOW_TRACKING_URI: mlflow.uri };
  const [t0, t1] = await Promise.all([0, 1].map((i) => tunespecAsync(['run', spec, '--index', String(i), '--runs-dir', runs], undefined, env)));
  for (const t of [t0, t1]) {
    assert.equal(t.code, 0, t.stdout + t.stderr);
    assert.match(t.stdout, /1 completed, 0 skipped, 0 failed/);
    assert.doesNotMatch(t.stderr, /MLflow/, 'no MLflow warning (a param logged twice with different values would be one)');
  }
  // Both tasks logged to the same parent, whichever of them created it.
  const parentUrl = (out: string) => /MLflow: sweep logged to (\S+)/.exec(out)?.[1];
  assert.ok(parentUrl(t0.stdout));
  assert.equal(parentUrl(t0.stdout), parentUrl(t1.stdout));

  const done = completedIn(runs, 'arrayed');
  assert.equal(new Set(done).size, 2);
  const sweepDir = join(runs, 'arrayed', readdirSync(join(runs, 'arrayed'))[0]);
  assert.equal(JSON.parse(readFileSync(join(sweepDir, 'sweep.json'), 'utf8')).variants.length, 2, 'the sweep record lists the whole plan');
  assert.ok(!readdirSync(sweepDir).some((e) => e.startsWith('.staging')));

  const exp = await readExperiment(mlflow.uri, 'arrayed');
  const parents = exp.runs.filter((x) => x.tags['tunespec.kind'] === 'sweep');
  assert.equal(parents.length, 1, 'one parent (a duplicate created by a task starting at the same moment is deleted)');
  assert.equal(parents[0].params['sweep.training.learning_rate'], '0.01,0.001');
  const children = exp.runs.filter((x) => x.tags['tunespec.kind'] === 'variant');
  assert.deepEqual(children.map((c) => c.tags['tunespec.variant_id']).sort(), done.sort());
  for (const c of children) {
    assert.equal(c.status, 'FINISHED');
    assert.equal(c.tags['mlflow.parentRunId'], parents[0].id);
  }
});

test('two processes that both found no parent run for a sweep log their children under one: the later creator deletes its own', async () => {
  const client = new MlflowClient(resolveTrackingConfig({ flag: mlflow.uri, spec: {}, specName: 'race', env: {} })!);
  const experimentId = await ensureExperiment(client, 'race', { metric: 'val_accuracy', greaterIsBetter: true });
  const record: SweepRecord = { sweep: 'racesweep001', experiment: 'race', spec: 'race.yaml', variants: [], started: '2026-01-01T00:00:00.000Z' };
  const first = new SweepTracker(client, experimentId, record, '');
  const second = new SweepTracker(client, experimentId, record, '');
  // Both look before either creates, as array tasks starting at the same moment do; both create.
  await Promise.all([first.load(), second.load()]);
  assert.equal(first.parent ?? second.parent, undefined);
  const created = [(await first.ensureParent()).run_id, (await second.ensureParent()).run_id];
  assert.notEqual(created[0], created[1]);
  const child = (tracker: SweepTracker, variantId: string) =>
    tracker.ensureChild({ variantId, attempt: `${variantId}-1`, runName: variantId, startTime: Date.now(), tags: [{ key: 'tunespec.kind', value: 'variant' }, { key: 'tunespec.variant_id', value: variantId }], params: [] });
  await child(second, 'v2');
  await child(first, 'v1');
  const exp = await readExperiment(mlflow.uri, 'race');
  const parents = exp.runs.filter((r) => r.tags['tunespec.kind'] === 'sweep');
  assert.deepEqual(parents.map((r) => r.id), [created[0]], 'the earlier parent stays, the later one is deleted');
  assert.deepEqual(exp.runs.filter((r) => r.tags['tunespec.kind'] === 'variant').map((r) => r.tags['mlflow.parentRunId']), [created[0], created[0]]);
});
