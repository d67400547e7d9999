import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { Job } from 'kubernetes-models/batch/v1/Job';
import { tempDir, tunespec, writeSmallSpec } from '../helpers/cli.ts';

const dir = tempDir();
const runs = join(dir, 'runs');
const spec = writeSmallSpec(dir, { name: 'arrayjob', epochs: 1 });

function variantIds(): string[] {
  const r = tunespec(['plan', spec]);
  assert.equal(r.code, 0, r.stderr);
  return [...r.stdout.matchAll(/^(\d+)\s+([0-9a-f]{12})\s/gm)].map((m) => m[2]);
}

test('run --index N trains exactly variant N of the plan, and a second time skips it', () => {
  const ids = variantIds();
  assert.equal(ids.length, 2);
  const r = tunespec(['run', spec, '--index', '1', '--runs-dir', runs]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /1 completed, 0 skipped, 0 failed/);
  const sweep = readdirSync(join(runs, 'arrayjob'))[0];
  const stored = readdirSync(join(runs, 'arrayjob', sweep)).filter((e) => /^[0-9a-f]{12}$/.test(e));
  assert.deepEqual(stored, [ids[1]]);
  assert.equal(JSON.parse(readFileSync(join(runs, 'arrayjob', sweep, ids[1], 'status.json'), 'utf8')).status, 'completed');

  const again = tunespec(['run', spec, '--index', '1', '--runs-dir', runs]);
  assert.equal(again.code, 0, again.stderr);
  assert.match(again.stdout, /0 completed, 1 skipped/);
});

test('an out-of-range or malformed --index is a usage error naming the range; nothing is written', () => {
  const fresh = join(dir, 'fresh-runs');
  const r = tunespec(['run', spec, '--index', '2', '--runs-dir', fresh]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /--index 2 is out of range: the plan of .*arrayjob\.yaml has 2 variant\(s\), indices 0-1/);
  const empty = tunespec(['run', spec, '--index', '', '--runs-dir', fresh]);
  assert.equal(empty.code, 2);
  assert.match(empty.stderr, /--index must be a non-negative integer .*got "": is the array task variable set\?/);
  assert.ok(!existsSync(fresh));
});

test('plan --emit k8s prints a valid Indexed Job for the plan; --emit slurm an array of the plan size', () => {
  const k8s = tunespec(['plan', spec, '--emit', 'k8s', '--image', 'registry.example/tunespec:dev', '--mlflow-secret', 'mlflow'], dir, { MLFLOW_TRACKING_PASSWORD: 'pw-SECRET-1' });
  assert.equal(k8s.code, 0, k8s.stderr);
  const doc = parse(k8s.stdout);
  new Job(doc).validate();
  assert.equal(doc.spec.completions, 2);
  assert.ok(!k8s.stdout.includes('pw-SECRET-1'));
  const slurm = tunespec(['plan', spec, '--emit', 'slurm', '--gpus', '0']);
  assert.equal(slurm.code, 0, slurm.stderr);
  assert.match(slurm.stdout, /^#SBATCH --array=0-1$/m);
  const bad = tunespec(['plan', spec, '--emit', 'pbs']);
  assert.equal(bad.code, 2);
  assert.equal(bad.stderr, 'tunespec: --emit must be slurm or k8s; got "pbs"\n');
});
