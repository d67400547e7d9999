import type { Variant } from '../plan/expand.ts';
import type { EpochMetrics, SweepInfo, SweepListener, VariantInfo, VariantResult } from '../train/events.ts';
import { fixed } from './table.ts';
import { envNumber } from '../net/env-number.ts';
import { roughDuration } from '../train/duration.ts';
import type { OnnxExportResult, ParityCheck } from '../train/onnx-parity.ts';

export function onnxSummary(o: OnnxExportResult): string {
  if (!o.parity) return o.skipped ?? 'not exported to ONNX';
  const p = o.parity;
  const figures = (c: ParityCheck) => `max |diff| ${c.maxAbsDiff.toExponential(2)}, top-1 agreement ${(100 * c.argmaxAgreement).toFixed(2)}%`;
  if (!p.part) return `model.onnx: onnxruntime vs tfjs on ${p.rows} validation rows, ${figures(p)}`;
  const whole = p.whole ? `; the whole model on the first ${p.whole.rows}: ${figures(p.whole)}` : '';
  return `model.onnx: onnxruntime vs tfjs, the layers after ${p.part} on the features of ${p.rows} validation rows: ${figures(p)}${whole}`;
}

/** Seconds between progress lines within an epoch: a long epoch must not look like a hang in a log. */
export const PROGRESS_SECONDS_ENV = 'TUNESPEC_PROGRESS_SECONDS';

/** One line per event: what CI logs and pipes get instead of a live task list. */
export class LineLog implements SweepListener {
  private readonly everyMs: number;
  /** When the current epoch started and when progress was last written, in performance.now() ms. */
  private epoch = { index: -1, variant: '', startedAt: 0, lastLine: 0 };

  constructor(
    private readonly write: (line: string) => void,
    everySeconds = envNumber(process.env, PROGRESS_SECONDS_ENV, 30, false),
  ) {
    this.everyMs = everySeconds * 1000;
  }

  onBatchEnd(i: VariantInfo, epoch: number, batch: number, batches: number): void {
    const now = performance.now();
    if (this.epoch.index !== epoch || this.epoch.variant !== i.attempt) {
      // The first batch's end is the nearest thing to the epoch's start this hook sees.
      this.epoch = { index: epoch, variant: i.attempt, startedAt: now, lastLine: now };
      return;
    }
    if (now - this.epoch.lastLine < this.everyMs || batch + 1 === batches) return;
    this.epoch.lastLine = now;
    const t = i.variant.spec.training;
    const seconds = (now - this.epoch.startedAt) / 1000;
    const perBatch = seconds / batch; // batches 1..batch ran since the first ended
    const left = (batches - batch - 1) * perBatch;
    const examples = Math.min(batch * t.batch_size, i.split.train);
    const variantLeft = left + (t.epochs - epoch - 1) * batches * perBatch;
    this.write(
      `${this.tag(i.variant, i.position, i.total)} epoch ${epoch + 1}/${t.epochs} batch ${batch + 1}/${batches} ` +
        `${(examples / seconds).toFixed(0)} ex/s, epoch ETA ${roughDuration(left)}, variant ETA ${roughDuration(variantLeft)} (training only)`,
    );
  }

  private tag(v: Variant, position: number, total: number): string {
    return `[${position + 1}/${total}] ${v.label} (${v.id})`;
  }

  onSweepStart(s: SweepInfo): void {
    this.write(`sweep ${s.sweepId} of ${s.experiment}: ${s.variants.length} variant(s)`);
  }

  onVariantStart(i: VariantInfo): void {
    this.write(
      `${this.tag(i.variant, i.position, i.total)} engine ${i.engine.name} (${i.engine.reason}); ` +
        `${i.trainableParams} trainable params; split ${i.split.train}/${i.split.validation} ${i.split.digest.slice(0, 12)}`,
    );
    this.write(`${this.tag(i.variant, i.position, i.total)} feature cache ${i.featureCache.status}: ${i.featureCache.detail}`);
  }

  onEpochEnd(i: VariantInfo, epoch: number, m: EpochMetrics): void {
    // A generation variant reports perplexity and tokens instead of accuracy and examples.
    const scores =
      m.val_perplexity === undefined
        ? `loss ${fixed(m.loss)} acc ${fixed(m.accuracy)} val_loss ${fixed(m.val_loss)} val_acc ${fixed(m.val_accuracy)} lr ${m.learning_rate.toPrecision(3)} ${m.examples_per_second.toFixed(0)} ex/s`
        : `loss ${fixed(m.loss)} val_loss ${fixed(m.val_loss)} val_ppl ${fixed(m.val_perplexity, 2)} lr ${m.learning_rate.toPrecision(3)} ${m.tokens_per_second.toFixed(0)} tokens/s`;
    this.write(`${this.tag(i.variant, i.position, i.total)} epoch ${epoch + 1}/${i.variant.spec.training.epochs} ${scores}`);
  }

  onVariantSkipped(v: Variant, reason: string): void {
    this.write(`skip ${v.label} (${v.id}): ${reason}`);
  }

  onVariantNote(v: Variant, note: string): void {
    this.write(`${v.label} (${v.id}): ${note}`);
  }

  onVariantEnd(v: Variant, r: VariantResult, i?: VariantInfo): void {
    const where = i ? this.tag(v, i.position, i.total) : `${v.label} (${v.id})`;
    const score = r.metrics?.val_perplexity === undefined ? `val_acc ${fixed(r.metrics?.val_accuracy)}` : `val_loss ${fixed(r.metrics.val_loss)} val_ppl ${fixed(r.metrics.val_perplexity, 2)}`;
    const detail = r.status === 'completed' ? `${score} (epoch ${r.bestEpoch})` : r.reason;
    this.write(`${where} ${r.status} in ${r.seconds.toFixed(1)}s: ${detail}`);
    if (r.modelRecord) this.write(`${where} model ${r.modelRecord.name}`);
    if (r.onnx) this.write(`${where} ${onnxSummary(r.onnx)}`);
  }
}
