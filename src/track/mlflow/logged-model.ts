import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { pathKind } from '../../data/readers/files.ts';
import { filesUnder } from '../files-under.ts';
import { BASE_ONNX_FILE, ONNX_FILE, storedClassNames, type StoredVariant } from '../local-store.ts';
import { GENERATION_MODEL_FILES, VARIANT_MODEL_FILES } from '../resolve-variant.ts';
import { ADAPTER_FOLDER } from '../../train/generation-files.ts';
import type { LoggedModel, MlflowClient, RunInfo } from './client.ts';
import type { ChildContent } from './content.ts';
import { TAG } from './content.ts';
import type { Metric } from './limits.ts';

/** The logged model's `model_type`: what the Logged models table can be filtered by. */
export const MODEL_TYPE = 'tunespec';
/** MLflow's model description file, at the root of every MLflow model. */
export const MLMODEL_FILE = 'MLmodel';
/** Our flavor in MLmodel: how tunespec (predict, evaluate) loads the model. */
export const FLAVOR = 'tunespec';

/** The files of a stored variant that its logged model carries, relative to the variant folder. */
export async function modelFilesOf(dir: string, generation = false): Promise<string[]> {
  const out: string[] = [];
  for (const entry of generation ? GENERATION_MODEL_FILES : VARIANT_MODEL_FILES) {
    const kind = await pathKind(join(dir, entry));
    if (kind === 'file') out.push(entry);
    if (kind === 'folder') out.push(...(await filesUnder(join(dir, entry))).map((f) => `${entry}/${f}`));
  }
  return out;
}

/**
 * The MLmodel file, as `mlflow.models.Model` writes it. Two flavors: `onnx` when the variant has
 * its ONNX twin, so `mlflow.onnx.load_model("models:/…")` loads it in Python (its input is the
 * preprocessed tensor: scaling and `base_model.preprocess` as spec.yaml records them); and
 * `tunespec`, naming the tfjs model and the record predict and evaluate read. No
 * `python_function` flavor: that would promise a Python environment (conda.yaml,
 * requirements) and preprocessing that this model does not ship.
 */
export function mlmodelYaml(v: StoredVariant, files: string[], model: LoggedModel, runId: string): string {
  const flavors: Record<string, unknown> = {};
  const generated = v.status.model;
  if (generated) {
    // A Llama model as a Hugging Face folder (transformers' from_pretrained and tunespec generate
    // read it), and the PEFT adapter it was merged from when LoRA trained it.
    flavors[FLAVOR] = {
      format: 'hf-llama-folder',
      model: generated.folder,
      ...(files.some((f) => f.startsWith(`${ADAPTER_FOLDER}/`)) ? { adapter: ADAPTER_FOLDER } : {}),
      model_name: generated.name,
      base: generated.base.name,
      spec: 'spec.yaml',
      record: 'status.json',
      variant_id: v.status.variant,
    };
  } else {
  if (files.includes(ONNX_FILE)) flavors.onnx = { code: null, data: ONNX_FILE, providers: ['CPUExecutionProvider'] };
  flavors[FLAVOR] = {
    format: 'tfjs-layers-model',
    model: 'model/model.json',
    ...(files.includes(BASE_ONNX_FILE) ? { onnx_base: BASE_ONNX_FILE } : {}),
    spec: 'spec.yaml',
    record: 'status.json',
    class_names: storedClassNames(v) ?? [],
    variant_id: v.status.variant,
  };
  }
  const created = new Date(v.status.finished).toISOString().replace('T', ' ').replace('Z', '000');
  return stringify({
    artifact_path: model.info.artifact_uri,
    flavors,
    model_id: model.info.model_id,
    model_uuid: model.info.model_id,
    run_id: runId,
    utc_time_created: created,
  });
}

/**
 * Which of a variant's files its MLflow run gets as artifacts. All of them, except that a
 * generation variant trained with LoRA logs its adapter/ (small) and merged/'s config and
 * tokenizer files, not merged/'s weights: those are the base's plus the adapter, hundreds of MB
 * per variant (540 MB for SmolLM2-135M). A full fine-tune has no adapter, so its merged weights
 * are the model and are logged. Registering a variant logs its whole model (ensureLoggedModel).
 */
export async function runArtifactWanted(v: StoredVariant): Promise<(file: string) => boolean> {
  const generated = v.status.model;
  if (!generated || (await pathKind(join(v.dir, ADAPTER_FOLDER))) !== 'folder') return () => true;
  return (file) => !(file.startsWith(`${generated.folder}/`) && file.endsWith('.safetensors'));
}

/** The latest value of each metric of the run, as the runs table shows them: what the Logged models table compares. */
function latestMetrics(metrics: Metric[]): Metric[] {
  const latest = new Map<string, Metric>();
  for (const m of metrics) {
    const prev = latest.get(m.key);
    if (!prev || m.step > prev.step || (m.step === prev.step && m.timestamp >= prev.timestamp)) latest.set(m.key, m);
  }
  return [...latest.values()];
}

/** The logged models of one attempt, found by its attempt tag, a finished one first; undefined on a server without logged models (MLflow 2). */
async function attemptModels(client: MlflowClient, experimentId: string, attempt: string): Promise<LoggedModel[] | undefined> {
  const models = await client.searchLoggedModels([experimentId], `tags.\`${TAG.attempt}\` = '${attempt}'`);
  return models?.sort((a, b) => Number(b.info.status === 'LOGGED_MODEL_READY') - Number(a.info.status === 'LOGGED_MODEL_READY'));
}

/** The finished logged model of one attempt, if any. */
export async function findLoggedModel(client: MlflowClient, experimentId: string, attempt: string): Promise<LoggedModel | undefined> {
  return (await attemptModels(client, experimentId, attempt))?.find((m) => m.info.status === 'LOGGED_MODEL_READY');
}

/**
 * A completed attempt's model as an MLflow logged model, the way `mlflow.<flavor>.log_model`
 * makes one: created PENDING with the run's params and identifying tags, linked to the run as its
 * output, its files uploaded under the model's own artifact root, the run's latest metrics logged
 * against it, then finalized READY. Idempotent: a READY model is left as it is, and a PENDING one
 * (a process that died half-way) gets only what it lacks. Undefined on a server without logged
 * models (MLflow 2), which keeps the run's artifacts only.
 */
export async function ensureLoggedModel(client: MlflowClient, experimentId: string, run: RunInfo, v: StoredVariant, content: ChildContent): Promise<LoggedModel | undefined> {
  const found = await attemptModels(client, experimentId, v.status.attempt);
  if (!found) return undefined;
  let model = found[0];
  if (model?.info.status === 'LOGGED_MODEL_READY') return model;
  model ??= await client.createLoggedModel({
    experimentId,
    name: `model-${v.status.variant}`,
    sourceRunId: run.run_id,
    modelType: MODEL_TYPE,
    params: content.params,
    tags: content.tags,
  });
  const id = model.info.model_id;
  const files = await modelFilesOf(v.dir, v.status.model !== undefined);
  const present = new Map((await client.listAllProxied(model.info.artifact_uri)).map((f) => [f.path, f.file_size]));
  for (const file of files) {
    const data = await readFile(join(v.dir, file));
    if (present.get(file) !== data.byteLength) await client.uploadArtifact(model.info.artifact_uri, file, data);
  }
  await client.uploadArtifact(model.info.artifact_uri, MLMODEL_FILE, Buffer.from(mlmodelYaml(v, files, model, run.run_id)));
  const logged = new Set((model.data?.metrics ?? []).map((m) => m.key));
  const metrics = latestMetrics(content.metrics);
  await client.logModelMetrics(run.run_id, id, metrics.filter((m) => !logged.has(m.key)));
  if (!(await client.runOutputs(run.run_id)).includes(id)) {
    await client.logOutputs(run.run_id, [{ model_id: id, step: Math.max(0, ...metrics.map((m) => m.step)) }]);
  }
  await client.finalizeLoggedModel(id, 'LOGGED_MODEL_READY');
  // A create whose answer was lost (a dropped connection, then a retry) left a second PENDING
  // model of this attempt: the attempt has one model, so the spare goes.
  for (const spare of found.filter((m) => m.info.model_id !== id && m.info.status !== 'LOGGED_MODEL_READY')) await client.deleteLoggedModel(spare.info.model_id);
  return (await client.getLoggedModel(id)) ?? model;
}
