import { stat } from 'node:fs/promises';
import { basename, resolve } from 'node:path';
import { InputError, UsageError } from '../errors.ts';
import { objectiveOf } from '../spec/derived.ts';
import { entriesOf, LocalRunStore, readStoredVariant, type StatusRecord, type StoredVariant } from '../track/local-store.ts';
import { rankByMetric } from '../track/rank.ts';
import { readSpecDocument } from './load-spec.ts';

/** What a completed generation variant's status.json says about its model (written by training, checked by the store's reader). */
export type StoredModelRecord = NonNullable<StatusRecord['model']>;

/** A generation model that `generate` and `serve` can load, with how OpenAI's model list shows it. */
export interface ModelRef {
  /** The name clients use: `ft:<base>:<experiment>:<variant>`, a base model's name, or the path as given. */
  name: string;
  kind: 'fine-tuned' | 'base' | 'path';
  /** A local folder or .gguf file, or a Hugging Face source (hf://, http(s)) for a base model. */
  source: string;
  /** Unix seconds: when the variant finished; for a base model, when the first variant on it started. */
  created: number;
  /** OpenAI's `owned_by`: the experiment of a fine-tuned model; "base" for a base model; "local" for a path. */
  ownedBy: string;
  variant?: StoredVariant;
}

/** A model name or id that names nothing servable: the server's 404 model_not_found. */
export class ModelNotFoundError extends InputError {
  constructor(
    readonly model: string,
    message: string,
  ) {
    super(message);
  }
}

export function modelRecordOf(v: StoredVariant): StoredModelRecord | undefined {
  return v.status.model;
}

const seconds = (iso: string): number => Math.floor(Date.parse(iso) / 1000) || 0;

function fineTuned(v: StoredVariant, m: StoredModelRecord, experiment: string): ModelRef {
  return { name: m.name, kind: 'fine-tuned', source: resolve(v.dir, m.folder), created: seconds(v.status.finished), ownedBy: experiment, variant: v };
}

/** Every completed generation variant of the run store, with its experiment, newest attempt first. */
async function completedGenerations(runsDir: string): Promise<{ v: StoredVariant; m: StoredModelRecord; experiment: string }[]> {
  const store = new LocalRunStore(runsDir);
  const out: { v: StoredVariant; m: StoredModelRecord; experiment: string }[] = [];
  for (const experiment of await entriesOf(runsDir)) {
    if (experiment.startsWith('.')) continue;
    for (const v of await store.list(experiment)) {
      const m = v.status.status === 'completed' ? modelRecordOf(v) : undefined;
      if (m) out.push({ v, m, experiment });
    }
  }
  return out.sort((a, b) => b.v.status.finished.localeCompare(a.v.status.finished));
}

/**
 * What `GET /v1/models` lists: every completed fine-tuned variant by name (the newest attempt of
 * each), then each base model they were trained from, once, by name.
 */
export async function listModels(runsDir: string): Promise<ModelRef[]> {
  const done = await completedGenerations(resolve(runsDir));
  const tuned = new Map<string, ModelRef>();
  const bases = new Map<string, ModelRef>();
  for (const { v, m, experiment } of done) {
    if (!tuned.has(m.name)) tuned.set(m.name, fineTuned(v, m, experiment));
    const started = seconds(v.status.started);
    const known = bases.get(m.base.name);
    // Newest first: the first seen gives the source (the latest), the last the earliest start.
    if (!known) bases.set(m.base.name, { name: m.base.name, kind: 'base', source: m.base.source, created: started, ownedBy: 'base' });
    else known.created = Math.min(known.created, started);
  }
  return [...tuned.values(), ...bases.values()];
}

const isFolderOrFile = (p: string) =>
  stat(p).then(
    (s) => (s.isDirectory() ? 'folder' : s.isFile() ? 'file' : undefined),
    () => undefined,
  );

export interface ResolveModelOptions {
  runsDir: string;
  /** The spec that `best` is the best variant of. */
  spec?: string;
  /** Local paths (a model folder, a .gguf file, a variant folder) are accepted: the CLI, never the HTTP server. */
  allowPaths: boolean;
}

/**
 * The model a name means, in this order: `ft:<base>:<experiment>:<variant>` (a completed variant's
 * status.json `model.name`), `best` (with a spec: its best completed variant by the spec's
 * objective), a variant id or a unique prefix of one (4 hex digits or more), a base model's name
 * (from any completed variant trained on it), then, when allowed, a path: a variant's folder, a
 * Hugging Face model folder or a .gguf file.
 */
export async function resolveModel(target: string, opts: ResolveModelOptions): Promise<ModelRef> {
  const runsDir = resolve(opts.runsDir);
  const done = await completedGenerations(runsDir);
  if (target.startsWith('ft:')) {
    const hit = done.find((d) => d.m.name === target);
    if (!hit) throw new ModelNotFoundError(target, `no completed fine-tuned model ${target} in ${runsDir} (\`tunespec serve\` lists them at GET /v1/models)`);
    return fineTuned(hit.v, hit.m, hit.experiment);
  }
  if (target === 'best') {
    if (!opts.spec) throw new UsageError('"best" needs the spec it is best of: add --spec <spec>');
    const { experiment } = await readSpecDocument(opts.spec);
    const { metric, greaterIsBetter } = objectiveOf(experiment.training.objective);
    const ofSpec = done.filter((d) => d.experiment === experiment.name);
    const top = rankByMetric(
      ofSpec.map((d) => ({ ...d, result: d.v.result })),
      metric,
      greaterIsBetter,
    )[0];
    if (!top) throw new ModelNotFoundError(target, `no completed generation variant of ${experiment.name} in ${runsDir}: run the sweep first`);
    return fineTuned(top.v, top.m, top.experiment);
  }
  const pathKind = opts.allowPaths ? await isFolderOrFile(resolve(target)) : undefined;
  if (/^[0-9a-f]{4,12}$/.test(target) && !pathKind) {
    const ids = [...new Set(done.filter((d) => d.v.status.variant.startsWith(target)).map((d) => d.v.status.variant))];
    if (ids.length > 1) throw new InputError(`${target} is the start of ${ids.length} variant ids (${ids.slice(0, 5).join(', ')}${ids.length > 5 ? ', …' : ''}): give more of it`);
    if (ids.length === 1) {
      const hit = done.find((d) => d.v.status.variant === ids[0])!;
      return fineTuned(hit.v, hit.m, hit.experiment);
    }
  }
  const base = done.find((d) => d.m.base.name === target);
  if (base) return { name: target, kind: 'base', source: base.m.base.source, created: seconds(base.v.status.started), ownedBy: 'base' };
  if (pathKind) {
    const path = resolve(target);
    if (pathKind === 'folder') {
      const stored = await readStoredVariant(path).catch(() => undefined);
      const m = stored && modelRecordOf(stored);
      if (stored && m) {
        if (stored.status.status !== 'completed') throw new InputError(`variant ${stored.status.variant} did not complete (${stored.status.status}): ${path}`);
        return fineTuned(stored, m, basename(resolve(path, '..', '..')));
      }
    }
    if (pathKind === 'file' && !/\.gguf$/i.test(path)) throw new InputError(`${target} is a file but not a .gguf model: give a Hugging Face model folder, a .gguf file, or a model name`);
    return { name: target, kind: 'path', source: path, created: seconds((await stat(path)).mtime.toISOString()), ownedBy: 'local' };
  }
  if (/^(hf|https?):\/\//i.test(target) && opts.allowPaths) return { name: target, kind: 'path', source: target, created: 0, ownedBy: 'remote' };
  throw new ModelNotFoundError(
    target,
    `no model ${target}: not a completed fine-tuned model (ft:<base>:<experiment>:<variant>), variant id or base model name in ${runsDir}${opts.allowPaths ? ', nor a model folder or .gguf file' : ''}`,
  );
}

