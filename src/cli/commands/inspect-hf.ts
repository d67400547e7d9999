import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { anyTf } from '../../engine/backends.ts';
import { InputError, TunespecError } from '../../errors.ts';
import { formatShape } from '../../model/inspect.ts';
import { loadHfEncoder, readConfigJson } from '../../model/hf/encoder.ts';
import { LLAMA_MODEL_TYPES } from '../../model/families/llama/config.ts';
import { loadLlama } from '../../model/families/llama/load.ts';
import { TRANSPOSED as LLAMA_TRANSPOSED } from '../../model/families/llama/weights.ts';
import { resolveHfFolder } from '../../model/hf/folder.ts';
import { summarizeEncoder } from '../../model/hf/summary.ts';
import { formatTable } from '../../report/table.ts';
import type { Io } from '../io.ts';

const isFile = (p: string) => stat(p).then((s) => s.isFile(), () => false);

/** hf://…, a local .gguf file, or a local folder that holds a config.json and no TensorFlow.js model.json. */
export async function isHfFolderTarget(target: string): Promise<boolean> {
  if (/^hf:\/\//i.test(target)) return true;
  if (/\.gguf$/i.test(target) && !/^[a-z]+:\/\//i.test(target)) return true;
  if (/^[a-z]+:\/\//i.test(target) && !/^file:\/\//i.test(target)) return false;
  const path = target.replace(/^file:\/\//i, '');
  return (await isFile(join(path, 'config.json'))) && !(await isFile(join(path, 'model.json')));
}

/** The model a folder or GGUF file holds: Llama decoders by their own loader, encoders by theirs. */
async function loadTarget(target: string) {
  const tf = await anyTf();
  if (/\.gguf$/i.test(target)) {
    const { model, config, unused } = await loadLlama(tf, target);
    return { kind: 'gguf', format: 'GGUF', source: target, files: {}, model, config, unused, transposed: LLAMA_TRANSPOSED };
  }
  const resolved = await resolveHfFolder(target, process.cwd(), { env: process.env });
  const { json } = await readConfigJson(resolved.folder);
  const common = { kind: 'hf-folder', format: 'Hugging Face folder', source: resolved.source, files: resolved.files };
  if (LLAMA_MODEL_TYPES.includes(String(json.model_type))) {
    const { model, config, unused } = await loadLlama(tf, resolved.folder);
    return { ...common, model, config, unused, transposed: LLAMA_TRANSPOSED };
  }
  return { ...common, ...(await loadHfEncoder(tf, resolved.folder)), transposed: undefined };
}

/** `tunespec inspect <hf folder | x.gguf>`: each layer with its Hugging Face modules and parameter counts. */
export async function inspectHfFolder(target: string, json: boolean, io: Io): Promise<number> {
  let loaded;
  try {
    loaded = await loadTarget(target);
  } catch (err) {
    if (err instanceof TunespecError && !(err instanceof InputError)) throw new InputError(err.message);
    throw err;
  }
  const { kind, format, source, files, model, config, unused, transposed } = loaded;
  const summary = summarizeEncoder(model, transposed);
  model.dispose();
  const modelType = (config as { modelType?: string }).modelType;
  if (json) {
    const layers = summary.layers.map((l, i) => ({ ...l, modules: summary.modules[i] }));
    io.out(JSON.stringify({ kind, source, modelType, config, layers, params: summary.params, inputs: summary.inputs, outputs: summary.outputs, files, unused }, null, 2));
    return 0;
  }
  io.out(`Model ${source} (${format}, model_type ${modelType}; ${summary.layers.length} layers):`);
  const rows: (string | number)[][] = [];
  summary.layers.forEach((l, i) => {
    rows.push([i, l.name, l.className, formatShape(l.outputShape), l.params]);
    for (const m of summary.modules[i]) rows.push(['', `  ${m.name}`, '', Object.entries(m.shapes).map(([k, s]) => `${k} [${s.join(', ')}]`).join(', '), m.params]);
  });
  io.out(formatTable(['#', 'layer / module', 'class', 'output shape / parameters', 'params'], rows));
  io.out(`params: ${summary.params.total} total, ${summary.params.trainable} trainable, ${summary.params.nonTrainable} non-trainable`);
  for (const input of summary.inputs) io.out(`input: ${input.name} ${formatShape(input.shape)} ${input.dtype}`);
  for (const output of summary.outputs) io.out(`output: ${formatShape(output.shape)}`);
  if ((config as { tieWordEmbeddings?: boolean }).tieWordEmbeddings) io.out('lm_head is tied to model.embed_tokens (it has no weights of its own)');
  if (unused.length) io.out(`checkpoint tensors not used by the model: ${unused.length} (${unused.slice(0, 5).join(', ')}${unused.length > 5 ? ', …' : ''})`);
  return 0;
}
