// A variant killed (kill -9, Ctrl-C) part-way and run again resumes from its last checkpoint and
// ends exactly where an unbroken run with the same seed ends: per-epoch metrics, final weights,
// MLflow history. Real CLI processes, real signals, a real MLflow server, real queue workers.
// On wasm by default; `TUNESPEC_TEST_ENGINE=native` runs the same on native TensorFlow.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BASE_MODEL, BIN, QUICKSTART_IMAGES, QUICKSTART_LABELS, ROOT, cliEnv as suiteEnv, tempDir, tunespecAsync as suiteCli, type CliResult, type Env } from '../helpers/cli.ts';
import { MlflowServer } from '../helpers/mlflow-server.ts';
import { readExperiment, snapshot } from '../helpers/mlflow-read.ts';
import { RedisServer } from '../helpers/redis-server.ts';

// Both exist before either starts, so `after` stops whichever did start when the other fails.
const server = new MlflowServer();
const redis = new RedisServer();
before(async () => {
  await Promise.all([server.start(), redis.start()]);
});
after(async () => {
  await Promise.all([server.stop(), redis.stop()]);
});

/**
 * The engine every training command here names: wasm, the portable one, unless
 * TUNESPEC_TEST_ENGINE names another (native: after `npm run setup:native`, whose build the suite
 * otherwise keeps out of reach).
 */
const ENGINE = process.env.TUNESPEC_TEST_ENGINE || 'wasm';
/** An engine whose checkpoints ENGINE must not resume from. */
const OTHER_ENGINE = ENGINE === 'cpu' ? 'wasm' : 'cpu';

/** `run` and `worker` train on ENGINE unless told otherwise; a submitter (`--queue`) trains nothing. */
function onEngine(args: string[]): string[] {
  const trains = (args[0] === 'run' && !args.includes('--queue')) || args[0] === 'worker';
  return trains && !args.includes('--backend') ? [...args, '--backend', ENGINE] : args;
}

const engineEnv = (env: Env = {}): Env => (ENGINE.startsWith('native') ? { TUNESPEC_NO_NATIVE_BUILD: undefined, ...env } : env);
const cliEnv = (env?: Env): NodeJS.ProcessEnv => suiteEnv(engineEnv(env));
const tunespecAsync = (args: string[], onStdout?: Parameters<typeof suiteCli>[1], env?: Env): Promise<CliResult> => suiteCli(onEngine(args), onStdout, engineEnv(env));

/** Everything in an epoch record but when it ran and how fast. */
const TIMING = new Set(['timestamp', 'epoch_seconds', 'examples_per_second']);

/**
 * A quickstart-sized spec that uses every kind of state a checkpoint must carry: dropout
 * (Math.random), augmentation and shuffling (the data generator), AdamW with a per-step schedule
 * (optimizer slots, step), early stopping (best weights, patience).
 */
function writeSpec(dir: string, name: string, opts: { batch: number; epochs: number; checkpoint: string; augment?: boolean }): string {
  const file = join(dir, `${name}.yaml`);
  writeFileSync(
    file,
    `name: ${name}
base_model: { source: ${JSON.stringify(BASE_MODEL)}, cut: flatten }
head:
  - { type: dense, units: 16, activation: relu }
  - { type: dropout, rate: 0.3 }
  - { type: dense, units: 5, activation: softmax }
freeze: [{ from: 0, to: flatten }]
data:
  format: idx
  images: ${JSON.stringify(QUICKSTART_IMAGES)}
  labels: ${JSON.stringify(QUICKSTART_LABELS)}
  classes: [5, 6, 7, 8, 9]
  limit_per_class: 60
${opts.augment ? '  augment: { flip: true, translate: 2 }\n' : ''}validation: { fraction: 0.25, seed: 3 }
training:
  epochs: ${opts.epochs}
  batch_size: ${opts.batch}
  optimizer: adamw
  weight_decay: 0.01
  learning_rate: 0.01
  schedule: { type: warmup_cosine, warmup_steps: 10 }
  early_stopping: { patience: 5 }
  seed: 1
checkpoint: ${opts.checkpoint}
export: { onnx: false }
`,
  );
  return file;
}

const TRAIN_EXAMPLES = 225;

/** The one variant's checkpoint folder and its steps, newest first. */
function checkpointSteps(runs: string, experiment: string): { dir?: string; steps: number[] } {
  const exp = join(runs, experiment);
  const name = existsSync(exp) ? readdirSync(exp).find((n) => n.startsWith('.checkpoints-')) : undefined;
  if (!name) return { steps: [] };
  const dir = join(exp, name);
  const steps = readdirSync(dir)
    .map((n) => /^step-(\d+)$/.exec(n)?.[1])
    .filter((s): s is string => !!s)
    .map(Number)
    .sort((a, b) => b - a);
  return { dir, steps };
}

/** What the resume message says for a checkpoint at `step`. */
function resumePoint(step: number, batches: number, epochs: number): string {
  return step % batches ? `from step ${step % batches}/${batches} of epoch ${Math.floor(step / batches) + 1}/${epochs}` : `from epoch ${step / batches}/${epochs}`;
}

/**
 * Run the CLI and stop it once `when` holds (checked on each stdout chunk and every few ms):
 * frozen at once with SIGSTOP, so the checkpoints it has are the ones it will have had, then sent
 * `signal` (SIGKILL: a kill -9; SIGINT: Ctrl-C, which lets it finish the batch in hand).
 */
function runUntil(args: string[], env: Env, when: (stdout: string) => boolean, signal: 'SIGKILL' | 'SIGINT'): Promise<CliResult & { stopped: boolean }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, ...onEngine(args)], { cwd: ROOT, env: cliEnv(env) });
    let stdout = '';
    let stderr = '';
    let stopped = false;
    const check = (): void => {
      if (stopped || !when(stdout)) return;
      stopped = true;
      clearInterval(poll);
      child.kill('SIGSTOP');
      child.kill(signal);
      if (signal !== 'SIGKILL') child.kill('SIGCONT');
    };
    const poll = setInterval(check, 3);
    child.stdout.setEncoding('utf8').on('data', (c: string) => {
      stdout += c;
      check();
    });
    child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
    child.on('close', (code) => {
      clearInterval(poll);
      resolve({ code, stdout, stderr, stopped });
    });
  });
}

/** The completed variant's folder of the sweep in `runs`. */
function variantDir(runs: string, experiment: string): string {
  const exp = join(runs, experiment);
  const sweep = readdirSync(exp).filter((n) => !n.startsWith('.'))[0];
  const [variant] = readdirSync(join(exp, sweep)).filter((n) => /^[0-9a-f]{12}$/.test(n));
  return join(exp, sweep, variant);
}

function epochs(dir: string): Record<string, number>[] {
  return readFileSync(join(dir, 'metrics.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => Object.fromEntries(Object.entries(JSON.parse(l) as Record<string, number>).filter(([k]) => !TIMING.has(k))));
}

function assertSameTraining(resumed: string, reference: string): void {
  assert.deepEqual(epochs(resumed), epochs(reference), 'per-epoch metrics differ from the unbroken run');
  assert.deepEqual(JSON.parse(readFileSync(join(resumed, 'result.json'), 'utf8')), JSON.parse(readFileSync(join(reference, 'result.json'), 'utf8')));
  assert.ok(readFileSync(join(resumed, 'model', 'weights.bin')).equals(readFileSync(join(reference, 'model', 'weights.bin'))), 'final weights differ from the unbroken run');
}

test('killed after an epoch, then interrupted mid-epoch: the resumed variant ends bit for bit as an unbroken run, in one MLflow run', async () => {
  const dir = tempDir();
  // Batches of 8: 29 steps an epoch, a checkpoint every 10 steps besides each epoch's end.
  const batches = Math.ceil(TRAIN_EXAMPLES / 8);
  const spec = writeSpec(dir, 'resume', { batch: 8, epochs: 3, checkpoint: '{ every_steps: 10 }', augment: true });
  const mlflow = (experiment: string): Env => ({ MLFLOW_TRACKING_URI: server.uri, MLFLOW_EXPERIMENT_NAME: experiment });

  const reference = await tunespecAsync(['run', spec, '--runs-dir', join(dir, 'reference')], undefined, mlflow('unbroken'));
  assert.equal(reference.code, 0, reference.stderr);

  // kill -9 once the first epoch is reported (its checkpoint is written before any sink hears of it).
  const runs = join(dir, 'runs');
  const first = await runUntil(['run', spec, '--runs-dir', runs], mlflow('resumed'), (out) => /epoch 1\/3 loss/.test(out), 'SIGKILL');
  assert.ok(first.stopped, first.stdout + first.stderr);
  const afterKill = checkpointSteps(runs, 'resume');
  assert.ok(afterKill.steps[0] >= batches, `no epoch-end checkpoint: ${afterKill.steps}`);
  // Trainable weights, AdamW's slots and the shuffle order only: the frozen base is the base's, by digest.
  const manifest = JSON.parse(readFileSync(join(afterKill.dir!, `step-${String(afterKill.steps[0]).padStart(9, '0')}`, 'manifest.json'), 'utf8'));
  const params = Number(/(\d+) trainable params/.exec(first.stdout)?.[1]);
  assert.equal(manifest.files['tensors.bin'].bytes, 4 * (3 * params + 1 + 2 + TRAIN_EXAMPLES + params), 'weights, m, v, step, β powers, order, best weights');
  const killedExp = await readExperiment(server.uri, 'resumed');
  const child = killedExp.runs.find((r) => r.tags['tunespec.kind'] === 'variant')!;
  assert.equal(child.status, 'RUNNING', 'a kill -9 leaves its run RUNNING');

  // An array task resumes the same way; Ctrl-C it once it has a checkpoint mid-epoch past the first.
  const second = await runUntil(
    ['run', spec, '--runs-dir', runs, '--index', '0'],
    mlflow('resumed'),
    () => checkpointSteps(runs, 'resume').steps.some((s) => s > afterKill.steps[0] && s % batches !== 0),
    'SIGINT',
  );
  assert.match(second.stdout, new RegExp(`: resuming ${resumePoint(afterKill.steps[0], batches, 3)}\\n`));
  assert.equal(second.code, 130, second.stderr);
  const afterInterrupt = checkpointSteps(runs, 'resume');
  assert.equal(JSON.parse(readFileSync(join(variantDir(runs, 'resume'), 'status.json'), 'utf8')).status, 'interrupted');
  const interrupted = (await readExperiment(server.uri, 'resumed')).runs.find((r) => r.id === child.id)!;
  assert.equal(interrupted.status, 'KILLED');

  // `runs` shows what the unfinished variant's checkpoints hold and weigh.
  const listed = await tunespecAsync(['runs', spec, '--runs-dir', runs]);
  assert.match(listed.stdout, new RegExp(`interrupted .* step ${afterInterrupt.steps[0]}, [\\d.]+ KiB$`, 'm'));

  const third = await tunespecAsync(['run', spec, '--runs-dir', runs], undefined, mlflow('resumed'));
  assert.equal(third.code, 0, third.stderr);
  assert.match(third.stdout, new RegExp(`: resuming ${resumePoint(afterInterrupt.steps[0], batches, 3)}\\n`));
  assertSameTraining(variantDir(runs, 'resume'), variantDir(join(dir, 'reference'), 'resume'));
  assert.deepEqual(checkpointSteps(runs, 'resume').steps, [], 'checkpoints go when the variant completes');

  // MLflow: one child run, the same one, FINISHED, holding exactly the unbroken run's history.
  const resumed = await readExperiment(server.uri, 'resumed');
  const unbroken = await readExperiment(server.uri, 'unbroken');
  const children = resumed.runs.filter((r) => r.tags['tunespec.kind'] === 'variant');
  assert.deepEqual(children.map((r) => [r.id, r.status]), [[child.id, 'FINISHED']]);
  assert.equal(children[0].tags['tunespec.resumed'], resumePoint(afterInterrupt.steps[0], batches, 3));
  assert.equal(children[0].tags['tunespec.reason'], undefined, 'the earlier stop\'s reason is gone');
  // The Ctrl-C'd stretch ended as an attempt does, and that record stays: its time at the epoch it
  // stopped after, and its learning curves then. Beyond those, the history is the unbroken run's.
  const stoppedAfter = Math.floor(afterInterrupt.steps[0] / batches);
  const comparable = (exp: typeof resumed, own: boolean) =>
    snapshot(exp).map((r) => {
      if (r.kind !== 'variant') return r;
      const history = { ...r.history } as Record<string, unknown[]>;
      let artifacts = r.artifacts;
      if (own) {
        const extra = [`images/learning_curves+step+${stoppedAfter}.png`, `images/learning_curves+step+${stoppedAfter}+compressed.png`];
        for (const a of extra) assert.ok(artifacts.includes(a), `${a} in ${artifacts}`);
        artifacts = artifacts.filter((a) => !extra.includes(a));
        assert.ok(history['diag/seconds'].includes(stoppedAfter), String(history['diag/seconds']));
        history['diag/seconds'] = history['diag/seconds'].filter((step) => step !== stoppedAfter);
      }
      return { ...r, history, artifacts, tagKeys: r.tagKeys.filter((k) => k !== 'tunespec.resumed') };
    });
  assert.deepEqual(comparable(resumed, true), comparable(unbroken, false));
});

test('a damaged checkpoint falls back to the one before it; another engine or --restart trains from scratch; keep: 1 keeps the last', async () => {
  const dir = tempDir();
  const batches = Math.ceil(TRAIN_EXAMPLES / 32);
  const spec = writeSpec(dir, 'damage', { batch: 32, epochs: 4, checkpoint: '{ keep: 1 }' });
  const reference = await tunespecAsync(['run', spec, '--runs-dir', join(dir, 'reference')]);
  assert.equal(reference.code, 0, reference.stderr);
  const killed = async (runs: string, epoch: number): Promise<{ dir: string; steps: number[] }> => {
    const r = await runUntil(['run', spec, '--runs-dir', runs], {}, (out) => new RegExp(`epoch ${epoch}/4 loss`).test(out), 'SIGKILL');
    assert.ok(r.stopped, r.stdout + r.stderr);
    const c = checkpointSteps(runs, 'damage');
    // The newest and one to fall back on, never more.
    assert.ok(c.dir && c.steps.length === Math.min(2, epoch), `checkpoints kept while training: ${c.steps}`);
    return c as { dir: string; steps: number[] };
  };

  // One flipped byte in the newest checkpoint's weights: its digest says so, and the one before it is used.
  const damaged = join(dir, 'damaged');
  const c = await killed(damaged, 2);
  const file = join(c.dir, `step-${String(c.steps[0]).padStart(9, '0')}`, 'tensors.bin');
  const bytes = readFileSync(file);
  bytes[100] ^= 0x01;
  writeFileSync(file, bytes);
  const fallback = await tunespecAsync(['run', spec, '--runs-dir', damaged]);
  assert.equal(fallback.code, 0, fallback.stderr);
  assert.match(fallback.stdout, new RegExp(`not resuming from the checkpoint at step ${c.steps[0]} \\(.*\\): it is damaged, tensors\\.bin does not match the sha256 in its manifest`));
  assert.match(fallback.stdout, new RegExp(`using the one at step ${c.steps[1]} before it`));
  assert.match(fallback.stdout, new RegExp(`: resuming ${resumePoint(c.steps[1], batches, 4)}\\n`));
  assertSameTraining(variantDir(damaged, 'damage'), variantDir(join(dir, 'reference'), 'damage'));
  // keep: 1: the completed variant keeps its last checkpoint, the one after the last epoch.
  assert.deepEqual(readdirSync(join(variantDir(damaged, 'damage'), 'checkpoints')), [`step-${String(4 * batches).padStart(9, '0')}`]);
  assert.deepEqual(checkpointSteps(damaged, 'damage').steps, []);

  // Another engine's arithmetic would not continue bit for bit: never resumed, and said why.
  const engine = join(dir, 'engine');
  await killed(engine, 1);
  const other = await tunespecAsync(['run', spec, '--runs-dir', engine, '--backend', OTHER_ENGINE]);
  assert.equal(other.code, 0, other.stderr);
  assert.match(other.stdout, new RegExp(`not resuming from the checkpoint at step \\d+ \\(.*\\): its engine differs \\(checkpoint: ${ENGINE} [^,]+, this run: ${OTHER_ENGINE} [^)]+\\)`));
  assert.match(other.stdout, /no usable checkpoint: training from scratch/);
  assert.doesNotMatch(other.stdout, /: resuming from/);

  const restart = join(dir, 'restart');
  await killed(restart, 2);
  const fresh = await tunespecAsync(['run', spec, '--runs-dir', restart, '--restart']);
  assert.equal(fresh.code, 0, fresh.stderr);
  assert.match(fresh.stdout, /--restart: training from scratch; removed 2 checkpoint\(s\)/);
  assert.doesNotMatch(fresh.stdout, /: resuming from/);
  assertSameTraining(variantDir(restart, 'damage'), variantDir(join(dir, 'reference'), 'damage'));
});

interface WorkerProcess {
  child: ChildProcess;
  log(): string;
  exited: Promise<number | null>;
}

/**
 * A `tunespec worker` process on the shared run store. A short lock and stall check (the
 * `--lock-duration` and `--stalled-interval` knobs; 30 s each by default), so a killed worker's
 * job goes to the next worker in seconds.
 */
function startWorker(name: string, runs: string, env: Env): WorkerProcess {
  const args = ['worker', '--queue', redis.url, '--name', name, '--runs-dir', runs, '--lock-duration', '4', '--stalled-interval', '1'];
  const child = spawn(process.execPath, [BIN, ...onEngine(args)], { cwd: ROOT, env: cliEnv(env) });
  let out = '';
  child.stdout.setEncoding('utf8').on('data', (c: string) => (out += c));
  child.stderr.setEncoding('utf8').on('data', (c: string) => (out += c));
  return { child, log: () => out, exited: new Promise((resolve) => child.on('exit', (code) => resolve(code))) };
}

/** Poll every few ms until `when` holds, then freeze the process at once (SIGSTOP) and kill -9 it. */
async function killWhen(w: WorkerProcess, when: () => boolean, seconds = 300): Promise<void> {
  const deadline = Date.now() + seconds * 1000;
  while (!when()) {
    if (w.child.exitCode !== null || Date.now() > deadline) throw new Error(`the worker never got there:\n${w.log()}`);
    await new Promise((r) => setTimeout(r, 3));
  }
  w.child.kill('SIGSTOP');
  w.child.kill('SIGKILL');
  await w.exited;
}

test('a queue worker killed -9 after an epoch: the worker that takes over its stalled job resumes it from the shared store, bit for bit, in the same MLflow run', async () => {
  const dir = tempDir();
  const batches = Math.ceil(TRAIN_EXAMPLES / 8);
  const spec = writeSpec(dir, 'queued', { batch: 8, epochs: 3, checkpoint: '{}', augment: true });
  const mlflow = (experiment: string): Env => ({ MLFLOW_TRACKING_URI: server.uri, MLFLOW_EXPERIMENT_NAME: experiment });
  const reference = await tunespecAsync(['run', spec, '--runs-dir', join(dir, 'reference')], undefined, mlflow('queued-unbroken'));
  assert.equal(reference.code, 0, reference.stderr);

  // Two machines' workers on one shared run store: worker-a first, alone, so it takes the job.
  const runs = join(dir, 'shared');
  const a = startWorker('worker-a', runs, mlflow('queued-resumed'));
  let b: WorkerProcess | undefined;
  try {
    const submitted = tunespecAsync(['run', spec, '--queue', redis.url], undefined, mlflow('queued-resumed'));
    // kill -9 once worker-a wrote the checkpoint of an epoch, and before the variant completed.
    await killWhen(a, () => checkpointSteps(runs, 'queued').steps.some((s) => s % batches === 0));
    const afterKill = checkpointSteps(runs, 'queued');
    assert.ok(afterKill.steps[0] < 3 * batches, `worker-a finished before the kill: ${afterKill.steps}`);
    assert.match(a.log(), /worker-a\] .*attempt 1\/3\n/);

    b = startWorker('worker-b', runs, mlflow('queued-resumed'));
    const r = await submitted;
    assert.equal(r.code, 0, r.stdout + r.stderr + b.log());
    assert.match(r.stdout, /1 completed, 0 failed/);
    // worker-b took the job worker-a held (its lock expired), and the variant's lock worker-a left, and resumed.
    assert.match(b.log(), /worker-b\] .*attempt \d\/3, after 1 lost worker\(s\)\n/);
    assert.match(b.log(), /recovered the lock of pid \d+ on this host .*which is no longer running/);
    assert.match(b.log(), new RegExp(`worker-b\\] .*: resuming ${resumePoint(afterKill.steps[0], batches, 3)}\\n`));
    assert.doesNotMatch(b.log(), /training from scratch/);
    assertSameTraining(variantDir(runs, 'queued'), variantDir(join(dir, 'reference'), 'queued'));
    assert.deepEqual(checkpointSteps(runs, 'queued').steps, [], 'checkpoints go when the variant completes');

    // MLflow: the run worker-a started is the one worker-b finished, with the unbroken run's history.
    const resumed = await readExperiment(server.uri, 'queued-resumed');
    const children = resumed.runs.filter((x) => x.tags['tunespec.kind'] === 'variant');
    assert.deepEqual(children.map((x) => x.status), ['FINISHED'], children.map((x) => `${x.tags['tunespec.worker']} ${x.status}`).join('\n'));
    assert.equal(children[0].tags['tunespec.resumed'], resumePoint(afterKill.steps[0], batches, 3));
    assert.equal(children[0].tags['tunespec.resumed_inexact'], undefined, 'both workers run on this machine');
    const history = (exp: typeof resumed) => snapshot(exp).find((x) => x.kind === 'variant')!.history;
    assert.deepEqual(history(resumed), history(await readExperiment(server.uri, 'queued-unbroken')));

    b.child.kill('SIGTERM');
    assert.equal(await b.exited, 0, b.log());
  } finally {
    for (const w of [a, b]) if (w && w.child.exitCode === null && w.child.signalCode === null) w.child.kill('SIGKILL');
  }
});
