import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { tempDir, tunespec, tunespecAsync, writeSmallSpec } from '../helpers/cli.ts';
import { freePort, MlflowServer, startMlflow } from '../helpers/mlflow-server.ts';
import { readExperiment, snapshot } from '../helpers/mlflow-read.ts';

// Short retries so a dead server costs seconds, not the Python client's four minutes.
const fast = { MLFLOW_HTTP_REQUEST_MAX_RETRIES: '0', MLFLOW_HTTP_REQUEST_TIMEOUT: '5' };
const SWEEP = '  training.learning_rate: [0.01, 0.003, 0.001]';
const servers: MlflowServer[] = [];
after(async () => {
  for (const s of servers) await s.stop();
});

/** The same three-variant sweep under another experiment name: what an undisturbed run logs. */
async function undisturbed(): Promise<ReturnType<typeof snapshot>> {
  const server = await startMlflow();
  servers.push(server);
  const dir = tempDir();
  const spec = writeSmallSpec(dir, { name: 'calm', epochs: 3, sweep: SWEEP });
  const r = tunespec(['run', spec, '--runs-dir', join(dir, 'runs')], dir, { MLFLOW_TRACKING_URI: server.uri, ...fast });
  assert.equal(r.code, 0, r.stderr);
  return snapshot(await readExperiment(server.uri, 'calm'));
}

let reference: ReturnType<typeof snapshot> | undefined;
async function expected(): Promise<ReturnType<typeof snapshot>> {
  return (reference ??= await undisturbed());
}

test('server down when the sweep starts: training goes on, sync uploads it all later', async () => {
  const want = await expected();
  const port = await freePort();
  const uri = `http://127.0.0.1:${port}`;
  const dir = tempDir();
  const spec = writeSmallSpec(dir, { name: 'late', epochs: 3, sweep: SWEEP });
  const r = tunespec(['run', spec, '--runs-dir', join(dir, 'runs')], dir, { MLFLOW_TRACKING_URI: uri, ...fast });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /3 completed/);
  assert.match(r.stderr, /MLflow: no answer from http:\/\/127\.0\.0\.1:\d+; training goes on/);
  assert.match(r.stderr, /run `tunespec sync .*late\.yaml` when it answers/);

  const server = new MlflowServer({ port });
  servers.push(server);
  await server.start();
  const sync = tunespec(['sync', spec, '--runs-dir', join(dir, 'runs')], dir, { MLFLOW_TRACKING_URI: uri, ...fast });
  assert.equal(sync.code, 0, sync.stderr);
  assert.deepEqual(snapshot(await readExperiment(uri, 'late')), want);
  // A second sync finds nothing to do.
  const again = tunespec(['sync', join(dir, 'runs', 'late')], dir, { MLFLOW_TRACKING_URI: uri, ...fast });
  assert.match(again.stdout, /0 metric value\(s\) and 0 file\(s\) uploaded/);
  assert.deepEqual(snapshot(await readExperiment(uri, 'late')), want);
});

test('server killed mid-sweep and restarted: the logger or a later sync converge on the undisturbed state', async () => {
  const want = await expected();
  const server = await startMlflow();
  servers.push(server);
  const dir = tempDir();
  const spec = writeSmallSpec(dir, { name: 'bumpy', epochs: 3, sweep: SWEEP });
  let killed: Promise<void> | undefined;
  let restarted: Promise<unknown> | undefined;
  const r = await tunespecAsync(
    ['run', spec, '--runs-dir', join(dir, 'runs')],
    (chunk) => {
      // Kill it while the first variant trains (its child run exists, mid-history) ...
      if (!killed && /\[1\/3\].*epoch 1\/3/.test(chunk)) killed = server.kill();
      // ... and bring it back while the second one trains.
      if (killed && !restarted && /\[2\/3\].*epoch 1\/3/.test(chunk)) restarted = killed.then(() => server.start());
    },
    { MLFLOW_TRACKING_URI: server.uri, ...fast },
  );
  assert.equal(r.code, 0, r.stderr);
  assert.ok(killed && restarted, 'the test killed and restarted the server mid-sweep');
  assert.match(r.stderr, /MLflow: .*training goes on/);
  await restarted;
  const sync = tunespec(['sync', spec, '--runs-dir', join(dir, 'runs')], dir, { MLFLOW_TRACKING_URI: server.uri, ...fast });
  assert.equal(sync.code, 0, sync.stderr);
  assert.deepEqual(snapshot(await readExperiment(server.uri, 'bumpy')), want);
});

test('server killed mid-sweep for good: the run ends a few seconds after training, with one warning that points at sync', async () => {
  const server = await startMlflow();
  servers.push(server);
  const dir = tempDir();
  const spec = writeSmallSpec(dir, { name: 'gone', epochs: 3, sweep: '  training.learning_rate: [0.01]' });
  let killed: Promise<void> | undefined;
  // The Python client's own retry settings (8 attempts over about four minutes): what a user has.
  const r = await tunespecAsync(
    ['run', spec, '--runs-dir', join(dir, 'runs')],
    (chunk) => void (!killed && /epoch 1\/3/.test(chunk) && (killed = server.kill())),
    { MLFLOW_TRACKING_URI: server.uri },
  );
  assert.equal(r.code, 0, r.stderr);
  assert.ok(killed, 'the test killed the server mid-sweep');
  assert.match(r.stdout, /1 completed/);
  const warnings = r.stderr.split('\n').filter((l) => /MLflow/.test(l) && !/logging to/.test(l));
  assert.equal(warnings.length, 1, r.stderr);
  assert.match(warnings[0], /^MLflow: http:\/\/127\.0\.0\.1:\d+ stopped answering and did not take this sweep's results; run `tunespec sync .*gone\.yaml.*` when it answers$/);
  // Its requests were given up, not retried to the end.
  assert.doesNotMatch(r.stderr, /attempt\(s\)/);
});
