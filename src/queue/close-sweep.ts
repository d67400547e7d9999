import type { StoredVariant, SweepRecord } from '../track/local-store.ts';
import type { MlflowClient } from '../track/mlflow/client.ts';
import { ensureExperiment, SweepTracker } from '../track/mlflow/sweep-tracker.ts';
import { registerAttempt, type Registration } from '../track/mlflow/registry.ts';
import { rankByMetric } from '../track/rank.ts';
import type { Objective } from '../spec/derived.ts';
import type { Provenance } from '../track/provenance.ts';
import type { Plan } from '../plan/expand.ts';
import { SETTLED, type JobView } from './sweep-jobs.ts';

export interface SweepIdentity {
  experiment: string;
  specFile: string;
  specText: string;
  plan: Plan;
  provenance?: Provenance;
}

/** The sweep record the submitter's parent run was opened with: the whole plan, whatever machine writes it. */
export function queuedSweepRecord(s: SweepIdentity, started: string): SweepRecord {
  return {
    sweep: s.plan.sweepId,
    experiment: s.experiment,
    spec: s.specFile,
    variants: s.plan.variants.map((v) => ({ id: v.id, label: v.label, overrides: v.overrides })),
    started,
    provenance: s.provenance,
  };
}

/** Open (or find) the sweep's parent run before any variant is queued, so workers never race to create it. */
export async function openParent(client: MlflowClient, s: SweepIdentity, objective: Objective): Promise<{ url: string }> {
  const experimentId = await ensureExperiment(client, client.config.experiment, objective);
  const tracker = new SweepTracker(client, experimentId, queuedSweepRecord(s, new Date().toISOString()), s.specText);
  await tracker.load();
  const parent = await tracker.ensureParent(tracker.parent?.status);
  return { url: client.runUrl(experimentId, parent.run_id) };
}

/** A settled job as the comparison table reads a stored variant: the queue is the shared record of results. */
function asStored(j: JobView, sweepId: string): StoredVariant {
  const r = j.result;
  const now = new Date().toISOString();
  return {
    dir: '',
    status: {
      status: j.state === 'completed' ? 'completed' : 'failed',
      reason: j.state === 'failed' ? j.failedReason : r?.reason,
      variant: j.variantId,
      label: j.label,
      sweep: sweepId,
      attempt: r?.attempt ?? '',
      seconds: r?.seconds ?? 0,
      started: r?.started ?? now,
      finished: r?.finished ?? now,
    },
    result: r?.metrics ? { metrics: r.metrics, confusion: [], class_names: [] } : undefined,
  };
}

/** What closing a settled sweep did besides closing its parent: the spec's `register:`, done or not. */
export interface SweepClosed {
  registered?: { variant: string; label: string; name: string } & Registration;
  /** Why `register:` registered nothing (no completed variant, or the server refused). */
  notRegistered?: string;
}

/**
 * Once every job of the sweep has settled, close its parent run: comparison table of all
 * variants (from the job results, since each worker's run store holds only its own), status
 * FINISHED or FAILED. With the spec's `register: {name}`, the best completed variant by the
 * objective becomes a version of that registered model, as a local sweep's end does. Idempotent
 * (a registered attempt gives back its version), so the last worker and an attached `run`/`status`
 * may both do it. Undefined while a job is still to settle.
 */
export async function closeParentIfSettled(
  client: MlflowClient,
  s: SweepIdentity,
  jobs: JobView[],
  objective: Objective,
  register?: { name: string },
): Promise<SweepClosed | undefined> {
  if (!jobs.length || !jobs.every((j) => SETTLED.has(j.state))) return undefined;
  const experimentId = await ensureExperiment(client, client.config.experiment, objective);
  const record = { ...queuedSweepRecord(s, new Date().toISOString()), finished: new Date().toISOString() };
  const tracker = new SweepTracker(client, experimentId, record, s.specText);
  await tracker.load();
  const stored = jobs.map((j) => asStored(j, s.plan.sweepId));
  await tracker.finishParent(stored, objective);
  if (!register) return {};
  const completed = stored.filter((v) => v.status.status === 'completed' && v.status.attempt && v.result?.metrics[objective.metric] !== undefined);
  const [best] = rankByMetric(completed, objective.metric, objective.greaterIsBetter);
  if (!best) return { notRegistered: 'no variant completed' };
  try {
    const r = await registerAttempt(client, experimentId, best.status.attempt, register.name);
    return { registered: { variant: best.status.variant, label: best.status.label, name: register.name, ...r } };
  } catch (err) {
    // The parent is closed; only the registration is left to redo.
    return { notRegistered: (err as Error).message };
  }
}

/** The line a command prints for what `register:` did at a queued sweep's close. */
export function registeredLine(c: SweepClosed, name: string): string | undefined {
  if (c.registered) {
    const r = c.registered;
    return `MLflow: best variant ${r.variant} (${r.label}) ${r.created ? 'registered' : 'was already registered'} as models:/${r.name}/${r.version.version}: ${r.url}`;
  }
  if (c.notRegistered) return `MLflow: register: nothing registered as "${name}": ${c.notRegistered}; \`tunespec register best --spec <spec> --name ${name}\` tries again`;
  return undefined;
}
