/**
 * Build the shipped base model (models/fashion-base) in TensorFlow.js from the
 * Keras weight dump written by scripts/pretrain_base.py, then reload it from
 * disk and check it against the Keras predictions.
 *
 * Usage: npx tsx scripts/build_base_model.ts DUMP_DIR [OUT_DIR=models/fashion-base]
 * Regenerate everything with: npm run make:base-model
 *
 * Notes on the weight mapping (verified at run time by name and shape):
 *  - Conv2D kernels are HWIO ([kh, kw, in, out]) in both Keras and tfjs.
 *  - Dense kernels are [in, out] in both.
 *  - BatchNormalization order is gamma, beta, moving_mean, moving_variance in both.
 *  - Flatten is channels_last in both, so fc1's kernel rows line up unchanged.
 */
import { readFile, writeFile, mkdir } from 'node:fs/promises';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';

interface DumpWeight {
  name: string;
  shape: number[];
  offset: number;
  size: number;
}
interface DumpLayer {
  name: string;
  class_name: string;
  config: Record<string, unknown>;
  weights: DumpWeight[];
}
interface DumpManifest {
  keras_version: string;
  tensorflow_version: string;
  classes: number[];
  seed: number;
  epochs: number;
  batch_size: number;
  train_examples: number;
  val_examples: number;
  train_seconds: number;
  val_accuracy: number;
  val_loss: number;
  layers: DumpLayer[];
  weights_bytes: number;
  check: { n: number; keras_accuracy: number };
}

const CLASS_NAMES = ['T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat'];
const MAX_ABS_DIFF = 1e-4;

/** Same architecture (and layer names) as build_model() in scripts/pretrain_base.py. */
function buildModel(): tf.LayersModel {
  const input = tf.input({ shape: [28, 28, 1], name: 'input' });
  const apply = (layer: tf.layers.Layer, x: tf.SymbolicTensor) => layer.apply(x) as tf.SymbolicTensor;
  let x = input;
  x = apply(tf.layers.conv2d({ filters: 16, kernelSize: 3, padding: 'same', activation: 'relu', name: 'conv1' }), x);
  x = apply(tf.layers.batchNormalization({ name: 'bn1' }), x);
  x = apply(tf.layers.maxPooling2d({ poolSize: 2, name: 'pool1' }), x);
  x = apply(tf.layers.conv2d({ filters: 32, kernelSize: 3, padding: 'same', activation: 'relu', name: 'conv2' }), x);
  x = apply(tf.layers.batchNormalization({ name: 'bn2' }), x);
  x = apply(tf.layers.maxPooling2d({ poolSize: 2, name: 'pool2' }), x);
  x = apply(tf.layers.conv2d({ filters: 64, kernelSize: 3, padding: 'same', activation: 'relu', name: 'conv3' }), x);
  x = apply(tf.layers.batchNormalization({ name: 'bn3' }), x);
  x = apply(tf.layers.maxPooling2d({ poolSize: 2, name: 'pool3' }), x);
  x = apply(tf.layers.flatten({ name: 'flatten' }), x);
  x = apply(tf.layers.dense({ units: 64, activation: 'relu', name: 'fc1' }), x);
  x = apply(tf.layers.dropout({ rate: 0.3, name: 'dropout' }), x);
  const out = apply(tf.layers.dense({ units: CLASS_NAMES.length, activation: 'softmax', name: 'logits' }), x);
  return tf.model({ inputs: input, outputs: out, name: 'fashion_base' });
}

function f32(buf: Buffer): Float32Array {
  // Copy so the view is aligned and owns its memory.
  const ab = buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength);
  return new Float32Array(ab);
}

/** Config keys whose disagreement would change the forward pass. */
const CRITICAL_KEYS = new Set([
  'filters', 'kernel_size', 'strides', 'padding', 'data_format', 'dilation_rate', 'activation', 'use_bias',
  'axis', 'epsilon', 'momentum', 'center', 'scale', 'pool_size', 'rate', 'units',
]);
const IGNORED_KEYS = new Set(['name', 'trainable', 'dtype']);
const isIgnored = (k: string) =>
  IGNORED_KEYS.has(k) || /_(initializer|regularizer|constraint)$/.test(k);

/** Diff Keras vs tfjs layer configs; returns the number of critical mismatches. */
function diffConfigs(keras: DumpLayer[], topology: tf.io.ModelArtifacts['modelTopology']): number {
  const tfLayers = (topology as { config: { layers: { name: string; class_name: string; config: Record<string, unknown> }[] } })
    .config.layers;
  let critical = 0;
  const notes: string[] = [];
  for (const kl of keras) {
    const tl = tfLayers.find((l) => l.name === kl.name);
    if (!tl) throw new Error(`tfjs model has no layer named ${kl.name}`);
    if (tl.class_name !== kl.class_name) notes.push(`${kl.name}: class ${kl.class_name} (keras) vs ${tl.class_name} (tfjs)`);
    const keys = new Set([...Object.keys(kl.config), ...Object.keys(tl.config)]);
    for (const k of [...keys].sort()) {
      if (isIgnored(k)) continue;
      const inK = k in kl.config;
      const inT = k in tl.config;
      if (inK && inT) {
        const a = JSON.stringify(kl.config[k]);
        const b = JSON.stringify(tl.config[k]);
        if (a !== b) {
          const crit = CRITICAL_KEYS.has(k);
          if (crit) critical++;
          notes.push(`${crit ? 'MISMATCH' : 'differs '} ${kl.name}.${k}: keras=${a} tfjs=${b}`);
        }
      } else {
        notes.push(`only-${inK ? 'keras' : 'tfjs '} ${kl.name}.${k}=${JSON.stringify(inK ? kl.config[k] : tl.config[k])}`);
      }
    }
  }
  console.log('layer config diff (Keras vs tfjs; initializers/regularizers/constraints/dtype ignored):');
  for (const n of notes) console.log(`  ${n}`);
  return critical;
}

async function main(): Promise<void> {
  const dumpDir = process.argv[2];
  const outDir = process.argv[3] ?? 'models/fashion-base';
  if (!dumpDir) {
    console.error('usage: tsx scripts/build_base_model.ts DUMP_DIR [OUT_DIR]');
    process.exit(2);
  }
  await tf.setBackend('cpu');
  await tf.ready();

  const manifest = JSON.parse(await readFile(path.join(dumpDir, 'manifest.json'), 'utf8')) as DumpManifest;
  const dumpWeights = f32(await readFile(path.join(dumpDir, 'weights.bin')));
  if (dumpWeights.byteLength !== manifest.weights_bytes) {
    throw new Error(`weights.bin is ${dumpWeights.byteLength} bytes, manifest says ${manifest.weights_bytes}`);
  }

  const model = buildModel();

  // Layer list must match the Keras one exactly (names, order).
  const kerasNames = manifest.layers.map((l) => l.name);
  const tfNames = model.layers.map((l) => l.name);
  if (JSON.stringify(kerasNames) !== JSON.stringify(tfNames)) {
    throw new Error(`layer names differ:\n keras ${kerasNames.join(',')}\n tfjs  ${tfNames.join(',')}`);
  }

  // Copy weights in, verifying leaf name and shape per variable.
  let copied = 0;
  for (const kl of manifest.layers) {
    const layer = model.getLayer(kl.name);
    const vars = layer.weights;
    if (vars.length !== kl.weights.length) {
      throw new Error(`${kl.name}: tfjs has ${vars.length} weights, keras ${kl.weights.length}`);
    }
    const tensors = kl.weights.map((kw, i) => {
      const v = vars[i]!;
      const leaf = v.originalName.split('/').pop();
      if (leaf !== kw.name) throw new Error(`${kl.name}[${i}]: tfjs ${v.originalName} vs keras ${kw.name}`);
      if (JSON.stringify(v.shape) !== JSON.stringify(kw.shape)) {
        throw new Error(`${kl.name}/${kw.name}: tfjs shape ${JSON.stringify(v.shape)} vs keras ${JSON.stringify(kw.shape)}`);
      }
      copied += kw.size;
      return tf.tensor(dumpWeights.subarray(kw.offset / 4, kw.offset / 4 + kw.size), kw.shape, 'float32');
    });
    if (tensors.length) layer.setWeights(tensors);
    tf.dispose(tensors);
  }
  if (copied * 4 !== manifest.weights_bytes) throw new Error(`copied ${copied * 4} of ${manifest.weights_bytes} bytes`);
  console.log(`copied ${copied} weights into ${model.layers.length} layers (params: ${model.countParams()})`);

  const userDefinedMetadata = {
    classes: manifest.classes,
    class_names: CLASS_NAMES,
    trained_on: 'fashion-mnist train, classes 0-4',
    input_shape: [28, 28, 1],
    input_scaling: 'pixel / 255 -> [0, 1]',
    pretrain: {
      framework: `tensorflow ${manifest.tensorflow_version} / keras ${manifest.keras_version}`,
      epochs: manifest.epochs,
      batch_size: manifest.batch_size,
      optimizer: 'adam(1e-3)',
      seed: manifest.seed,
      train_examples: manifest.train_examples,
      val_split: 'fashion-mnist t10k, classes 0-4',
      val_examples: manifest.val_examples,
      val_accuracy: manifest.val_accuracy,
      val_loss: manifest.val_loss,
    },
    regenerate: 'npm run make:base-model',
  };

  // Save via a custom handler (the file:// handler needs tfjs-node).
  await mkdir(outDir, { recursive: true });
  let topology: tf.io.ModelArtifacts['modelTopology'];
  await model.save(
    tf.io.withSaveHandler(async (artifacts) => {
      if (!artifacts.weightSpecs || artifacts.weightData === undefined) throw new Error('save produced no weights');
      topology = artifacts.modelTopology;
      const weightData = new tf.io.CompositeArrayBuffer(artifacts.weightData).slice();
      const modelJson = {
        format: 'layers-model',
        generatedBy: `TensorFlow.js tfjs-layers v${tf.version_layers}`,
        convertedBy: null,
        modelTopology: artifacts.modelTopology,
        weightsManifest: [{ paths: ['weights.bin'], weights: artifacts.weightSpecs }],
        userDefinedMetadata,
      };
      await writeFile(path.join(outDir, 'model.json'), JSON.stringify(modelJson, null, 1) + '\n');
      await writeFile(path.join(outDir, 'weights.bin'), new Uint8Array(weightData));
      return {
        modelArtifactsInfo: {
          dateSaved: new Date(),
          modelTopologyType: 'JSON',
          weightDataBytes: weightData.byteLength,
        },
      };
    }),
  );
  console.log(`wrote ${outDir}/model.json and ${outDir}/weights.bin`);

  const critical = diffConfigs(manifest.layers, topology);
  if (critical > 0) throw new Error(`${critical} critical Keras/tfjs layer config mismatches`);

  // Reload from disk exactly as a consumer would, and compare with Keras.
  const json = JSON.parse(await readFile(path.join(outDir, 'model.json'), 'utf8')) as {
    modelTopology: object;
    weightsManifest: { paths: string[]; weights: tf.io.WeightsManifestEntry[] }[];
    userDefinedMetadata: object;
  };
  const bin = await readFile(path.join(outDir, json.weightsManifest[0]!.paths[0]!));
  const reloaded = await tf.loadLayersModel(
    tf.io.fromMemory({
      modelTopology: json.modelTopology,
      weightSpecs: json.weightsManifest[0]!.weights,
      weightData: bin.buffer.slice(bin.byteOffset, bin.byteOffset + bin.byteLength),
      userDefinedMetadata: json.userDefinedMetadata,
    }),
  );

  const n = manifest.check.n;
  const cx = f32(await readFile(path.join(dumpDir, 'check_x.bin')));
  const cyBuf = await readFile(path.join(dumpDir, 'check_y.bin'));
  const cy = new Int32Array(cyBuf.buffer.slice(cyBuf.byteOffset, cyBuf.byteOffset + cyBuf.byteLength));
  const kerasPred = f32(await readFile(path.join(dumpDir, 'check_pred.bin')));
  const k = CLASS_NAMES.length;
  if (cx.length !== n * 28 * 28 || cy.length !== n || kerasPred.length !== n * k) throw new Error('check set size mismatch');

  const pred = tf.tidy(() => reloaded.predict(tf.tensor4d(cx, [n, 28, 28, 1])) as tf.Tensor);
  const tfPred = (await pred.data()) as Float32Array;
  pred.dispose();
  let maxDiff = 0;
  let correct = 0;
  let agree = 0;
  for (let i = 0; i < n; i++) {
    let tArg = 0;
    let kArg = 0;
    for (let j = 0; j < k; j++) {
      maxDiff = Math.max(maxDiff, Math.abs(tfPred[i * k + j]! - kerasPred[i * k + j]!));
      if (tfPred[i * k + j]! > tfPred[i * k + tArg]!) tArg = j;
      if (kerasPred[i * k + j]! > kerasPred[i * k + kArg]!) kArg = j;
    }
    if (tArg === cy[i]) correct++;
    if (tArg === kArg) agree++;
  }
  const acc = correct / n;
  console.log(
    `check on ${n} t10k images (classes 0-4): tfjs accuracy ${(acc * 100).toFixed(2)}% ` +
      `(keras ${(manifest.check.keras_accuracy * 100).toFixed(2)}%), argmax agreement ${agree}/${n}, ` +
      `max |tfjs - keras| = ${maxDiff.toExponential(3)}`,
  );
  console.log(`keras val accuracy (5000 t10k images, classes 0-4): ${(manifest.val_accuracy * 100).toFixed(2)}%`);
  if (!(maxDiff < MAX_ABS_DIFF)) throw new Error(`max abs diff ${maxDiff} >= ${MAX_ABS_DIFF}`);
  if (agree !== n) throw new Error(`argmax disagreement on ${n - agree} images`);
  console.log('OK');
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
