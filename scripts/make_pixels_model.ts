// Writes models/pixels/: a "base" that is only a Flatten of the 28x28x1 input. Training a head on
// it is the from-scratch baseline the README compares the quickstart's transfer learning with.
import { mkdirSync, writeFileSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs';

const out = new URL('../models/pixels/', import.meta.url);
const input = tf.input({ shape: [28, 28, 1], name: 'input' });
const flat = tf.layers.flatten({ name: 'flatten' }).apply(input) as tf.SymbolicTensor;
const model = tf.model({ inputs: input, outputs: flat, name: 'pixels' });
await model.save(
  tf.io.withSaveHandler(async (a) => {
    mkdirSync(out, { recursive: true });
    writeFileSync(new URL('weights.bin', out), new Uint8Array(0));
    const json = { format: 'layers-model', modelTopology: a.modelTopology, weightsManifest: [{ paths: ['weights.bin'], weights: [] }] };
    writeFileSync(new URL('model.json', out), JSON.stringify(json));
    return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
  }),
);
console.log(`wrote ${out.pathname}`);
