import type { Job, Queue } from 'bullmq';
import { jobIdOf, type VariantJob, type VariantJobProgress, type VariantJobResult } from './job.ts';

export type JobState = 'waiting' | 'active' | 'delayed' | 'completed' | 'failed' | 'prioritized' | 'waiting-children' | 'missing' | 'unknown';

/** One variant's job as the queue holds it now. */
export interface JobView {
  variantId: string;
  label: string;
  index: number;
  state: JobState;
  attemptsMade: number;
  attempts: number;
  /** How many times a worker died holding it (BullMQ's stalled counter). */
  stalls: number;
  progress?: VariantJobProgress;
  result?: VariantJobResult;
  failedReason?: string;
}

export const SETTLED: ReadonlySet<JobState> = new Set(['completed', 'failed']);

function view(variant: { id: string; label: string; index: number }, job: Job<VariantJob, VariantJobResult> | undefined, state: string): JobView {
  const progress = job && typeof job.progress === 'object' ? (job.progress as unknown as VariantJobProgress) : undefined;
  return {
    variantId: variant.id,
    label: variant.label,
    index: variant.index,
    state: (job ? state : 'missing') as JobState,
    attemptsMade: job?.attemptsMade ?? 0,
    attempts: job?.opts.attempts ?? 1,
    stalls: job?.stalledCounter ?? 0,
    progress: progress && 'epoch' in progress ? progress : undefined,
    result: job?.returnvalue ?? undefined,
    failedReason: job?.failedReason || undefined,
  };
}

/** The jobs of a sweep's variants, in plan order (`missing` for one never queued or removed). */
export async function sweepJobs(queue: Queue, experiment: string, variants: readonly { id: string; label: string; index: number }[]): Promise<JobView[]> {
  return Promise.all(
    variants.map(async (v) => {
      const job = (await queue.getJob(jobIdOf(experiment, v.id))) as Job<VariantJob, VariantJobResult> | undefined;
      return view(v, job, job ? await job.getState() : 'missing');
    }),
  );
}
