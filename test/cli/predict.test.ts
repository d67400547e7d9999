import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pngjs from 'pngjs';
import { parseIdx } from '../../src/data/readers/idx.ts';
import { loadDataset } from '../../src/data/dataset.ts';
import { splitDataset } from '../../src/data/split.ts';
import { checkStructure } from '../../src/spec/structure.ts';
import { parse } from 'yaml';
import { QUICKSTART_IMAGES, QUICKSTART_LABELS, tempDir, tunespec, writeSmallSpec } from '../helpers/cli.ts';
import { HELD_OUT_FROM } from '../helpers/held-out.ts';

interface Prediction {
  input: string;
  top: { class: number; name: string; probability: number }[];
}

let dir: string;
let spec: string;
let sweepDir: string;
let ids: string[];

/** An uncompressed idx3 file: magic 0x00000803, then N, height, width as big-endian uint32. */
function idx3(images: Uint8Array[], height = 28, width = 28): Buffer {
  const header = Buffer.alloc(16);
  header.writeUInt32BE(0x803, 0);
  header.writeUInt32BE(images.length, 4);
  header.writeUInt32BE(height, 8);
  header.writeUInt32BE(width, 12);
  return Buffer.concat([header, ...images]);
}

/** A PNG with the given pixel colour function (RGBA). */
function png(width: number, height: number, rgb: (p: number) => [number, number, number]): Buffer {
  const image = new pngjs.PNG({ width, height });
  for (let p = 0; p < width * height; p++) image.data.set([...rgb(p), 255], 4 * p);
  return pngjs.PNG.sync.write(image);
}

/** The first `n` images (and their labels) of an IDX pair whose label is in `classes`. */
function pick(imagesFile: string, labelsFile: string, n: number, classes: number[], skip = 0): { images: Uint8Array[]; labels: number[] } {
  const images = parseIdx(readFileSync(imagesFile), imagesFile);
  const labels = parseIdx(readFileSync(labelsFile), labelsFile);
  const out = { images: [] as Uint8Array[], labels: [] as number[] };
  for (let i = skip; i < labels.data.length && out.images.length < n; i++) {
    if (!classes.includes(labels.data[i]!)) continue;
    out.images.push(images.data.slice(i * 784, (i + 1) * 784));
    out.labels.push(labels.data[i]!);
  }
  return out;
}

function predictJson(args: string[]): { variant: string; predictions: Prediction[] } {
  const r = tunespec(['predict', ...args, '--runs-dir', 'runs', '--json'], dir);
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout);
}

const predict = (args: string[]): Prediction[] => predictJson(args).predictions;

before(() => {
  dir = tempDir();
  spec = writeSmallSpec(dir, { name: 'pred', sweep: '  training.learning_rate: [0.003, 0.01]' });
  const r = tunespec(['run', spec, '--runs-dir', 'runs'], dir);
  assert.equal(r.code, 0, r.stderr);
  const expDir = join(dir, 'runs', 'pred');
  sweepDir = join(expDir, readdirSync(expDir).find((name) => !name.startsWith('.'))!);
  ids = readdirSync(sweepDir, { withFileTypes: true })
    .filter((d) => d.isDirectory() && !d.name.startsWith('.'))
    .map((d) => d.name);
  assert.equal(ids.length, 2);

  // Images from past the training examples (60 a class), as an IDX file and as grey PNGs.
  const { images } = pick(QUICKSTART_IMAGES, QUICKSTART_LABELS, 6, [5, 6, 7, 8, 9], HELD_OUT_FROM);
  writeFileSync(join(dir, 'few.idx'), idx3(images));
  mkdirSync(join(dir, 'pngs'));
  images.forEach((img, i) => writeFileSync(join(dir, 'pngs', `img-${i}.png`), png(28, 28, (p) => [img[p]!, img[p]!, img[p]!])));
});

test('predict by variant id: an IDX file and the same pixels as PNGs in a folder give the same classes and probabilities', () => {
  const out = predict([ids[0]!, 'few.idx', 'pngs', '--top', '2']);
  assert.equal(out.length, 12);
  const fromIdx = out.slice(0, 6);
  const fromPng = out.slice(6);
  assert.deepEqual(fromIdx.map((p) => p.input), [0, 1, 2, 3, 4, 5].map((i) => `few.idx#${i}`));
  assert.deepEqual(fromPng.map((p) => p.input), [0, 1, 2, 3, 4, 5].map((i) => join('pngs', `img-${i}.png`)));
  for (let i = 0; i < 6; i++) {
    assert.equal(fromIdx[i]!.top.length, 2);
    assert.ok(fromIdx[i]!.top[0]!.probability >= fromIdx[i]!.top[1]!.probability);
    assert.equal(fromPng[i]!.top[0]!.name, fromIdx[i]!.top[0]!.name);
    assert.ok(Math.abs(fromPng[i]!.top[0]!.probability - fromIdx[i]!.top[0]!.probability) < 1e-6);
  }
});

test('predict the best variant of a spec: the top class agrees with the true label for most unseen images', () => {
  const { images, labels } = pick(QUICKSTART_IMAGES, QUICKSTART_LABELS, 50, [5, 6, 7, 8, 9], HELD_OUT_FROM + 1000);
  writeFileSync(join(dir, 'test50.idx'), idx3(images));
  const { variant, predictions: out } = predictJson(['best', 'test50.idx', '--spec', spec]);
  const runs = tunespec(['runs', spec, '--runs-dir', 'runs'], dir);
  assert.equal(variant, /^best: ([0-9a-f]{12}) /m.exec(runs.stdout)?.[1], runs.stdout);
  assert.equal(out.length, 50);
  const right = out.filter((p, i) => p.top[0]!.name === String(labels[i])).length;
  assert.ok(right >= 35, `${right}/50 right`);
  // Three classes by default, their probabilities summing to at most 1.
  for (const p of out) assert.ok(p.top.length === 3 && p.top.reduce((s, t) => s + t.probability, 0) <= 1 + 1e-6);
});

test('predict by variant folder and by its model.json prints a table of the top classes', () => {
  const byId = predict([ids[1]!, join('pngs', 'img-0.png')]);
  const folder = join(sweepDir, ids[1]!);
  for (const target of [folder, join(folder, 'model', 'model.json')]) {
    const r = tunespec(['predict', target, join('pngs', 'img-0.png'), '--top', '1', '--runs-dir', 'runs'], dir);
    assert.equal(r.code, 0, r.stderr);
    const [title, header, row] = r.stdout.trim().split('\n');
    assert.match(title!, new RegExp(`^variant ${ids[1]} \\(lr=[\\d.]+\\), 1 input\\(s\\), engine \\w+`));
    assert.match(header!, /^input\s+1st\s+p$/);
    assert.match(row!, new RegExp(`^pngs/img-0\\.png\\s+${byId[0]!.top[0]!.name}\\s+${byId[0]!.top[0]!.probability.toFixed(4)}$`));
  }
});

test('predict --engine onnx runs model.onnx on onnxruntime and agrees with tfjs on every validation example', async () => {
  // The variant's own validation split, rebuilt from its stored spec as the sweep built it.
  const variantSpec = checkStructure(parse(readFileSync(join(sweepDir, ids[0]!, 'spec.yaml'), 'utf8'))).spec!;
  const data = await loadDataset(variantSpec.data, dir);
  const { validation } = splitDataset(data.labels, variantSpec.validation, data.digest);
  const images = [...validation].map((row) => Uint8Array.from(data.rows.gather([row]), (v) => Math.round(v * 255)));
  writeFileSync(join(dir, 'validation.idx'), idx3(images));
  const tfjs = predictJson([ids[0]!, 'validation.idx']);
  const onnx = predictJson([ids[0]!, 'validation.idx', '--engine', 'onnx']);
  assert.equal(onnx.predictions.length, 75);
  assert.match((onnx as unknown as { engine: string }).engine, /^onnxruntime-node \d/);
  onnx.predictions.forEach((p, i) => {
    assert.equal(p.top[0]!.name, tfjs.predictions[i]!.top[0]!.name, p.input);
    assert.ok(Math.abs(p.top[0]!.probability - tfjs.predictions[i]!.top[0]!.probability) < 1e-5);
  });
  const table = tunespec(['predict', ids[0]!, join('pngs', 'img-0.png'), '--engine', 'onnx', '--runs-dir', 'runs'], dir);
  assert.match(table.stdout, /^variant [0-9a-f]{12} \(lr=[\d.]+\), 1 input\(s\), engine onnxruntime-node /);
});

test('predict refuses inputs the variant cannot take, naming the file and the shapes', () => {
  writeFileSync(join(dir, 'big.png'), png(32, 32, () => [90, 90, 90]));
  writeFileSync(join(dir, 'colour.png'), png(28, 28, (p) => [p % 256, 40, 200]));
  writeFileSync(join(dir, 'notes.txt'), 'not an image\n');
  const cases: [string[], RegExp][] = [
    [[ids[0]!, 'big.png'], /^big\.png: got a 32x32x1 image, expected 28x28x1 \(the variant was trained on IDX images, which are never resized\)/],
    [[ids[0]!, 'colour.png'], /^colour\.png: got a 28x28x3 image, expected 28x28x1 \(a colour image; the variant takes single-channel \(grey\) images\)/],
    [[ids[0]!, 'notes.txt'], /^notes\.txt: not a PNG, JPEG or IDX image file \(checked by content\)/],
    [['abcdefabcdef', 'big.png'], /^no completed variant abcdefabcdef in .*runs/],
    [[ids[0]!, 'missing.png'], /^missing\.png: no such file or folder/],
    [['no-onnx', 'few.idx', '--engine', 'onnx'], new RegExp(`^variant ${ids[0]} has no model\\.onnx \\(.*no-onnx\\): its spec turned export\\.onnx off, or it predates ONNX export; use --engine tfjs`)],
  ];
  // A variant stored without an ONNX export.
  cpSync(join(sweepDir, ids[0]!), join(dir, 'no-onnx'), { recursive: true });
  rmSync(join(dir, 'no-onnx', 'model.onnx'));
  const status = JSON.parse(readFileSync(join(dir, 'no-onnx', 'status.json'), 'utf8'));
  delete status.onnx;
  writeFileSync(join(dir, 'no-onnx', 'status.json'), JSON.stringify(status));
  for (const [args, message] of cases) {
    const r = tunespec(['predict', ...args, '--runs-dir', 'runs'], dir);
    assert.equal(r.code, 1, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, message);
    assert.equal(r.stdout, '');
  }
});
