import { Listr, type ListrTaskWrapper } from 'listr2';
import type { JobView } from './sweep-jobs.ts';
import { fixed } from '../report/table.ts';
import { TunespecError } from '../errors.ts';

/** Renders a queued sweep as the submitter polls it: what each variant's job is doing now. */
export interface QueueRenderer {
  update(jobs: readonly JobView[]): void;
  end(): Promise<void>;
}

/** A variant's validation scores: accuracy for a classifier, loss and perplexity for a generation variant. */
export function scoresText(m: Partial<Record<string, number>> | undefined): string {
  return m?.val_perplexity === undefined ? `val_acc ${fixed(m?.val_accuracy)}` : `val_loss ${fixed(m.val_loss)} val_ppl ${fixed(m.val_perplexity, 2)}`;
}

/** One line for a job's current state; `undefined` when there is nothing to say. */
export function describeJob(j: JobView): string {
  const p = j.progress;
  switch (j.state) {
    case 'waiting':
    case 'prioritized':
      return j.stalls ? `back in the queue: its worker stopped answering (${j.stalls}×)` : 'queued';
    case 'delayed':
      return `attempt ${j.attemptsMade}/${j.attempts} failed, retrying after a pause: ${j.failedReason ?? ''}`;
    case 'active': {
      // Another worker can take a stalled job before the next poll sees it waiting, so the
      // retried attempt says so itself.
      const again = j.stalls ? ` (again: its worker stopped answering, ${j.stalls}×)` : '';
      if (!p) return `taken by a worker${again}`;
      return p.epoch === 0
        ? `training on ${p.worker}${again}`
        : `training on ${p.worker}${again}: epoch ${p.epoch}/${p.epochs} loss ${fixed(p.metrics.loss)} ${scoresText(p.metrics)}`;
    }
    case 'completed': {
      const r = j.result;
      if (r?.status === 'skipped') return `skipped by ${r.worker}: ${r.reason}`;
      return `completed on ${r?.worker} in ${r?.seconds.toFixed(1)}s: ${scoresText(r?.metrics)}`;
    }
    case 'failed':
      return `failed after ${j.attemptsMade} attempt(s): ${j.failedReason ?? 'no reason recorded'}`;
    case 'missing':
      return 'not in the queue (removed, or never queued)';
    default:
      return j.state;
  }
}

function tag(j: JobView, total: number): string {
  return `[${j.index + 1}/${total}] ${j.label} (${j.variantId})`;
}

/** A line per change: what CI logs and pipes get. Epoch lines repeat only when the epoch moves. */
export class QueueLineLog implements QueueRenderer {
  private last = new Map<string, string>();
  constructor(private readonly write: (line: string) => void) {}

  update(jobs: readonly JobView[]): void {
    for (const j of jobs) {
      const line = describeJob(j);
      if (this.last.get(j.variantId) === line) continue;
      this.last.set(j.variantId, line);
      this.write(`${tag(j, jobs.length)} ${line}`);
    }
  }

  async end(): Promise<void> {}
}

type Task = ListrTaskWrapper<unknown, any, any>;

const settled = (j: JobView | undefined): boolean => j?.state === 'completed' || j?.state === 'failed';

/** A live task list for terminals: one task per variant, its output line the job's state. */
export class QueueListr implements QueueRenderer {
  private tasks = new Map<string, { task?: Task; settle?: () => void; view?: JobView }>();
  private running?: Promise<unknown>;

  update(jobs: readonly JobView[]): void {
    if (!this.running) {
      for (const j of jobs) this.tasks.set(j.variantId, {});
      const list = new Listr(
        jobs.map((j) => ({
          title: `${j.label} (${j.variantId})`,
          task: async (_ctx: unknown, task: Task) => {
            const slot = this.tasks.get(j.variantId)!;
            slot.task = task;
            if (!settled(slot.view)) await new Promise<void>((resolve) => (slot.settle = resolve));
            const v = slot.view!;
            if (!settled(v)) return task.skip(`${task.title}: ${describeJob(v)} (no longer watched)`);
            if (v.state === 'failed') throw new TunespecError('VARIANT_FAILED', describeJob(v));
            if (v.result?.status === 'skipped') return task.skip(`${task.title}: ${describeJob(v)}`);
            task.title = `${v.label} (${v.variantId}) ${describeJob(v)}`;
          },
        })),
        { concurrent: true, exitOnError: false, rendererOptions: { collapseErrors: false }, collectErrors: false },
      );
      this.running = list.run().catch(() => undefined);
    }
    for (const j of jobs) {
      const slot = this.tasks.get(j.variantId);
      if (!slot) continue;
      slot.view = j;
      // listr2 drops a finished task's output buffer: only a running task takes output.
      if (settled(j)) slot.settle?.();
      else if (slot.task) slot.task.output = describeJob(j);
    }
  }

  async end(): Promise<void> {
    // Variants still unsettled (the watcher detached) end their tasks as they stand.
    for (const slot of this.tasks.values()) slot.settle?.();
    await this.running;
  }
}
