// A LoRA generation sweep on the tiny Llama scaled out as a classification sweep is (issue 16:
// "parent/child runs, params, artifacts, sync, queue and array jobs"), through the real CLI with
// a real MLflow server and a real Redis: array tasks into one run store and one parent run, `sync`
// of a local-only sweep onto a fresh server, and a queued sweep trained by one worker that registers
// its best variant whole.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BIN, cliEnv, ROOT, tempDir, tunespec, tunespecAsync } from '../helpers/cli.ts';
import { MlflowServer } from '../helpers/mlflow-server.ts';
import { downloadArtifact, readExperiment, type ReadRun } from '../helpers/mlflow-read.ts';
import { RedisServer } from '../helpers/redis-server.ts';
import { tinyChatSpec } from '../helpers/generation-variant.ts';
import { MlflowClient } from '../../src/track/mlflow/client.ts';
import { resolveTrackingConfig } from '../../src/track/mlflow/config.ts';
import { downloadModelVersion } from '../../src/track/mlflow/registry.ts';

const dir = tempDir('tunespec-generation-scale-');
const PROMPT = 'Review: The film was nice.\nSentiment:';

/** Two LoRA variants of one epoch each: the smallest sweep that has a parent, children and a winner. */
function writeSpec(name: string, extra = ''): string {
  const file = join(dir, `${name}.yaml`);
  writeFileSync(
    file,
    tinyChatSpec(
      name,
      `validation: { fraction: 0.25, seed: 1 }
lora: { rank: 4, alpha: 8 }
generation: { eval_prompts: ${JSON.stringify([PROMPT])}, max_new_tokens: 4 }
training: { epochs: 1, batch_size: 8, optimizer: adamw, learning_rate: 0.02, seed: 1 }
${extra}sweep:
  training.learning_rate: [0.02, 0.05]
`,
    ),
  );
  return file;
}

// Every server exists before any starts, so `after` stops whichever did start when another fails.
const mlflow = new MlflowServer();
const fresh = new MlflowServer();
const redis = new RedisServer();
before(async () => {
  await Promise.all([mlflow.start(), fresh.start(), redis.start()]);
});
after(async () => {
  await Promise.all([mlflow.stop(), fresh.stop(), redis.stop()]);
  rmSync(dir, { recursive: true, force: true });
});

async function until<T>(what: string, probe: () => Promise<T | undefined>, seconds = 60): Promise<T> {
  const deadline = Date.now() + seconds * 1000;
  while (Date.now() < deadline) {
    const v = await probe();
    if (v !== undefined) return v;
    await new Promise((r) => setTimeout(r, 300));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** The completed variant folders of an experiment in a run store, by variant id. */
function completed(runs: string, experiment: string): Map<string, string> {
  const out = new Map<string, string>();
  const root = join(runs, experiment);
  if (!existsSync(root)) return out;
  for (const sweep of readdirSync(root).filter((s) => !s.startsWith('.'))) {
    for (const v of readdirSync(join(root, sweep)).filter((v) => /^[0-9a-f]{12}$/.test(v))) {
      const status = join(root, sweep, v, 'status.json');
      if (existsSync(status) && JSON.parse(readFileSync(status, 'utf8')).status === 'completed') out.set(v, join(root, sweep, v));
    }
  }
  return out;
}

/** What a stored variant must be: merged model, completions table and its ft: name. */
function assertStoredVariant(variant: string, id: string, experiment: string): void {
  assert.ok(existsSync(join(variant, 'merged', 'model.safetensors')), `${variant}: merged/`);
  assert.ok(existsSync(join(variant, 'adapter', 'adapter_model.safetensors')), `${variant}: adapter/`);
  const status = JSON.parse(readFileSync(join(variant, 'status.json'), 'utf8'));
  assert.equal(status.model.name, `ft:tiny-llama:${experiment}:${id}`);
  const table = JSON.parse(readFileSync(join(variant, 'completions.json'), 'utf8'));
  assert.deepEqual(table.data.map((row: string[]) => row[0]), [PROMPT]);
}

/** A child run as the local store says it should be: one epoch of curves, the ft: tag, the completions table. */
async function assertChild(server: MlflowServer, child: ReadRun, stored: string, experiment: string): Promise<void> {
  const id = child.tags['tunespec.variant_id'];
  assert.equal(child.status, 'FINISHED', id);
  assert.equal(child.tags['tunespec.model'], `ft:tiny-llama:${experiment}:${id}`);
  const epoch = JSON.parse(readFileSync(join(stored, 'metrics.jsonl'), 'utf8').trim().split('\n')[0]);
  for (const [key, local] of [['train/loss', 'loss'], ['val/loss', 'val_loss'], ['val/perplexity', 'val_perplexity']]) {
    assert.deepEqual(child.history[key]?.map((m) => [m.step, m.value]), [[1, epoch[local]]], `${id} ${key}`);
  }
  assert.equal(child.history['kept/val/loss']?.[0].value, epoch.val_loss);
  assert.deepEqual(JSON.parse(child.tags['mlflow.loggedArtifacts']), [{ path: 'completions.json', type: 'table' }]);
  assert.deepEqual(await downloadArtifact(server.uri, child, 'completions.json'), readFileSync(join(stored, 'completions.json')));
  const paths = child.artifacts.map((a) => a.path);
  for (const p of ['adapter/adapter_model.safetensors', 'merged/config.json']) assert.ok(paths.includes(p), `${id}: ${p} in ${paths.join()}`);
}

/** The one parent and its children; the parent names the winner (the lower val_loss) with best/* metrics. */
async function assertSweep(server: MlflowServer, experiment: string, stored: Map<string, string>, wholeTable = true): Promise<{ parent: ReadRun; children: ReadRun[] }> {
  const exp = await readExperiment(server.uri, experiment);
  const parents = exp.runs.filter((x) => x.tags['tunespec.kind'] === 'sweep');
  assert.equal(parents.length, 1, 'one parent run');
  const [parent] = parents;
  assert.equal(parent.params['sweep.training.learning_rate'], '0.02,0.05');
  const children = exp.runs.filter((x) => x.tags['tunespec.kind'] === 'variant');
  assert.deepEqual(children.map((c) => c.tags['tunespec.variant_id']).sort(), [...stored.keys()].sort());
  for (const c of children) {
    assert.equal(c.tags['mlflow.parentRunId'], parent.id);
    await assertChild(server, c, stored.get(c.tags['tunespec.variant_id'])!, experiment);
  }
  const best = [...children].sort((a, b) => a.history['kept/val/loss'][0].value - b.history['kept/val/loss'][0].value)[0];
  assert.equal(parent.tags.best_variant_id, best.tags['tunespec.variant_id']);
  assert.equal(parent.tags.best_run_id, best.id);
  assert.equal(parent.history['best/val/loss']?.[0].value, best.history['kept/val/loss'][0].value);
  assert.equal(parent.history['best/val/perplexity']?.[0].value, best.history['val/perplexity'][0].value);
  // The comparison table compares perplexities, best first (array tasks sharing a store may each
  // upload it, so which rows the last upload has is a race there).
  const [header, ...rows] = (await downloadArtifact(server.uri, parent, 'comparison.csv')).toString().trim().split('\n');
  assert.equal(header, 'rank,variant,training.learning_rate,kept/val/loss,kept/val/perplexity,kept/epoch,status,seconds,variant_id');
  if (wholeTable) assert.deepEqual(rows.map((r) => r.split(',').at(-1)), [best, ...children.filter((c) => c !== best)].map((c) => c.tags['tunespec.variant_id']));
  return { parent, children };
}

test('array tasks --index 0 and --index 1 of a LoRA generation sweep share one run store and one MLflow parent', async () => {
  const spec = writeSpec('gen-array');
  const runs = join(dir, 'array-runs');
  const env = { MLFLOW_TRACKING_URI: mlflow.uri };
  const tasks = await Promise.all([0, 1].map((i) => tunespecAsync(['run', spec, '--index', String(i), '--runs-dir', runs], undefined, env)));
  for (const t of tasks) {
    assert.equal(t.code, 0, t.stdout + t.stderr);
    assert.match(t.stdout, /1 completed, 0 skipped, 0 failed/);
    assert.doesNotMatch(t.stderr, /MLflow/, 'no MLflow warning');
  }
  const parentUrl = (out: string) => /MLflow: sweep logged to (\S+)/.exec(out)?.[1];
  assert.ok(parentUrl(tasks[0].stdout), tasks[0].stdout);
  assert.equal(parentUrl(tasks[0].stdout), parentUrl(tasks[1].stdout));
  const stored = completed(runs, 'gen-array');
  assert.equal(stored.size, 2);
  for (const [id, variant] of stored) assertStoredVariant(variant, id, 'gen-array');
  await assertSweep(mlflow, 'gen-array', stored, false);
});

test('sync of a local-only LoRA generation sweep onto a fresh server logs the runs a tracked run logs; a second sync uploads nothing', async () => {
  const spec = writeSpec('gen-sync');
  const runs = join(dir, 'sync-runs');
  const local = tunespec(['run', spec, '--runs-dir', runs], dir);
  assert.equal(local.code, 0, local.stdout + local.stderr);
  assert.match(local.stdout, /2 completed, 0 skipped, 0 failed/);
  const stored = completed(runs, 'gen-sync');
  assert.equal(stored.size, 2);

  const env = { MLFLOW_TRACKING_URI: fresh.uri };
  const sync = tunespec(['sync', spec, '--runs-dir', runs], dir, env);
  assert.equal(sync.code, 0, sync.stdout + sync.stderr);
  const { parent, children } = await assertSweep(fresh, 'gen-sync', stored);
  // The same metric keys as the array tasks' live-logged children (values differ: another experiment, another sweep id).
  const live = (await readExperiment(mlflow.uri, 'gen-array')).runs.find((x) => x.tags['tunespec.kind'] === 'variant')!;
  for (const c of children) assert.deepEqual(Object.keys(c.history).sort(), Object.keys(live.history).sort());

  const again = tunespec(['sync', spec, '--runs-dir', runs], dir, env);
  assert.equal(again.code, 0, again.stdout + again.stderr);
  assert.match(again.stdout, /2 variant\(s\) checked, 0 metric value\(s\) and 0 file\(s\) uploaded/);
  const after = await readExperiment(fresh.uri, 'gen-sync');
  assert.equal(after.runs.length, 3, 'no run added');
  assert.equal(after.runs.find((x) => x.id === parent.id)!.history['best/val/loss'].length, 1, 'the summary is logged once');
});

test('a queued LoRA generation sweep: one worker trains both variants into MLflow and registers the best; runs prints the ft: name', async () => {
  const spec = writeSpec('gen-queue', 'register: { name: tiny-queued }\n');
  const runs = join(dir, 'worker-runs');
  const env = { MLFLOW_TRACKING_URI: mlflow.uri };
  const args = ['worker', '--queue', redis.url, '--name', 'worker-g', '--runs-dir', runs];
  const worker = spawn(process.execPath, [BIN, ...args], { cwd: ROOT, env: cliEnv(env) });
  let log = '';
  worker.stdout.setEncoding('utf8').on('data', (c: string) => (log += c));
  worker.stderr.setEncoding('utf8').on('data', (c: string) => (log += c));
  const exited = new Promise<number | null>((resolve) => worker.on('exit', (code) => resolve(code)));
  try {
    const r = await tunespecAsync(['run', spec, '--queue', redis.url], undefined, env);
    assert.equal(r.code, 0, r.stdout + r.stderr + log);
    assert.match(r.stdout, /2 completed, 0 failed/);
    // The submitter follows the generation scores, not a classifier's.
    assert.doesNotMatch(r.stdout, /val_acc/);
    assert.equal(r.stdout.match(/completed on worker-g in [\d.]+s: val_loss [\d.]+ val_ppl [\d.]+\n/g)?.length, 2, r.stdout);
    const stored = completed(runs, 'gen-queue');
    assert.equal(stored.size, 2);
    for (const [id, variant] of stored) assertStoredVariant(variant, id, 'gen-queue');
    const listed = tunespec(['runs', spec, '--runs-dir', runs], dir);
    assert.equal(listed.code, 0, listed.stderr);
    const best = /best: ([0-9a-f]{12}) /.exec(listed.stdout)?.[1];
    assert.ok(best && stored.has(best), listed.stdout);
    const name = `ft:tiny-llama:gen-queue:${best}`;
    assert.match(listed.stdout, new RegExp(`fine-tuned model: ${name}\\n`));

    // MLflow: the worker's children under the submitter's parent, closed with the winner; the winner registered whole.
    await until('the parent run to close', async () => ((await readExperiment(mlflow.uri, 'gen-queue')).runs.find((x) => x.tags['tunespec.kind'] === 'sweep')?.status === 'FINISHED' ? true : undefined));
    await assertSweep(mlflow, 'gen-queue', stored);
    assert.match(r.stdout, new RegExp(`MLflow: best variant ${best} \\(.*\\) (registered|was already registered) as models:/tiny-queued/1`), r.stdout + log);
    const tracking = resolveTrackingConfig({ flag: mlflow.uri, spec: {}, specName: 'gen-queue', env: {} })!;
    const { dir: downloaded } = await downloadModelVersion(new MlflowClient(tracking), 'models:/tiny-queued/1', join(dir, 'registry'));
    assert.deepEqual(readFileSync(join(downloaded, 'merged', 'model.safetensors')), readFileSync(join(stored.get(best)!, 'merged', 'model.safetensors')));
    assert.match(readFileSync(join(downloaded, 'MLmodel'), 'utf8'), new RegExp(`model_name: ${name}`));

    worker.kill('SIGTERM');
    assert.equal(await exited, 0, log);
  } finally {
    if (worker.exitCode === null) worker.kill('SIGKILL');
  }
});
