import { readFile } from 'node:fs/promises';
import { basename, dirname, isAbsolute, join, relative } from 'node:path';
import { pathKind } from '../../data/readers/files.ts';
import { anyTf } from '../../engine/backends.ts';
import { InputError, TunespecError } from '../../errors.ts';
import { loadBase } from '../../model/build.ts';
import { specModel } from '../../app/spec-model.ts';
import { checkWeightBytes, describeStorage, formatShape, summarizeModel, type ModelSummary } from '../../model/inspect.ts';
import { describeLocation, readModelFiles, resolveModelLocation, type ModelFiles, type ModelLocation } from '../../model/source.ts';
import { canonicalJson } from '../../plan/canonical.ts';
import { formatTable } from '../../report/table.ts';
import { readStoredVariant, storedClassNames } from '../../track/local-store.ts';
import { loadSpec } from '../../app/load-spec.ts';
import type { Io } from '../io.ts';
import { taskOf } from '../../spec/derived.ts';
import { inspectHfFolder, isHfFolderTarget } from './inspect-hf.ts';
import { inspectOnnx } from './inspect-onnx.ts';

interface Classes {
  names: string[] | null;
  from: string | null;
}

/** A local target may be a model.json, its folder, or a stored variant's folder. */
async function modelLocation(target: string): Promise<ModelLocation> {
  const loc = resolveModelLocation(target, process.cwd());
  if (loc.kind === 'url') return loc;
  if ((await pathKind(loc.path)) !== 'folder') return loc;
  for (const candidate of [join(loc.path, 'model.json'), join(loc.path, 'model', 'model.json')]) {
    if ((await pathKind(candidate)) === 'file') return { kind: 'file', path: candidate };
  }
  throw new InputError(`${target} is a folder without a model.json`);
}

/** The run store keeps class names beside the model (runs/<exp>/<sweep>/<variant>/status.json); exported models may carry them in their metadata. */
async function classNamesOf(loc: ModelLocation, files: ModelFiles): Promise<Classes> {
  if (loc.kind === 'file' && basename(dirname(loc.path)) === 'model') {
    const stored = await readStoredVariant(dirname(dirname(loc.path)));
    const names = stored && storedClassNames(stored);
    if (Array.isArray(names)) return { names: names.map(String), from: 'run store' };
  }
  const meta = files.json.userDefinedMetadata ?? {};
  const names = meta.classNames ?? meta.class_names;
  return Array.isArray(names) ? { names: names.map(String), from: 'model.json metadata' } : { names: null, from: null };
}

function outputLine(summary: ModelSummary, classes: Classes): string {
  const shape = summary.outputs[0]?.shape ?? [];
  const units = shape[shape.length - 1];
  const head = `output: ${formatShape(shape)}`;
  if (!classes.names) return `${head}, ${units} units; class names are not recorded`;
  if (classes.names.length !== units) return `${head}, ${units} units; the ${classes.from} names ${classes.names.length} classes, which does not match`;
  return `${head}, ${units} classes (${classes.from}): ${classes.names.join(', ')}`;
}

function summaryLines(summary: ModelSummary, classes: Classes): string[] {
  const p = summary.params;
  return [
    `params: ${p.total} total, ${p.trainable} trainable, ${p.nonTrainable} non-trainable`,
    ...summary.inputs.map((i) => `input: ${formatShape(i.shape)} ${i.dtype}`),
    outputLine(summary, classes),
    `weights: ${describeStorage(summary.weightStorage)}`,
  ];
}

/** One storage dtype per layer, or "uint8+float32" for a mixed one; only shown when something is quantised. */
function storedColumn(summary: ModelSummary): ((i: number) => string) | undefined {
  if (Object.keys(summary.weightStorage).every((d) => d === 'float32' || d === 'int32')) return undefined;
  return (i) => [...new Set(summary.layers[i].weights.map((w) => w.stored))].join('+') || '-';
}

function jsonOf(summary: ModelSummary, classes: Classes, extra: Record<string, unknown>, layerExtra: (i: number) => Record<string, unknown> = () => ({})): string {
  const shape = summary.outputs[0]?.shape ?? [];
  return JSON.stringify(
    {
      ...extra,
      layers: summary.layers.map((l, i) => ({ ...l, ...layerExtra(i) })),
      params: summary.params,
      inputs: summary.inputs,
      output: { shape, units: shape[shape.length - 1], classNames: classes.names, classNamesFrom: classes.from },
      weights: summary.weightStorage,
    },
    null,
    2,
  );
}

/** Paths in messages as the user would type them: relative to where they ran tunespec, when inside it. */
function shownDir(dir: string): string {
  const rel = relative(process.cwd(), dir);
  return rel.startsWith('..') || isAbsolute(rel) ? `${dir}/` : rel ? `${rel}/` : '';
}

function asTyped(err: unknown, loc: ModelLocation): never {
  if (!(err instanceof TunespecError) || loc.kind !== 'file') throw err;
  err.message = err.message.split(`${dirname(loc.path)}/`).join(shownDir(dirname(loc.path)));
  throw err;
}

const MAGIC: [string, number[]][] = [
  ['PNG image', [0x89, 0x50, 0x4e, 0x47]],
  ['JPEG image', [0xff, 0xd8, 0xff]],
  ['gzip file', [0x1f, 0x8b]],
  ['zip archive', [0x50, 0x4b, 0x03, 0x04]],
];

/** A file that is not JSON at all is named for what it is, not for where JSON.parse choked on its bytes. */
async function refuseNonJson(loc: ModelLocation, target: string): Promise<void> {
  if (loc.kind !== 'file') return;
  const head = await readFile(loc.path).then((b) => b.subarray(0, 16), () => undefined);
  if (!head || head.length === 0 || /^\s*[{[]/.test(head.toString('latin1').replace(/^\uFEFF|^\xEF\xBB\xBF/, ''))) return;
  const kind = MAGIC.find(([, bytes]) => bytes.every((b, i) => head[i] === b))?.[0];
  throw new InputError(`${target} is not a TensorFlow.js model.json${kind ? `: it is a ${kind}` : ': it is not JSON'}`);
}

async function inspectModel(target: string, json: boolean, io: Io): Promise<number> {
  const loc = await modelLocation(target);
  const where = describeLocation(loc);
  // A URL is shown without the secrets a signed one carries.
  const shown = loc.kind === 'url' ? where : target;
  let summary: ModelSummary;
  let files: ModelFiles;
  try {
    await refuseNonJson(loc, target);
    files = await readModelFiles(loc);
    checkWeightBytes(files.weightSpecs, files.weightData.byteLength, where);
    const tf = await anyTf();
    const model = await loadBase(tf, files).catch((err: Error) => {
      throw new InputError(`${where}: ${err.message}`);
    });
    summary = summarizeModel(model, files.weightSpecs);
    model.dispose();
  } catch (err) {
    asTyped(err, loc);
  }
  const classes = await classNamesOf(loc, files!);
  if (json) {
    io.out(jsonOf(summary!, classes, { kind: 'model', source: shown, format: files!.json.format ?? null }));
    return 0;
  }
  const s = summary!;
  const stored = storedColumn(s);
  io.out(`Model ${shown} (${s.layers.length} layers):`);
  io.out(
    formatTable(
      ['#', 'layer', 'class', 'output shape', 'params', 'trainable', ...(stored ? ['stored as'] : [])],
      s.layers.map((l, i) => [i, l.name, l.className, formatShape(l.outputShape), l.params, l.trainable ? 'yes' : 'no', ...(stored ? [stored(i)] : [])]),
    ),
  );
  for (const line of summaryLines(s, classes)) io.out(line);
  return 0;
}

async function inspectSpec(file: string, json: boolean, io: Io): Promise<number> {
  const spec = await loadSpec(file);
  const variant = spec.plan.variants[0];
  const v = variant.spec;
  const serialised = new WeakMap<object, string>(); // variants share these parts: each is serialised once
  const structures = new Set(spec.plan.variants.map((x) => canonicalJson([x.spec.base_model, x.spec.head, x.spec.freeze], serialised))).size;
  const model = await specModel(spec, variant);
  const summary = summarizeModel(model.built.model, spec.model.base.format === 'tfjs' ? spec.model.base.files.weightSpecs : []);
  await model.dispose();
  // An ONNX base's nodes come first: frozen, with what the file says of them.
  const onnx = model.outside ?? [];
  const onnxParams = onnx.reduce((n, l) => n + l.params, 0);
  summary.layers = [
    ...onnx.map((l, index) => ({ index, name: l.name, className: l.className, outputShape: null, params: l.params, trainable: false, weights: [] })),
    ...summary.layers.map((l) => ({ ...l, index: l.index + onnx.length })),
  ];
  summary.params = { total: summary.params.total + onnxParams, trainable: summary.params.trainable, nonTrainable: summary.params.nonTrainable + onnxParams };
  if (model.inputShape) summary.inputs = [{ name: 'input', shape: [null, ...model.inputShape], dtype: 'float32' }];
  const built = { frozen: [...onnx.map(() => true), ...model.built.frozen] };

  // A generation spec's decoder keeps its own LM head: no layer of it is new.
  const headStart = summary.layers.length - (taskOf(v) === 'generation' ? 0 : v.head.length);
  const cut = { index: headStart - 1, name: summary.layers[headStart - 1].name };
  const part = (i: number): 'base' | 'head' => (i >= headStart ? 'head' : 'base');
  const names = v.data.class_names ?? v.data.classes?.map(String) ?? null;
  const classes: Classes = { names, from: v.data.class_names ? 'data.class_names' : names ? 'data.classes' : null };
  const variants = spec.plan.variants.length;
  if (json) {
    const extra = { kind: 'spec', spec: file, experiment: v.name, variant: variant.id, variants, structures, base: v.base_model.source, cut };
    io.out(jsonOf(summary, classes, extra, (i) => ({ part: part(i), frozen: built.frozen[i] })));
    return 0;
  }
  const stored = storedColumn(summary);
  io.out(`Model of ${v.name}, variant ${variant.id}${variants > 1 ? ` (first of ${variants})` : ''}; base ${v.base_model.source}:`);
  const table = formatTable(
    ['#', 'layer', 'class', 'output shape', 'params', 'state', 'part', ...(stored ? ['stored as'] : [])],
    summary.layers.map((l, i) => [i, l.name, l.className, formatShape(l.outputShape), l.params, built.frozen[i] ? 'frozen' : 'trainable', part(i), ...(stored ? [stored(i)] : [])]),
  ).split('\n');
  // Row i is line i + 1, below the header: the marker goes under the cut layer's row.
  const generation = taskOf(v) === 'generation';
  if (!generation) table.splice(cut.index + 2, 0, `-- cut after layer ${cut.index} "${cut.name}"; the head starts here --`);
  io.out(table.join('\n'));
  // A decoder's output is next-token logits over its vocabulary, not classes.
  for (const line of summaryLines(summary, classes)) io.out(generation ? line.replace(/ units; class names are not recorded$/, '-token vocabulary (next-token logits)') : line);
  const frozen = built.frozen.filter(Boolean).length;
  io.out(`${summary.layers.length - frozen} trainable, ${frozen} frozen layers`);
  if (structures > 1) {
    io.out(`The sweep builds ${structures} distinct model structures (head, freeze or cut swept); this is the first. \`tunespec plan ${file}\` shows them all.`);
  }
  return 0;
}

export async function inspectCommand(target: string, opts: { json: boolean }, io: Io): Promise<number> {
  const bare = target.replace(/[?#].*$/, '');
  if (/\.onnx$/i.test(bare)) return inspectOnnx(target, opts.json, io);
  if (/\.ya?ml$/i.test(bare)) return inspectSpec(target, opts.json, io);
  if (await isHfFolderTarget(target)) return inspectHfFolder(target, opts.json, io);
  return inspectModel(target, opts.json, io);
}
