import { UsageError } from '../../errors.ts';
import type { ArrayJob } from '../../plan/emit/array-job.ts';
import { kubernetesJob } from '../../plan/emit/k8s.ts';
import { slurmScript } from '../../plan/emit/slurm.ts';
import { loadSpec } from '../../app/load-spec.ts';
import type { Io } from '../io.ts';

export interface EmitOptions {
  target: string;
  runsDir: string;
  backend: string;
  gpus: number;
  cpus?: number;
  memory?: string;
  time?: string;
  partition?: string;
  image?: string;
  mlflowSecret?: string;
  parallelism?: number;
  retries: number;
  pvc?: string;
  workdir?: string;
}

/** `plan <spec> --emit slurm|k8s`: an array job over the plan's variants, printed for sbatch or kubectl. */
export async function emitCommand(file: string, o: EmitOptions, io: Io): Promise<number> {
  if (o.target !== 'slurm' && o.target !== 'k8s') throw new UsageError(`--emit must be slurm or k8s; got "${o.target}"`);
  if (o.target === 'k8s' && !o.image) throw new UsageError('--emit k8s needs --image: a container image with tunespec installed');
  const spec = await loadSpec(file);
  const job: ArrayJob = { experiment: spec.experiment.name, specFile: file, sweepId: spec.plan.sweepId, count: spec.plan.variants.length, runsDir: o.runsDir, backend: o.backend };
  io.out(
    (o.target === 'slurm'
      ? slurmScript(job, o)
      : kubernetesJob(job, { ...o, image: o.image! })
    ).trimEnd(),
  );
  return 0;
}
