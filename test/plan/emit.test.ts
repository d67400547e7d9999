import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { parse } from 'yaml';
import { Job } from 'kubernetes-models/batch/v1/Job';
import { kubernetesJob } from '../../src/plan/emit/k8s.ts';
import { slurmScript } from '../../src/plan/emit/slurm.ts';
import type { ArrayJob } from '../../src/plan/emit/array-job.ts';

const job: ArrayJob = { experiment: 'quickstart', specFile: 'experiments/quickstart.yaml', sweepId: '2821bee0c953', count: 3, runsDir: 'runs', backend: 'auto' };

/** Compare with the golden file; UPDATE_GOLDEN=1 rewrites it (then review the diff). */
function golden(name: string, actual: string): void {
  const url = new URL(`./golden/${name}`, import.meta.url);
  if (process.env.UPDATE_GOLDEN === '1') writeFileSync(url, actual);
  assert.equal(actual, readFileSync(url, 'utf8'), `${name} drifted; UPDATE_GOLDEN=1 rewrites it`);
}

test('slurm: an array of one task per variant, GPUs and limits as asked', () => {
  const script = slurmScript(job, { gpus: 2, cpus: 8, memory: '32G', time: '04:00:00', partition: 'gpu' });
  golden('quickstart.sbatch', script);
  assert.match(script, /^#SBATCH --array=0-2$/m);
  assert.match(script, /--index "\$SLURM_ARRAY_TASK_ID"/);
});

test('slurm: no GPU request with --gpus 0, quoted paths, bad limits refused', () => {
  const script = slurmScript({ ...job, specFile: "my specs/it's.yaml", backend: 'cpu' }, { gpus: 0 });
  assert.doesNotMatch(script, /--gres/);
  assert.match(script, /run 'my specs\/it'\\''s\.yaml' --index "\$SLURM_ARRAY_TASK_ID" --runs-dir runs --backend cpu$/m);
  assert.throws(() => slurmScript(job, { gpus: 1, time: 'two hours' }), /--time "two hours" is not what sbatch takes/);
  assert.throws(() => slurmScript(job, { gpus: 1, partition: 'gpu; rm -rf /' }), /--partition/);
});

test('k8s: an Indexed Job that parses, matches the Kubernetes Job schema and carries no credentials', () => {
  const text = kubernetesJob(job, { image: 'ghcr.io/acme/tunespec:1.0', gpus: 1, memory: '16Gi', cpus: 4, parallelism: 2, retries: 2, mlflowSecret: 'mlflow-credentials', pvc: 'sweeps' });
  golden('quickstart.k8s.yaml', text);
  const doc = parse(text);
  new Job(doc).validate();
  assert.equal(doc.kind, 'Job');
  assert.equal(doc.spec.completionMode, 'Indexed');
  assert.equal(doc.spec.completions, 3);
  assert.equal(doc.spec.parallelism, 2);
  const [c] = doc.spec.template.spec.containers;
  assert.equal(c.image, 'ghcr.io/acme/tunespec:1.0');
  assert.equal(c.resources.limits['nvidia.com/gpu'], 1);
  assert.deepEqual(c.envFrom, [{ secretRef: { name: 'mlflow-credentials' } }]);
  assert.deepEqual(c.args.slice(0, 4), ['run', 'experiments/quickstart.yaml', '--index', '$(JOB_COMPLETION_INDEX)']);
  assert.ok(!c.env.some((e: { value?: string }) => e.value !== undefined), 'no inline environment values');
  assert.ok(doc.metadata.name.length <= 52);
});

test('k8s: the schema check catches what a flag would break; names must be names', () => {
  assert.throws(() => kubernetesJob(job, { image: 'x', gpus: 1, retries: 2, mlflowSecret: 'Bad_Secret' }), /--mlflow-secret "Bad_Secret" is not a Secret name/);
  assert.throws(() => kubernetesJob(job, { image: 'x', gpus: 1, retries: 2, memory: 'lots' }), /--memory "lots"/);
  // The validator itself rejects a Job that is not one (what emitting relies on).
  assert.throws(() => new Job({ metadata: { name: 'x' }, spec: { completions: 'three', template: {} } } as never).validate(), /completions must be integer/);
});
