import type { Queue } from 'bullmq';
import type { QueueRenderer } from './progress.ts';
import { SETTLED, sweepJobs, type JobView } from './sweep-jobs.ts';

/**
 * Watch a sweep's jobs until every one has settled (completed, or failed for good), rendering each
 * look. Polling the queue, rather than listening to its event stream, means a watcher that
 * attaches late (`status`) or misses events sees the same thing: the jobs as they are now.
 * Returns undefined when the signal aborts first: the workers go on without a watcher.
 */
export async function followSweep(
  queue: Queue,
  experiment: string,
  variants: readonly { id: string; label: string; index: number }[],
  render: QueueRenderer,
  signal: AbortSignal,
  pollMs = 500,
): Promise<JobView[] | undefined> {
  try {
    while (!signal.aborted) {
      const jobs = await sweepJobs(queue, experiment, variants);
      render.update(jobs);
      if (jobs.every((j) => SETTLED.has(j.state) || j.state === 'missing') && jobs.some((j) => j.state !== 'missing')) return jobs;
      await new Promise<void>((resolve) => {
        const done = (): void => {
          clearTimeout(t);
          signal.removeEventListener('abort', done);
          resolve();
        };
        const t = setTimeout(done, pollMs);
        signal.addEventListener('abort', done, { once: true });
      });
    }
    return undefined;
  } finally {
    await render.end();
  }
}
