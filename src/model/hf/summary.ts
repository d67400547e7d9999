import type * as TF from '@tensorflow/tfjs';
import { summarizeModel, type ModelSummary } from '../inspect.ts';
import { LINEAR_WEIGHT } from '../families/bert/naming.ts';

/** One Hugging Face module inside a layer: "encoder.layer.0.attention.self.query" and its parameters. */
export interface ModuleSummary {
  name: string;
  params: number;
  /** Shapes of its parameters in the HF checkpoint's layout ([out, in] for a linear weight). */
  shapes: Record<string, number[]>;
}

export interface EncoderSummary extends ModelSummary {
  /** By layer index (as in `layers`): the modules its weights belong to, in order. */
  modules: ModuleSummary[][];
}


/**
 * An encoder's summary, like `model.summary()`, plus each layer's HF modules: a block layer lists
 * its attention projections, attention output and layer norm, intermediate and output dense and
 * layer norm, so a freeze regex over parameter names can be checked against what it matches.
 * `transposed` names the weights the family stores transposed from the checkpoint's layout.
 */
export function summarizeEncoder(model: TF.LayersModel, transposed: RegExp = LINEAR_WEIGHT): EncoderSummary {
  const summary = summarizeModel(model, []);
  const modules = summary.layers.map((layer) => {
    const byModule = new Map<string, ModuleSummary>();
    for (const w of layer.weights) {
      const full = w.name.replace('/', '.');
      const cut = full.lastIndexOf('.');
      const moduleName = full.slice(0, cut);
      const m = byModule.get(moduleName) ?? { name: moduleName, params: 0, shapes: {} };
      m.params += w.shape.reduce((a, b) => a * b, 1);
      m.shapes[full.slice(cut + 1)] = transposed.test(full) ? [...w.shape].reverse() : w.shape;
      byModule.set(moduleName, m);
    }
    return [...byModule.values()];
  });
  return { ...summary, modules };
}
