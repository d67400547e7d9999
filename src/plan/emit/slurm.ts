import { UsageError } from '../../errors.ts';
import { shellQuote, type ArrayJob } from './array-job.ts';

export interface SlurmOptions {
  gpus: number;
  cpus?: number;
  /** Memory per task as sbatch takes it: 16G, 8000M. */
  memory?: string;
  /** Time limit as sbatch takes it: minutes, HH:MM:SS, D-HH:MM:SS. */
  time?: string;
  partition?: string;
}

function check(flag: string, value: string | undefined, pattern: RegExp, example: string): void {
  if (value !== undefined && !pattern.test(value)) throw new UsageError(`--${flag} "${value}" is not what sbatch takes (e.g. ${example})`);
}

/**
 * An sbatch script for a Slurm job array: task N runs variant N of the plan. Pure: text out.
 * MLflow settings travel in the environment, which sbatch exports to the tasks by default.
 */
export function slurmScript(job: ArrayJob, o: SlurmOptions): string {
  check('time', o.time, /^(\d+-)?\d+(:\d{1,2}){0,2}$/, '90, 02:00:00 or 1-00:00:00');
  check('memory', o.memory, /^\d+[KMGT]?$/, '16G');
  check('partition', o.partition, /^[\w.-]+(,[\w.-]+)*$/, 'gpu');
  const name = `tunespec-${job.experiment}`;
  const lines = [
    '#!/bin/bash',
    `# Sweep ${job.sweepId} of ${job.experiment}: one array task per variant; task N trains variant N of`,
    `# \`tunespec plan ${job.specFile}\`. Written by \`tunespec plan ${job.specFile} --emit slurm\`.`,
    '# Submit with `sbatch` from the directory you ran that in (tasks start there). MLflow settings',
    '# (MLFLOW_TRACKING_URI and credentials) come from the submitting shell: sbatch exports it.',
    `#SBATCH --job-name=${name}`,
    `#SBATCH --array=0-${job.count - 1}`,
    `#SBATCH --output=${name}-%A_%a.out`,
  ];
  if (o.gpus > 0) lines.push(`#SBATCH --gres=gpu:${o.gpus}`);
  if (o.cpus !== undefined) lines.push(`#SBATCH --cpus-per-task=${o.cpus}`);
  if (o.memory !== undefined) lines.push(`#SBATCH --mem=${o.memory}`);
  if (o.time !== undefined) lines.push(`#SBATCH --time=${o.time}`);
  if (o.partition !== undefined) lines.push(`#SBATCH --partition=${o.partition}`);
  const backend = job.backend === 'auto' ? '' : ` --backend ${job.backend}`;
  lines.push(
    'set -euo pipefail',
    `exec npx tunespec run ${shellQuote(job.specFile)} --index "$SLURM_ARRAY_TASK_ID" --runs-dir ${shellQuote(job.runsDir)}${backend}`,
  );
  return lines.join('\n') + '\n';
}
