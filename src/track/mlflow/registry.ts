import { createHash, randomBytes } from 'node:crypto';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { parse } from 'yaml';
import { pathKind } from '../../data/readers/files.ts';
import { InputError, TrackingError } from '../../errors.ts';
import type { MlflowClient, ModelVersion } from './client.ts';
import { TAG } from './content.ts';
import type { KeyValue } from './limits.ts';
import { findLoggedModel, FLAVOR, MLMODEL_FILE } from './logged-model.ts';

/** Tags of the logged model a registered version repeats: which variant, sweep and commit it is. */
const VERSION_TAGS = [TAG.variant, TAG.sweep, TAG.attempt, 'mlflow.source.git.commit', 'mlflow.source.git.branch', 'tunespec.git.dirty'];

export interface Registration {
  version: ModelVersion;
  /** False when this attempt was registered under the name already. */
  created: boolean;
  url: string;
}

/**
 * Register the logged model of one stored attempt as a version of the registered model `name`,
 * as `mlflow.register_model("models:/<model_id>", name)` does (the registered model is created
 * when missing), with tags naming the variant, sweep and git commit. Idempotent: an attempt
 * already registered under `name` (found by its attempt tag) gives back its version.
 */
export async function registerAttempt(client: MlflowClient, experimentId: string, attempt: string, name: string): Promise<Registration> {
  const model = await findLoggedModel(client, experimentId, attempt);
  if (!model) {
    throw new TrackingError(`MLflow at ${client.config.uri} holds no finished logged model of attempt ${attempt}: the server needs MLflow 3 (logged models), and the variant must have completed with a model`);
  }
  await client.ensureRegisteredModel(name);
  const versionsOf = async (): Promise<ModelVersion[]> =>
    (await client.searchModelVersions(`tags.\`${TAG.attempt}\` = '${attempt}'`)).filter((v) => v.name === name).sort((a, b) => Number(a.version) - Number(b.version));
  const [existing] = await versionsOf();
  if (existing) return { version: existing, created: false, url: client.modelVersionUrl(name, existing.version) };
  const modelTags = new Map((model.info.tags ?? []).map((t) => [t.key, t.value]));
  const tags: KeyValue[] = VERSION_TAGS.flatMap((key) => (modelTags.has(key) ? [{ key, value: modelTags.get(key)! }] : []));
  const version = await client.createModelVersion({
    name,
    source: `models:/${model.info.model_id}`,
    runId: model.info.source_run_id,
    modelId: model.info.model_id,
    tags,
    description: modelTags.get('mlflow.note.content'),
  });
  // Two processes closing one sweep (a queue's last worker and the attached `run`) may both have
  // found nothing and both created a version: the lowest stays, a later one is deleted by its creator.
  const [first] = await versionsOf();
  if (first && first.version !== version.version) {
    await client.deleteModelVersion(name, version.version);
    return { version: first, created: false, url: client.modelVersionUrl(name, first.version) };
  }
  return { version, created: true, url: client.modelVersionUrl(name, version.version) };
}

/** `models:/NAME/VERSION` or `models:/NAME@ALIAS`, as MLflow spells registry URIs. */
export function parseModelsUri(uri: string): { name: string; version?: string; alias?: string } | undefined {
  const m = /^models:\/([^/@]+)(?:\/(\d+)|@([^/@]+))$/.exec(uri);
  return m ? { name: m[1]!, version: m[2], alias: m[3] } : undefined;
}

/**
 * A registered model version's files in a local folder (`cacheRoot/<digest of where they are>`),
 * downloaded once: a logged model's files never change once it is finished. The folder is a
 * stored variant (spec, record, model), so it loads as one.
 */
export async function downloadModelVersion(client: MlflowClient, uri: string, cacheRoot: string): Promise<{ dir: string; version: ModelVersion }> {
  const ref = parseModelsUri(uri);
  if (!ref) throw new InputError(`${uri}: not a registry URI; use models:/NAME/VERSION or models:/NAME@ALIAS`);
  const version = ref.alias ? await client.getModelVersionByAlias(ref.name, ref.alias) : await client.getModelVersion(ref.name, ref.version!);
  if (!version) throw new InputError(`${uri}: no such ${ref.alias ? 'alias' : 'version'} of registered model "${ref.name}" at ${client.config.uri}`);
  const artifactUri = await client.getModelVersionDownloadUri(version.name, version.version);
  const dir = join(cacheRoot, createHash('sha256').update(`${client.config.uri}\n${artifactUri}`).digest('hex').slice(0, 24));
  if (await pathKind(join(dir, MLMODEL_FILE))) return { dir, version };
  const files = await client.listAllProxied(artifactUri);
  const unsafe = files.find((f) => f.path.startsWith('/') || f.path.split('/').some((seg) => seg === '..' || seg === '' || seg === '.'));
  if (unsafe) throw new InputError(`${uri}: the server lists a file outside the model's folder (${JSON.stringify(unsafe.path)}); nothing was downloaded`);
  const mlmodel = files.some((f) => f.path === MLMODEL_FILE) ? parse((await client.downloadArtifact(artifactUri, MLMODEL_FILE)).toString('utf8')) : undefined;
  if (!mlmodel?.flavors?.[FLAVOR]) {
    throw new InputError(`${uri} (version ${version.version}, from ${version.source}) is not a tunespec model: its MLmodel has no "${FLAVOR}" flavor`);
  }
  // Downloaded beside its final place and renamed into it, so a folder with MLmodel is whole.
  const tmp = `${dir}.tmp-${randomBytes(6).toString('hex')}`;
  try {
    for (const f of files) {
      await mkdir(dirname(join(tmp, f.path)), { recursive: true });
      await writeFile(join(tmp, f.path), await client.downloadArtifact(artifactUri, f.path));
    }
    await rename(tmp, dir).catch(async (err) => {
      // Another process downloaded the same version first: theirs is identical.
      if (!(await pathKind(join(dir, MLMODEL_FILE)))) throw err;
    });
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
  return { dir, version };
}
