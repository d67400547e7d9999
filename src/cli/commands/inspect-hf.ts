import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { anyTf } from '../../engine/backends.ts';
import { InputError, TunespecError } from '../../errors.ts';
import { formatShape } from '../../model/inspect.ts';
import { loadHfEncoder } from '../../model/hf/encoder.ts';
import { resolveHfFolder } from '../../model/hf/folder.ts';
import { summarizeEncoder } from '../../model/hf/summary.ts';
import { formatTable } from '../../report/table.ts';
import type { Io } from '../io.ts';

const isFile = (p: string) => stat(p).then((s) => s.isFile(), () => false);

/** hf://…, or a local folder that holds a config.json and no TensorFlow.js model.json. */
export async function isHfFolderTarget(target: string): Promise<boolean> {
  if (/^hf:\/\//i.test(target)) return true;
  if (/^[a-z]+:\/\//i.test(target) && !/^file:\/\//i.test(target)) return false;
  const path = target.replace(/^file:\/\//i, '');
  return (await isFile(join(path, 'config.json'))) && !(await isFile(join(path, 'model.json')));
}

/** `tunespec inspect <hf folder>`: each layer with its Hugging Face modules and parameter counts. */
export async function inspectHfFolder(target: string, json: boolean, io: Io): Promise<number> {
  let loaded;
  try {
    const resolved = await resolveHfFolder(target, process.cwd(), { env: process.env });
    const tf = await anyTf();
    loaded = { resolved, ...(await loadHfEncoder(tf, resolved.folder)) };
  } catch (err) {
    if (err instanceof TunespecError && !(err instanceof InputError)) throw new InputError(err.message);
    throw err;
  }
  const { resolved, model, config, unused } = loaded;
  const summary = summarizeEncoder(model);
  model.dispose();
  const modelType = (config as { modelType?: string }).modelType;
  if (json) {
    const layers = summary.layers.map((l, i) => ({ ...l, modules: summary.modules[i] }));
    io.out(JSON.stringify({ kind: 'hf-folder', source: resolved.source, modelType, config, layers, params: summary.params, inputs: summary.inputs, outputs: summary.outputs, files: resolved.files, unused }, null, 2));
    return 0;
  }
  io.out(`Model ${resolved.source} (Hugging Face folder, model_type ${modelType}; ${summary.layers.length} layers):`);
  const rows: (string | number)[][] = [];
  summary.layers.forEach((l, i) => {
    rows.push([i, l.name, l.className, formatShape(l.outputShape), l.params]);
    for (const m of summary.modules[i]) rows.push(['', `  ${m.name}`, '', Object.entries(m.shapes).map(([k, s]) => `${k} [${s.join(', ')}]`).join(', '), m.params]);
  });
  io.out(formatTable(['#', 'layer / module', 'class', 'output shape / parameters', 'params'], rows));
  io.out(`params: ${summary.params.total} total, ${summary.params.trainable} trainable, ${summary.params.nonTrainable} non-trainable`);
  for (const input of summary.inputs) io.out(`input: ${input.name} ${formatShape(input.shape)} ${input.dtype}`);
  for (const output of summary.outputs) io.out(`output: ${formatShape(output.shape)}`);
  if (unused.length) io.out(`checkpoint tensors not used by the encoder: ${unused.length} (${unused.slice(0, 5).join(', ')}${unused.length > 5 ? ', …' : ''})`);
  return 0;
}
