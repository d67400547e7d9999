import { readUnlabeled } from '../../data/unlabeled.ts';
import { fixed, formatTable } from '../../report/table.ts';
import { resolveTarget } from '../../app/variant-model.ts';
import { loadPredictor, type PredictorEngine } from '../../app/variant-predictor.ts';
import type { Io } from '../io.ts';
import { textInputs } from '../../app/text-input.ts';

export interface PredictOptions {
  spec?: string;
  runsDir: string;
  trackingUri?: string;
  top: number;
  engine: PredictorEngine;
  json: boolean;
}

interface Ranked {
  class: number;
  name: string;
  probability: number;
}

function topK(probs: Float32Array, names: string[], k: number): Ranked[] {
  return [...probs]
    .map((probability, c) => ({ class: c, name: names[c]!, probability }))
    .sort((a, b) => b.probability - a.probability || a.class - b.class)
    .slice(0, k);
}

const ordinal = (k: number): string => `${k}${k === 1 ? 'st' : k === 2 ? 'nd' : k === 3 ? 'rd' : 'th'}`;

export async function predictCommand(target: string, inputs: string[], opts: PredictOptions, io: Io): Promise<number> {
  const variant = await resolveTarget(target, opts.spec, opts.runsDir, opts.trackingUri);
  const loaded = await loadPredictor(variant, opts.engine);
  try {
    const data = variant.spec.data;
    const batch =
      data.format === 'text'
        ? await textInputs(inputs, variant, data, loaded.inputNames)
        : await readUnlabeled(inputs, data, loaded.inputShape, variant.spec.base_model.preprocess);
    // On stderr, so the table or JSON on stdout stays as it was; the training images went through the same conversion.
    for (const c of batch.conversions) io.err(`predict: ${c.count} input${c.count === 1 ? '' : 's'} ${c.what}`);
    const k = Math.min(opts.top, loaded.classNames.length);
    const ranked = (await loaded.predict(batch.features, batch.names.length)).map((p) => topK(p, loaded.classNames, k));
    const { status } = variant.stored;
    if (opts.json) {
      const predictions = batch.names.map((input, i) => ({ input, top: ranked[i] }));
      io.out(JSON.stringify({ variant: status.variant, label: status.label, dir: variant.stored.dir, engine: loaded.engine, predictions }, null, 2));
      return 0;
    }
    io.out(`variant ${status.variant} (${status.label}), ${batch.names.length} input(s), engine ${loaded.engine}`);
    const header = ['input', ...Array.from({ length: k }, (_, j) => [ordinal(j + 1), 'p']).flat()];
    io.out(formatTable(header, batch.names.map((name, i) => [name, ...ranked[i]!.flatMap((r) => [r.name, fixed(r.probability)])])));
    return 0;
  } finally {
    await loaded.dispose();
  }
}
