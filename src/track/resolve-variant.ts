import { readFile } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { pathKind } from '../data/readers/files.ts';
import { InputError, UsageError } from '../errors.ts';
import { parseStoredSpec } from '../spec/stored.ts';
import type { Experiment } from '../spec/types.ts';
import { BASE_ONNX_FILE, entriesOf, latestAttempt, LocalRunStore, ONNX_FILE, storedClassNames, storedVariants, type StoredVariant } from './local-store.ts';
import { rankByMetric } from './rank.ts';
import { TOKENIZER_FILES } from '../model/hf/tokenizer-files.ts';
import { ADAPTER_FOLDER, COMPLETIONS_FILE, MERGED_FOLDER } from '../train/generation-files.ts';

/** A trained variant as the run store holds it, with what predicting and evaluating need. */
export interface ResolvedVariant {
  stored: StoredVariant;
  /** The resolved variant spec: preprocessing, classes and objective as trained. */
  spec: Experiment;
  /** The tfjs model.json; for a generation variant (resolved to be registered), its merged model folder. */
  modelJson: string;
  classNames: string[];
}

/**
 * What of a stored variant's folder loading it again takes (files or folders, some optional):
 * the record (`loadStoredVariant` below), the tfjs model, its ONNX twin, an ONNX base and a text
 * variant's tokenizer files (inside `model/` before run store format 3). A logged model
 * carries exactly these, so a downloaded one loads like a stored variant.
 */
export const VARIANT_MODEL_FILES = ['spec.yaml', 'status.json', 'result.json', 'model', ONNX_FILE, BASE_ONNX_FILE, ...TOKENIZER_FILES] as const;

/** What a generation variant's logged model carries: its record, its merged model folder and its LoRA adapter. */
export const GENERATION_MODEL_FILES = ['spec.yaml', 'status.json', 'result.json', MERGED_FOLDER, ADAPTER_FOLDER, COMPLETIONS_FILE] as const;

/** What a command does with the variant: predict and evaluate take classifiers; register takes any completed model. */
export type VariantUse = 'predict' | 'register';

/**
 * A stored variant's record and model, checked: completed, with a model and a readable spec. A
 * generation variant is refused unless it is to be registered; then `modelJson` is its merged folder.
 */
export async function loadStoredVariant(stored: StoredVariant, use: VariantUse = 'predict'): Promise<ResolvedVariant> {
  const generated = stored.status.model;
  if (generated && use !== 'register') {
    throw new InputError(`${stored.dir} is a generation variant (${generated.name}): predict and evaluate take classifiers; its model is the Hugging Face folder ${join(stored.dir, generated.folder)}`);
  }
  const text = await readFile(join(stored.dir, 'spec.yaml'), 'utf8');
  const spec = parseStoredSpec(text);
  if (!spec) throw new InputError(`${stored.dir}/spec.yaml is not a valid variant spec`);
  if (generated) {
    const folder = join(stored.dir, generated.folder);
    if (stored.status.status !== 'completed' || (await pathKind(join(folder, 'config.json'))) !== 'file') {
      throw new InputError(`variant ${stored.status.variant} ${stored.status.status === 'completed' ? `has no merged model in ${folder}` : `did not complete (${stored.status.status})`}: ${stored.dir}`);
    }
    return { stored, spec, modelJson: folder, classNames: [] };
  }
  const modelJson = join(stored.dir, 'model', 'model.json');
  if (stored.status.status !== 'completed' || !(await pathKind(modelJson))) {
    throw new InputError(`variant ${stored.status.variant} ${stored.status.status === 'completed' ? 'has no stored model' : `did not complete (${stored.status.status})`}: ${stored.dir}`);
  }
  return { stored, spec, modelJson, classNames: storedClassNames(stored) ?? [] };
}

/** Every completed attempt in the run store, across experiments and sweeps. */
async function everyCompleted(runsDir: string): Promise<StoredVariant[]> {
  const store = new LocalRunStore(runsDir);
  const out: StoredVariant[] = [];
  for (const exp of await entriesOf(runsDir)) {
    if (!exp.startsWith('.')) out.push(...(await store.list(exp)).filter((v) => v.status.status === 'completed'));
  }
  return out;
}

/**
 * What `predict` and `evaluate` act on: `best` (the spec's best completed variant by its
 * objective), a variant id, or a path to a stored variant (its folder or its model.json). A model
 * outside the run store carries no record of its preprocessing, so it is refused, not guessed at.
 */
export async function resolveVariant(
  target: string,
  opts: { runsDir: string; best?: { experiment: string; metric: string; greaterIsBetter: boolean }; use?: VariantUse },
): Promise<ResolvedVariant> {
  if (target === 'best') {
    if (!opts.best) throw new UsageError('"best" needs the spec it is best of: add --spec <spec>');
    const done = [...(await new LocalRunStore(opts.runsDir).completed(opts.best.experiment)).values()];
    const top = rankByMetric(done, opts.best.metric, opts.best.greaterIsBetter)[0];
    if (!top) throw new InputError(`no completed variant of ${opts.best.experiment} in ${opts.runsDir}: run the sweep first`);
    return loadStoredVariant(top, opts.use);
  }
  if (/^[0-9a-f]{12}$/.test(target) && !(await pathKind(target))) {
    const latest = latestAttempt(await everyCompleted(opts.runsDir), target);
    if (!latest) throw new InputError(`no completed variant ${target} in ${opts.runsDir} (tunespec runs <spec> lists them)`);
    return loadStoredVariant(latest, opts.use);
  }
  const path = resolve(target);
  const kind = await pathKind(path);
  if (!kind) throw new InputError(`${target}: no such variant id, file or folder`);
  // A variant folder, its model folder, or its model.json.
  let dir = kind === 'folder' ? path : dirname(path);
  if (basename(dir) === 'model') dir = dirname(dir);
  const variants = await storedVariants(dirname(dir));
  const stored = variants.find((v) => v.dir === dir);
  if (!stored) {
    throw new InputError(`${target} is not a model in the run store: predict and evaluate need the variant's record (preprocessing, classes); pass a variant id, "best", or runs/<experiment>/<sweep>/<variant>`);
  }
  return loadStoredVariant(stored, opts.use);
}
