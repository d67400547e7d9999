import type * as TF from '@tensorflow/tfjs';
import type { Tf } from '../engine/backends.ts';

/** The trained model as tfjs serialises it: what a store writes as model.json + weights.bin. */
export interface SavedModel {
  modelTopology: unknown;
  weightSpecs: unknown[];
  weightData: ArrayBuffer;
  /** Files the model needs to be used (a text encoder's tokenizer files), by name: a store keeps them beside both exports. */
  files?: Record<string, Uint8Array>;
}

/** The model as tfjs serialises it, kept in memory; stores decide where the bytes go. */
export async function saveToMemory(tf: Tf, model: TF.LayersModel): Promise<SavedModel> {
  let saved: SavedModel | undefined;
  await model.save(
    tf.io.withSaveHandler(async (a) => {
      saved = { modelTopology: a.modelTopology, weightSpecs: a.weightSpecs ?? [], weightData: a.weightData as ArrayBuffer };
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    }),
  );
  return saved!;
}
