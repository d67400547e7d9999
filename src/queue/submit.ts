import type { Queue } from 'bullmq';
import type { Plan } from '../plan/expand.ts';
import { jobIdOf, variantJob, type VariantJob, type VariantJobResult } from './job.ts';

export interface RetryPolicy {
  /** Tries per variant, the first included. */
  attempts: number;
  /** First pause before a retry; it doubles each time. */
  backoffMs: number;
}

export interface Submitted {
  added: number;
  /** Jobs already in the queue (waiting, running or done): enqueuing again adds nothing. */
  present: number;
  /** Jobs that had failed for good and were queued again. */
  retried: number;
}

/**
 * One job per variant, its id the variant's, so a second submission of the same sweep finds its
 * jobs and adds nothing; a job that failed for good is retried instead, which is what running the
 * sweep again means. Completed jobs are kept: they are the shared record `status` reads.
 */
export async function submitSweep(
  queue: Queue<VariantJob, VariantJobResult>,
  s: { experiment: string; specFile: string; specText: string; plan: Plan; trackingUri?: string; tracked: boolean },
  retry: RetryPolicy,
): Promise<Submitted> {
  const out: Submitted = { added: 0, present: 0, retried: 0 };
  for (const variant of s.plan.variants) {
    const jobId = jobIdOf(s.experiment, variant.id);
    const existing = await queue.getJob(jobId);
    if (existing) {
      if ((await existing.getState()) === 'failed') {
        await existing.retry('failed', { resetAttemptsMade: true, resetAttemptsStarted: true });
        out.retried++;
      } else out.present++;
      continue;
    }
    await queue.add(variant.label, variantJob({ ...s, variant }), {
      jobId,
      attempts: retry.attempts,
      backoff: { type: 'exponential', delay: retry.backoffMs },
      removeOnComplete: false,
      removeOnFail: false,
    });
    out.added++;
  }
  return out;
}
