import { dirname, relative, resolve } from 'node:path';
import { InputError } from '../../errors.ts';
import { loadDataset } from '../../data/dataset.ts';
import { allRows } from '../../data/rows.ts';
import { pathKind } from '../../data/readers/files.ts';
import type { DataSpec } from '../../spec/types.ts';
import type { ResolvedVariant } from '../../track/resolve-variant.ts';
import { resolveTrackingConfig } from '../../track/mlflow/config.ts';
import { MlflowClient } from '../../track/mlflow/client.ts';
import type { Metric } from '../../track/mlflow/limits.ts';
import { findAttemptRun } from '../../track/mlflow/sweep-tracker.ts';
import { scoreProbabilities, type Evaluation } from '../../train/evaluate.ts';
import { classScores, type ClassScore } from '../../train/scores.ts';
import { fixed, formatTable } from '../../report/table.ts';
import type { Io } from '../io.ts';
import { resolveTarget } from '../../app/variant-model.ts';
import { loadPredictor, type PredictorEngine } from '../../app/variant-predictor.ts';
import { variantTokenizerFolder } from '../../app/text-input.ts';
import { textExamples } from '../../train/examples.ts';

export interface EvaluateOptions {
  spec?: string;
  runsDir: string;
  trackingUri?: string;
  engine: PredictorEngine;
  json: boolean;
}

const FORMAT_WORDS: Record<DataSpec['format'], string> = {
  idx: 'IDX data (an images file and a labels file)',
  image_folder: 'an image folder',
  csv: 'a CSV file',
  text: 'a text file (CSV, TSV or JSONL)',
};

/**
 * The variant's data section with the given paths swapped in: same format, classes, names,
 * scaling and size, so the test data is read exactly as the training data was; only the
 * per-class limit (a training-time budget) is dropped. Paths are the user's, relative to the
 * current directory.
 */
async function testDataSpec(trained: DataSpec, paths: string[], classNames: string[]): Promise<DataSpec> {
  const abs = paths.map((p) => resolve(p));
  const kind = await pathKind(abs[0]!);
  if (!kind) throw new InputError(`${paths[0]}: no such file or folder`);
  // Two files can only be IDX, a folder only an image folder; one file is a CSV file or half an IDX pair.
  const given: DataSpec['format'] | undefined =
    paths.length === 2 ? 'idx' : kind === 'folder' ? 'image_folder' : trained.format === 'idx' ? undefined : trained.format === 'text' ? 'text' : 'csv';
  if (given !== trained.format) {
    throw new InputError(`the variant was trained on ${FORMAT_WORDS[trained.format]}; got ${given ? FORMAT_WORDS[given] : `one file (${paths[0]})`}`);
  }
  // Without `classes` a test set holding other labels would shift every class index: pin the
  // trained classes (their names are the labels themselves when no class_names were given).
  const classes = trained.classes ?? (trained.class_names ? undefined : classNames);
  const common = { classes, limit_per_class: undefined };
  if (trained.format === 'idx') return { ...trained, ...common, images: abs[0]!, labels: abs[1]! };
  return { ...trained, ...common, path: abs[0]! };
}

interface Report {
  variant: string;
  label: string;
  /** What ran the model: the tfjs engine, or onnxruntime on model.onnx. */
  engine: string;
  examples: number;
  loss: number;
  accuracy: number;
  classes: ({ name: string } & ClassScore)[];
  confusion: number[][];
}

/** The variant's MLflow run (found by its attempt tag) gets test/* metrics; what happened, in one line. */
async function logToMlflow(variant: ResolvedVariant, report: Report, trackingUri: string | undefined, io: Io): Promise<{ run?: string; note: string } | undefined> {
  const config = resolveTrackingConfig({ flag: trackingUri, spec: variant.spec.tracking, specName: variant.spec.name, env: process.env });
  if (!config) return undefined;
  const client = new MlflowClient(config);
  if (!(await client.healthy())) {
    io.err(`MLflow: no answer from ${config.uri}; the test metrics were not logged`);
    return { note: `MLflow: no answer from ${config.uri}; not logged` };
  }
  const sync = `tunespec sync ${relative(process.cwd(), dirname(variant.stored.dir)) || '.'}`;
  const missing = { note: `variant ${report.variant} is not in MLflow experiment "${config.experiment}" at ${config.uri}; \`${sync}\` uploads it, then evaluate again` };
  const run = await findAttemptRun(client, variant.stored.status.attempt);
  if (!run) return missing;
  const timestamp = Date.now();
  // Keys made of class names are made safe where every batch is packed (packBatches).
  const metric = (key: string, value: number): Metric => ({ key, value, timestamp, step: 0 });
  const metrics = [metric('test/loss', report.loss), metric('test/accuracy', report.accuracy)];
  for (const c of report.classes) metrics.push(metric(`test/${c.name}/precision`, c.precision), metric(`test/${c.name}/recall`, c.recall), metric(`test/${c.name}/f1`, c.f1));
  await client.logBatch(run.runId, { metrics });
  return { run: run.url, note: `MLflow: logged test/* metrics to ${run.url}` };
}

function printReport(report: Report, source: string, io: Io): void {
  io.out(`variant ${report.variant} (${report.label}) on ${report.examples} examples from ${source}, engine ${report.engine}`);
  io.out(`loss ${fixed(report.loss)}  accuracy ${fixed(report.accuracy)}`);
  io.out('');
  io.out(formatTable(['class', 'precision', 'recall', 'f1', 'support'], report.classes.map((c) => [c.name, fixed(c.precision), fixed(c.recall), fixed(c.f1), c.support])));
  io.out('');
  io.out('confusion matrix (rows: true class, columns: predicted)');
  const names = report.classes.map((c) => c.name);
  io.out(formatTable(['true \\ predicted', ...names], report.confusion.map((row, i) => [names[i]!, ...row])));
}

export async function evaluateCommand(target: string, data: string[], opts: EvaluateOptions, io: Io): Promise<number> {
  const variant = await resolveTarget(target, opts.spec, opts.runsDir, opts.trackingUri);
  const spec = await testDataSpec(variant.spec.data, data, variant.classNames);
  const loaded = await loadPredictor(variant, opts.engine);
  let dataset;
  try {
    dataset =
      spec.format === 'text'
        ? await textExamples(spec, process.cwd(), await variantTokenizerFolder(variant), loaded.inputNames, { knownClasses: spec.classes })
        : await loadDataset(spec, process.cwd(), variant.spec.base_model.preprocess);
  } catch (err) {
    await loaded.dispose();
    throw err;
  }
  if (dataset.classNames.join('\n') !== variant.classNames.join('\n')) {
    await loaded.dispose();
    throw new InputError(`the data's classes (${dataset.classNames.join(', ')}) are not the variant's (${variant.classNames.join(', ')})`);
  }
  let evaluation: Evaluation;
  const engine = loaded.engine;
  try {
    if (dataset.exampleShape.join('x') !== loaded.inputShape.join('x')) {
      throw new InputError(`${data[0]}: examples of shape ${dataset.exampleShape.join('x')}, but the variant takes ${loaded.inputShape.join('x')}`);
    }
    const probabilities = await loaded.predict(allRows(dataset.rows), dataset.labels.length);
    evaluation = scoreProbabilities(probabilities, dataset.labels, dataset.classNames.length);
  } finally {
    await loaded.dispose();
  }
  const report: Report = {
    variant: variant.stored.status.variant,
    label: variant.stored.status.label,
    engine,
    examples: dataset.labels.length,
    loss: evaluation.loss,
    accuracy: evaluation.accuracy,
    classes: classScores(evaluation.confusion).map((s, i) => ({ name: dataset.classNames[i]!, ...s })),
    confusion: evaluation.confusion,
  };
  // Results are shown even when logging them fails; the failure is raised afterwards.
  let failure: unknown;
  const logged = await logToMlflow(variant, report, opts.trackingUri, io).catch((err: unknown) => void (failure = err));
  if (opts.json) {
    io.out(JSON.stringify({ ...report, dir: variant.stored.dir, data: data.map((p) => resolve(p)), mlflow: logged ?? null }, null, 2));
  } else {
    printReport(report, data.join(' + '), io);
    if (logged) io.out(`\n${logged.note}`);
  }
  if (failure) throw failure;
  return 0;
}
