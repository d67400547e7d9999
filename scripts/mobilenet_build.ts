/**
 * Rebuild the benchmark backbone (Keras MobileNetV2 alpha 0.35, 96x96x3, + avg_pool + predictions)
 * in TensorFlow.js from the dump written by scripts/mobilenet_pretrain.py: the same functional
 * graph with keras.applications.mobilenet_v2's layer names (Conv1, bn_Conv1, Conv1_relu,
 * expanded_conv_depthwise, ..., block_16_project_BN, Conv_1, Conv_1_bn, out_relu) and its
 * ZeroPadding2D / padding choices, weights copied by layer name, saved as model.json +
 * weights.bin, reloaded from disk and checked against Keras's predictions.
 *
 * Usage: npx tsx scripts/mobilenet_build.ts DUMP_DIR OUT_DIR
 * Run everything with: bash scripts/mobilenet-base.sh
 *
 * Checked at run time: layer names and order, each layer's class and inbound layers, the
 * config keys that change the forward pass, each weight's leaf name and shape; then the
 * reloaded model's softmax outputs and avg_pool features against Keras's on the check set
 * (fails when argmax agreement < 99%).
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { selectEngine } from '../src/engine/backends.ts';

interface DumpWeight { name: string; shape: number[]; offset: number; size: number }
interface DumpLayer { name: string; class_name: string; config: Record<string, unknown>; inbound: string[]; weights: DumpWeight[] }
interface DumpManifest {
  keras_version: string;
  tensorflow_version: string;
  model_name: string;
  input_name: string;
  input_shape: [number, number, number];
  classes: number[];
  seed: number;
  epochs: number;
  batch_size: number;
  learning_rate: number;
  train_examples: number;
  train_seconds: number;
  val_examples: number;
  val_accuracy: number;
  val_loss: number;
  layers: DumpLayer[];
  weights_bytes: number;
  check: { n: number; features: number };
}

const ALPHA = 0.35;
const CLASS_NAMES = ['T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle boot'];
const MIN_AGREEMENT = 0.99;

type T = tf.SymbolicTensor;
const apply = (layer: tf.layers.Layer, x: T | T[]) => layer.apply(x) as T;

/** keras.applications.mobilenet_v2._make_divisible */
function makeDivisible(v: number, divisor = 8): number {
  let n = Math.max(divisor, Math.floor((v + divisor / 2) / divisor) * divisor);
  if (n < 0.9 * v) n += divisor;
  return n;
}

/** keras imagenet_utils.correct_pad for a 3x3 kernel: ((k/2 - adjust, k/2), ...) per axis. */
function correctPad(x: T): [[number, number], [number, number]] {
  const [h, w] = [x.shape[1]!, x.shape[2]!];
  return [[1 - (1 - (h % 2)), 1], [1 - (1 - (w % 2)), 1]];
}

const bn = (name: string) => tf.layers.batchNormalization({ axis: -1, epsilon: 1e-3, momentum: 0.999, name });
const relu6 = (name: string) => tf.layers.reLU({ maxValue: 6, name });
const conv1x1 = (filters: number, name: string) =>
  tf.layers.conv2d({ filters, kernelSize: 1, padding: 'same', useBias: false, activation: 'linear', name });

/** keras.applications.mobilenet_v2._inverted_res_block */
function invertedResBlock(inputs: T, expansion: number, stride: number, filters: number, blockId: number): T {
  const inChannels = inputs.shape[3]!;
  const pointwise = makeDivisible(Math.trunc(filters * ALPHA));
  let prefix = `block_${blockId}_`;
  let x = inputs;
  if (blockId) {
    x = apply(conv1x1(expansion * inChannels, `${prefix}expand`), x);
    x = apply(bn(`${prefix}expand_BN`), x);
    x = apply(relu6(`${prefix}expand_relu`), x);
  } else {
    prefix = 'expanded_conv_';
  }
  if (stride === 2) x = apply(tf.layers.zeroPadding2d({ padding: correctPad(x), name: `${prefix}pad` }), x);
  x = apply(
    tf.layers.depthwiseConv2d({
      kernelSize: 3, strides: stride, activation: 'linear', useBias: false,
      padding: stride === 1 ? 'same' : 'valid', name: `${prefix}depthwise`,
    }),
    x,
  );
  x = apply(bn(`${prefix}depthwise_BN`), x);
  x = apply(relu6(`${prefix}depthwise_relu`), x);
  x = apply(conv1x1(pointwise, `${prefix}project`), x);
  x = apply(bn(`${prefix}project_BN`), x);
  if (inChannels === pointwise && stride === 1) return apply(tf.layers.add({ name: `${prefix}add` }), [inputs, x]);
  return x;
}

/** keras.applications.MobileNetV2(alpha, include_top=False) + avg_pool + predictions. */
function buildModel(m: DumpManifest): tf.LayersModel {
  const input = tf.input({ shape: m.input_shape, name: m.input_name });
  let x = apply(
    tf.layers.conv2d({ filters: makeDivisible(32 * ALPHA), kernelSize: 3, strides: 2, padding: 'same', useBias: false, name: 'Conv1' }),
    input,
  );
  x = apply(bn('bn_Conv1'), x);
  x = apply(relu6('Conv1_relu'), x);
  const blocks: [filters: number, stride: number, expansion: number][] = [
    [16, 1, 1],
    [24, 2, 6], [24, 1, 6],
    [32, 2, 6], [32, 1, 6], [32, 1, 6],
    [64, 2, 6], [64, 1, 6], [64, 1, 6], [64, 1, 6],
    [96, 1, 6], [96, 1, 6], [96, 1, 6],
    [160, 2, 6], [160, 1, 6], [160, 1, 6],
    [320, 1, 6],
  ];
  blocks.forEach(([filters, stride, expansion], id) => {
    x = invertedResBlock(x, expansion, stride, filters, id);
  });
  x = apply(tf.layers.conv2d({ filters: 1280, kernelSize: 1, useBias: false, name: 'Conv_1' }), x);
  x = apply(bn('Conv_1_bn'), x);
  x = apply(relu6('out_relu'), x);
  x = apply(tf.layers.globalAveragePooling2d({ name: 'avg_pool' }), x);
  const out = apply(tf.layers.dense({ units: m.classes.length, activation: 'softmax', name: 'predictions' }), x);
  return tf.model({ inputs: input, outputs: out, name: m.model_name });
}

function f32(buf: Buffer): Float32Array {
  return new Float32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength));
}

/** Keras 3 names the depthwise kernel `kernel`; tfjs `depthwise_kernel`. */
const tfjsLeaf = (layer: DumpLayer, leaf: string) =>
  layer.class_name === 'DepthwiseConv2D' && leaf === 'kernel' ? 'depthwise_kernel' : leaf;

const CRITICAL_KEYS = new Set([
  'filters', 'kernel_size', 'strides', 'padding', 'data_format', 'dilation_rate', 'activation', 'use_bias',
  'depth_multiplier', 'axis', 'epsilon', 'momentum', 'center', 'scale', 'units', 'max_value',
]);

interface TfjsLayerJson { name: string; class_name: string; config: Record<string, unknown>; inbound_nodes: unknown[] }

/** Keras vs tfjs: class, inbound layers, and the config keys that change the forward pass. */
function diffGraphs(keras: DumpLayer[], topology: object): number {
  const tfLayers = (topology as { config: { layers: TfjsLayerJson[] } }).config.layers;
  const byName = new Map(tfLayers.map((l) => [l.name, l]));
  const problems: string[] = [];
  const notes = new Set<string>();
  for (const kl of keras) {
    const tl = byName.get(kl.name);
    if (!tl) {
      problems.push(`tfjs has no layer ${kl.name}`);
      continue;
    }
    const kClass = kl.class_name === 'InputLayer' ? 'InputLayer' : kl.class_name;
    if (tl.class_name !== kClass) problems.push(`${kl.name}: class ${kl.class_name} (keras) vs ${tl.class_name} (tfjs)`);
    const tIn = JSON.stringify(tl.inbound_nodes).match(/"[^"]+"/g)?.map((s) => JSON.parse(s) as string) ?? [];
    const tInbound = tIn.filter((n) => byName.has(n));
    if (JSON.stringify(tInbound) !== JSON.stringify(kl.inbound)) {
      problems.push(`${kl.name}: inbound ${JSON.stringify(kl.inbound)} (keras) vs ${JSON.stringify(tInbound)} (tfjs)`);
    }
    for (const k of CRITICAL_KEYS) {
      const inK = k in kl.config;
      const inT = k in tl.config;
      if (inK && inT) {
        const a = JSON.stringify(kl.config[k]);
        const b = JSON.stringify(tl.config[k]);
        if (a !== b) problems.push(`${kl.name}.${k}: keras=${a} tfjs=${b}`);
      } else if (inK !== inT) {
        notes.add(`${kl.class_name}.${k} only in ${inK ? 'keras' : 'tfjs'}`);
      }
    }
  }
  if (tfLayers.length !== keras.length) problems.push(`tfjs has ${tfLayers.length} layers, keras ${keras.length}`);
  for (const n of notes) console.log(`  note: ${n}`);
  for (const p of problems) console.log(`  MISMATCH ${p}`);
  return problems.length;
}

async function predictInChunks(model: tf.LayersModel, x: Float32Array, n: number, shape: number[], chunk = 50): Promise<Float32Array> {
  const size = shape.reduce((a, b) => a * b, 1);
  const parts: Float32Array[] = [];
  for (let i = 0; i < n; i += chunk) {
    const m = Math.min(chunk, n - i);
    const y = tf.tidy(() => model.predict(tf.tensor(x.subarray(i * size, (i + m) * size), [m, ...shape])) as tf.Tensor);
    parts.push((await y.data()) as Float32Array);
    y.dispose();
  }
  const out = new Float32Array(parts.reduce((a, p) => a + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

async function main(): Promise<void> {
  const [dumpDir, outDir] = process.argv.slice(2);
  if (!dumpDir || !outDir) {
    console.error('usage: tsx scripts/mobilenet_build.ts DUMP_DIR OUT_DIR');
    process.exit(2);
  }
  // The fastest engine that loads (native after `npm run setup:native`): the check predicts the
  // check set twice, 57 s on the pure-JS backend.
  const engine = await selectEngine('auto', []);
  if (engine.tf.getBackend() !== tf.getBackend()) throw new Error(`the ${engine.name} engine did not register with this script's tfjs`);

  const manifest = JSON.parse(await readFile(path.join(dumpDir, 'manifest.json'), 'utf8')) as DumpManifest;
  const weights = f32(await readFile(path.join(dumpDir, 'weights.bin')));
  if (weights.byteLength !== manifest.weights_bytes) throw new Error(`weights.bin is ${weights.byteLength} bytes, manifest says ${manifest.weights_bytes}`);

  const model = buildModel(manifest);
  const kerasNames = manifest.layers.map((l) => l.name);
  const tfNames = model.layers.map((l) => l.name);
  if (JSON.stringify(kerasNames) !== JSON.stringify(tfNames)) {
    const i = kerasNames.findIndex((n, j) => n !== tfNames[j]);
    throw new Error(`layer order differs at ${i}: keras ${kerasNames[i]} vs tfjs ${tfNames[i]} (${kerasNames.length} vs ${tfNames.length} layers)`);
  }

  let copied = 0;
  for (const kl of manifest.layers) {
    const vars = model.getLayer(kl.name).weights;
    if (vars.length !== kl.weights.length) throw new Error(`${kl.name}: tfjs has ${vars.length} weights, keras ${kl.weights.length}`);
    const tensors = kl.weights.map((kw, i) => {
      const v = vars[i]!;
      const leaf = v.originalName.split('/').pop();
      if (leaf !== tfjsLeaf(kl, kw.name)) throw new Error(`${kl.name}[${i}]: tfjs ${v.originalName} vs keras ${kw.name}`);
      if (JSON.stringify(v.shape) !== JSON.stringify(kw.shape)) {
        throw new Error(`${kl.name}/${kw.name}: tfjs shape ${JSON.stringify(v.shape)} vs keras ${JSON.stringify(kw.shape)}`);
      }
      copied += kw.size;
      return tf.tensor(weights.subarray(kw.offset / 4, kw.offset / 4 + kw.size), kw.shape, 'float32');
    });
    if (tensors.length) model.getLayer(kl.name).setWeights(tensors);
    tf.dispose(tensors);
  }
  if (copied * 4 !== manifest.weights_bytes) throw new Error(`copied ${copied * 4} of ${manifest.weights_bytes} bytes`);
  console.log(`copied ${copied} weights into ${model.layers.length} layers (params: ${model.countParams()})`);

  const userDefinedMetadata = {
    classes: manifest.classes,
    class_names: CLASS_NAMES,
    architecture: `keras.applications.MobileNetV2(alpha=${ALPHA}, input_shape=(96, 96, 3), include_top=False, weights=None) + avg_pool + predictions`,
    trained_on: `fashion-mnist train, first ${manifest.train_examples / manifest.classes.length} of each class`,
    input_shape: manifest.input_shape,
    input_preprocessing: 'pixel / 255, (x - 0.5) / 0.5, bilinear resize 28x28 -> 96x96 (half-pixel centres), grey replicated to 3 channels',
    pretrain: {
      framework: `tensorflow ${manifest.tensorflow_version} / keras ${manifest.keras_version}`,
      epochs: manifest.epochs,
      batch_size: manifest.batch_size,
      optimizer: `adam(${manifest.learning_rate})`,
      batch_norm_momentum: '0.9 while pre-training, 0.999 (stock) saved',
      seed: manifest.seed,
      train_examples: manifest.train_examples,
      train_seconds: manifest.train_seconds,
      val_split: 'fashion-mnist t10k, first 100 of each class',
      val_accuracy: manifest.val_accuracy,
      val_loss: manifest.val_loss,
    },
    regenerate: 'bash scripts/mobilenet-base.sh',
  };

  await mkdir(outDir, { recursive: true });
  let topology: object = {};
  await model.save(
    tf.io.withSaveHandler(async (artifacts) => {
      if (!artifacts.weightSpecs || artifacts.weightData === undefined) throw new Error('save produced no weights');
      topology = artifacts.modelTopology as object;
      const weightData = new tf.io.CompositeArrayBuffer(artifacts.weightData).slice();
      const modelJson = {
        format: 'layers-model',
        generatedBy: `TensorFlow.js tfjs-layers v${tf.version_layers}`,
        convertedBy: null,
        modelTopology: artifacts.modelTopology,
        weightsManifest: [{ paths: ['weights.bin'], weights: artifacts.weightSpecs }],
        userDefinedMetadata,
      };
      await writeFile(path.join(outDir, 'model.json'), JSON.stringify(modelJson) + '\n');
      await writeFile(path.join(outDir, 'weights.bin'), new Uint8Array(weightData));
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON', weightDataBytes: weightData.byteLength } };
    }),
  );
  console.log(`wrote ${outDir}/model.json and ${outDir}/weights.bin`);

  console.log('graph check (Keras vs tfjs: class, inbound layers, forward-pass config keys):');
  const mismatches = diffGraphs(manifest.layers, topology);
  if (mismatches > 0) throw new Error(`${mismatches} Keras/tfjs graph mismatches`);
  console.log(`  ${manifest.layers.length} layers agree`);

  // Reload from disk as a consumer would, and compare with Keras on the check set.
  const json = JSON.parse(await readFile(path.join(outDir, 'model.json'), 'utf8')) as {
    modelTopology: object;
    weightsManifest: { paths: string[]; weights: tf.io.WeightsManifestEntry[] }[];
  };
  const bin = await readFile(path.join(outDir, 'weights.bin'));
  const reloaded = await tf.loadLayersModel(
    tf.io.fromMemory({
      modelTopology: json.modelTopology,
      weightSpecs: json.weightsManifest[0]!.weights,
      weightData: bin.buffer.slice(bin.byteOffset, bin.byteOffset + bin.byteLength),
    }),
  );
  const features = tf.model({ inputs: reloaded.inputs, outputs: reloaded.getLayer('avg_pool').output as T });

  const n = manifest.check.n;
  const k = manifest.classes.length;
  const d = manifest.check.features;
  const cx = f32(await readFile(path.join(dumpDir, 'check_x.bin')));
  const cyBuf = await readFile(path.join(dumpDir, 'check_y.bin'));
  const cy = new Int32Array(cyBuf.buffer.slice(cyBuf.byteOffset, cyBuf.byteOffset + cyBuf.byteLength));
  const kerasPred = f32(await readFile(path.join(dumpDir, 'check_pred.bin')));
  const kerasFeat = f32(await readFile(path.join(dumpDir, 'check_feat.bin')));
  const shape = manifest.input_shape;
  if (cx.length !== n * shape[0] * shape[1] * shape[2] || cy.length !== n || kerasPred.length !== n * k || kerasFeat.length !== n * d) {
    throw new Error('check set size mismatch');
  }
  const started = performance.now();
  const tfPred = await predictInChunks(reloaded, cx, n, shape);
  const tfFeat = await predictInChunks(features, cx, n, shape);
  console.log(`tfjs (${tf.getBackend()} backend) predicted ${n} check images twice in ${((performance.now() - started) / 1000).toFixed(1)} s`);

  let maxPred = 0;
  let agree = 0;
  let correct = 0;
  for (let i = 0; i < n; i++) {
    let tArg = 0;
    let kArg = 0;
    for (let j = 0; j < k; j++) {
      maxPred = Math.max(maxPred, Math.abs(tfPred[i * k + j]! - kerasPred[i * k + j]!));
      if (tfPred[i * k + j]! > tfPred[i * k + tArg]!) tArg = j;
      if (kerasPred[i * k + j]! > kerasPred[i * k + kArg]!) kArg = j;
    }
    if (tArg === kArg) agree++;
    if (manifest.classes[tArg] === cy[i]) correct++;
  }
  let maxFeat = 0;
  let maxAbsFeat = 0;
  for (let i = 0; i < n * d; i++) {
    maxFeat = Math.max(maxFeat, Math.abs(tfFeat[i]! - kerasFeat[i]!));
    maxAbsFeat = Math.max(maxAbsFeat, Math.abs(kerasFeat[i]!));
  }
  console.log(`Keras pre-training: ${manifest.train_examples} images, ${manifest.epochs} epochs in ${manifest.train_seconds} s; ` +
    `val accuracy ${(manifest.val_accuracy * 100).toFixed(1)}% (${manifest.val_examples} t10k images)`);
  console.log(`parity on ${n} t10k images:`);
  console.log(`  softmax: max |tfjs - keras| = ${maxPred.toExponential(3)}, argmax agreement ${agree}/${n} (${((agree / n) * 100).toFixed(1)}%)`);
  console.log(`  avg_pool features (${d}): max |tfjs - keras| = ${maxFeat.toExponential(3)} (largest |feature| ${maxAbsFeat.toFixed(3)})`);
  console.log(`  tfjs accuracy: ${((correct / n) * 100).toFixed(1)}%`);
  await writeFile(
    path.join(outDir, 'parity.json'),
    JSON.stringify({ n, argmax_agreement: agree / n, max_abs_diff_softmax: maxPred, max_abs_diff_features: maxFeat, max_abs_feature: maxAbsFeat }, null, 1) + '\n',
  );
  if (agree / n < MIN_AGREEMENT) throw new Error(`argmax agreement ${agree}/${n} < ${MIN_AGREEMENT * 100}%`);
  console.log('OK');
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
