import { readFile } from 'node:fs/promises';
import { basename, dirname } from 'node:path';
import { InputError, TunespecError } from '../../errors.ts';
import { readOnnx, type OnnxGraphInfo } from '../../model/onnx/read.ts';
import { formatTable } from '../../report/table.ts';
import { readStoredVariant, storedClassNames, ONNX_FILE } from '../../track/local-store.ts';
import type { Io } from '../io.ts';

const shapeText = (s: (number | string | null)[] | undefined): string => (s ? `[${s.map((d) => (d === null ? '?' : d)).join(', ')}]` : '?');

/** Class names of an ONNX file: the run store's when it is a stored variant's model.onnx, else its own metadata. */
async function classNames(file: string, g: OnnxGraphInfo): Promise<{ names: string[] | null; from: string | null }> {
  if (basename(file) === ONNX_FILE) {
    const stored = await readStoredVariant(dirname(file));
    const names = stored && storedClassNames(stored);
    if (Array.isArray(names)) return { names: names.map(String), from: 'run store' };
  }
  const meta = g.metadata['tunespec.class_names'];
  return meta ? { names: JSON.parse(meta), from: 'model metadata' } : { names: null, from: null };
}

/** `tunespec inspect model.onnx`: the graph's nodes as layers, with what ONNX records of them. */
export async function inspectOnnx(file: string, json: boolean, io: Io): Promise<number> {
  const bytes = await readFile(file).catch((err: NodeJS.ErrnoException) => {
    throw new InputError(`${file}: ${err.code === 'ENOENT' ? 'no such file' : err.message}`);
  });
  let g: OnnxGraphInfo;
  try {
    g = readOnnx(new Uint8Array(bytes), file);
  } catch (err) {
    if (err instanceof TunespecError) throw new InputError(err.message);
    throw err;
  }
  const classes = await classNames(file, g);
  const total = g.nodes.reduce((n, x) => n + x.params, 0);
  const output = g.outputs[0];
  const units = output?.shape.at(-1);
  if (json) {
    io.out(
      JSON.stringify(
        {
          kind: 'onnx',
          source: file,
          producer: g.producer,
          opset: g.opset,
          layers: g.nodes.map((n, index) => ({ index, name: n.outputs[0], node: n.name, opType: n.opType, outputShape: g.shapes.get(n.outputs[0]) ?? null, params: n.params })),
          params: { total, trainable: 0, nonTrainable: total },
          inputs: g.inputs,
          output: { ...output, units, classNames: classes.names, classNamesFrom: classes.from },
        },
        null,
        2,
      ),
    );
    return 0;
  }
  io.out(`ONNX model ${file} (${g.nodes.length} nodes, opset ${g.opset}${g.producer ? `, from ${g.producer}` : ''}):`);
  io.out(formatTable(['#', 'output (cut name)', 'op', 'output shape', 'params'], g.nodes.map((n, i) => [i, n.outputs[0], n.opType, shapeText(g.shapes.get(n.outputs[0])), n.params])));
  io.out(`params: ${total} total; ONNX records no trainable flag, and tunespec keeps an ONNX base frozen`);
  for (const i of g.inputs) io.out(`input: ${i.name} ${shapeText(i.shape)} ${i.dtype}`);
  const head = `output: ${output?.name} ${shapeText(output?.shape)}`;
  if (!classes.names) io.out(`${head}; class names are not recorded`);
  else io.out(`${head}, ${units} classes (${classes.from}): ${classes.names.join(', ')}`);
  return 0;
}
