import { UsageError } from '../errors.ts';
import type { Plan, Variant } from './expand.ts';

/**
 * The variant an array job's task index addresses. The index comes from a scheduler
 * (`$SLURM_ARRAY_TASK_ID`, `$JOB_COMPLETION_INDEX`), so an out-of-range one means the job was
 * emitted for another plan: refuse it rather than train something else.
 */
export function variantAtIndex(plan: Plan, index: number, specFile: string): Variant {
  const n = plan.variants.length;
  if (!Number.isInteger(index) || index < 0 || index >= n) {
    throw new UsageError(
      `--index ${index} is out of range: the plan of ${specFile} has ${n} variant(s), indices 0-${n - 1}` +
        ` (was the job emitted for an older version of the spec? \`tunespec plan ${specFile}\` lists them)`,
    );
  }
  return plan.variants[index];
}

/** `--index` as typed: a non-negative integer, nothing else (an unset `$SLURM_ARRAY_TASK_ID` arrives as ""). */
export function parseIndex(raw: string): number {
  if (!/^\d+$/.test(raw.trim())) {
    throw new UsageError(`--index must be a non-negative integer (a variant's position in the plan); got "${raw}"${raw.trim() ? '' : ': is the array task variable set?'}`);
  }
  return Number(raw.trim());
}
