import { Listr, type ListrTaskWrapper } from 'listr2';
import type { Variant } from '../plan/expand.ts';
import type { EpochMetrics, SweepInfo, SweepListener, VariantInfo, VariantResult } from '../train/events.ts';
import { fixed } from './table.ts';
import { TunespecError } from '../errors.ts';
import { onnxSummary } from './line-log.ts';

type Task = ListrTaskWrapper<unknown, any, any>;

interface Slot {
  task?: Task;
  output?: string;
  /** The last loss the fit loop read back: it reads one about once a second, not every batch. */
  loss?: number;
  settle?: (r: { variant: Variant; result?: VariantResult; skipped?: string }) => void;
  ended?: { variant: Variant; result?: VariantResult; skipped?: string };
}

/**
 * A live task list for terminals: one task per variant, its output line showing epoch, batch,
 * loss and accuracy. Listr owns the rendering; the sweep drives it through listener hooks.
 */
export class ListrProgress implements SweepListener {
  private slots = new Map<string, Slot>();
  private running?: Promise<unknown>;

  private slot(id: string): Slot {
    let s = this.slots.get(id);
    if (!s) this.slots.set(id, (s = {}));
    return s;
  }

  private show(id: string, output: string): void {
    const s = this.slot(id);
    s.output = output;
    if (s.task) s.task.output = output;
  }

  private end(id: string, ended: NonNullable<Slot['ended']>): void {
    const s = this.slot(id);
    s.ended = ended;
    s.settle?.(ended);
  }

  async onSweepStart(sweep: SweepInfo): Promise<void> {
    // Wait for the renderer to start: it draws from Math.random once (signal-exit), and doing so
    // inside a variant's seeded window would shift that variant's dropout masks.
    let started!: () => void;
    const rendering = new Promise<void>((resolve) => (started = resolve));
    const list = new Listr(
      sweep.variants.map((v) => ({
        title: `${v.label} (${v.id})`,
        task: async (_ctx: unknown, task: Task) => {
          const s = this.slot(v.id);
          s.task = task;
          started();
          if (s.output) task.output = s.output;
          const ended = s.ended ?? (await new Promise<NonNullable<Slot['ended']>>((resolve) => (s.settle = resolve)));
          if (ended.skipped) return task.skip(`${task.title}: ${ended.skipped}`);
          const r = ended.result!;
          if (r.status !== 'completed') throw new TunespecError(r.status === 'failed' ? 'VARIANT_FAILED' : 'INTERRUPTED', `${r.status}: ${r.reason}`);
          const score = r.metrics?.val_perplexity === undefined ? `val_acc ${fixed(r.metrics?.val_accuracy)}` : `val_ppl ${fixed(r.metrics.val_perplexity, 2)}`;
          task.title = `${v.label} (${v.id}) ${score} in ${r.seconds.toFixed(1)}s`;
          if (r.onnx) task.output = onnxSummary(r.onnx);
        },
      })),
      { concurrent: false, exitOnError: false, rendererOptions: { collapseErrors: false }, collectErrors: false },
    );
    this.running = list.run().catch(() => undefined);
    if (sweep.variants.length) await rendering;
  }

  onVariantStart(i: VariantInfo): void {
    this.show(i.variant.id, `engine ${i.engine.name}, ${i.trainableParams} trainable params, feature cache ${i.featureCache.status}`);
  }

  onBatchEnd(i: VariantInfo, epoch: number, batch: number, batches: number, loss: number | undefined): void {
    const s = this.slot(i.variant.id);
    if (loss !== undefined) s.loss = loss;
    if (batch % 10 === 0 || batch === batches - 1) {
      this.show(i.variant.id, `epoch ${epoch + 1}/${i.variant.spec.training.epochs} batch ${batch + 1}/${batches} loss ${fixed(s.loss)}`);
    }
  }

  onEpochEnd(i: VariantInfo, epoch: number, m: EpochMetrics): void {
    this.show(
      i.variant.id,
      m.val_perplexity === undefined
        ? `epoch ${epoch + 1}/${i.variant.spec.training.epochs} loss ${fixed(m.loss)} acc ${fixed(m.accuracy)} val_acc ${fixed(m.val_accuracy)}`
        : `epoch ${epoch + 1}/${i.variant.spec.training.epochs} loss ${fixed(m.loss)} val_loss ${fixed(m.val_loss)} val_ppl ${fixed(m.val_perplexity, 2)}`,
    );
  }

  onVariantNote(v: Variant, note: string): void {
    this.show(v.id, note);
  }

  onVariantSkipped(v: Variant, reason: string): void {
    this.end(v.id, { variant: v, skipped: reason });
  }

  onVariantEnd(v: Variant, result: VariantResult): void {
    this.end(v.id, { variant: v, result });
  }

  async onSweepEnd(sweep: SweepInfo): Promise<void> {
    // Variants never reached (after an interrupt) still need their tasks settled.
    for (const v of sweep.variants) if (!this.slot(v.id).ended) this.end(v.id, { variant: v, skipped: 'not run' });
    await this.running;
  }
}
