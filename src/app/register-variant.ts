import { dirname } from 'node:path';
import { TrackingError, UsageError } from '../errors.ts';
import { MlflowClient } from '../track/mlflow/client.ts';
import { resolveTrackingConfig } from '../track/mlflow/config.ts';
import { findLoggedModel } from '../track/mlflow/logged-model.ts';
import { registerAttempt, type Registration } from '../track/mlflow/registry.ts';
import { ensureGenerationModel, readStoredSweep, syncSweep } from '../track/mlflow/sync.ts';
import type { ResolvedVariant } from '../track/resolve-variant.ts';

/**
 * A stored variant as a version of the registered model `name`. Its logged model is made first
 * when the server lacks it (trained without tracking, or before logged models): the variant's
 * sweep is synced, which uploads only what is missing.
 */
export async function registerVariant(variant: ResolvedVariant, name: string, trackingUri: string | undefined): Promise<Registration & { synced: boolean }> {
  const config = resolveTrackingConfig({ flag: trackingUri, spec: variant.spec.tracking, specName: variant.spec.name, env: process.env });
  if (!config) throw new UsageError('register needs an MLflow server: pass --tracking-uri, set MLFLOW_TRACKING_URI, or set tracking.uri in the spec');
  const client = new MlflowClient(config);
  if (!(await client.healthy())) throw new TrackingError(`MLflow: no answer from ${config.uri}; nothing was registered`);
  const { attempt } = variant.stored.status;
  const experimentId = async (): Promise<string | undefined> => (await client.getExperimentByName(config.experiment))?.experiment_id;
  let expId = await experimentId();
  let synced = false;
  if (!expId || !(await findLoggedModel(client, expId, attempt))) {
    const sweep = await readStoredSweep(dirname(variant.stored.dir));
    if (!sweep) throw new UsageError(`register: ${variant.stored.dir} is not in a stored sweep, so it cannot be uploaded to MLflow first`);
    await syncSweep(client, sweep);
    synced = true;
    expId = await experimentId();
    // A generation variant's run holds no logged model (its merged weights are too big to log for
    // every variant): the one being registered gets it now.
    if (variant.stored.status.model) await ensureGenerationModel(client, sweep, variant.stored);
  }
  return { ...(await registerAttempt(client, expId!, attempt, name)), synced };
}
