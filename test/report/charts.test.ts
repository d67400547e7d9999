import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PNG } from 'pngjs';
import { renderChart } from '../../src/report/charts/render.ts';
import { learningCurvesSpec } from '../../src/report/charts/learning-curves.ts';
import { confusionSpec } from '../../src/report/charts/confusion-matrix.ts';
import { variantCharts } from '../../src/report/charts/variant-charts.ts';
import type { Variant } from '../../src/plan/expand.ts';
import type { VariantResult } from '../../src/train/events.ts';

type Rgb = [number, number, number];

function decode(buffer: Uint8Array) {
  const png = PNG.sync.read(Buffer.from(buffer));
  const pixels: Rgb[] = [];
  for (let i = 0; i < png.data.length; i += 4) pixels.push([png.data[i], png.data[i + 1], png.data[i + 2]]);
  return { width: png.width, height: png.height, count: (p: (c: Rgb) => boolean) => pixels.filter(p).length };
}

const luminance = ([r, g, b]: Rgb) => 0.299 * r + 0.587 * g + 0.114 * b;
const isBlue = ([r, g, b]: Rgb) => b > 150 && r < 80 && g > 90;
const isOrange = ([r, g, b]: Rgb) => r > 200 && g > 90 && g < 170 && b < 60;
/** The text of an SVG's <text> elements, in order. */
const texts = (svg: string) => [...svg.matchAll(/<text[^>]*>([^<]*)<\/text>/g)].map((m) => m[1]);

const history = Array.from({ length: 8 }, (_, i) => ({
  epoch: i + 1,
  loss: 1 / (i + 1),
  val_loss: 1.2 / (i + 1),
  accuracy: 0.5 + i * 0.05,
  val_accuracy: 0.45 + i * 0.05,
}));

test('learning curves: train and validation in two panels, titled, with the kept epoch marked; readable at 1x', async () => {
  const chart = await renderChart(learningCurvesSpec(history, { text: 'lr=0.01: val accuracy 0.8000 (kept epoch 6)' }, 6));
  const image = decode(chart.png);
  assert.ok(image.width >= 800 && image.width <= 1400, `width ${image.width}`);
  assert.ok(image.height >= 300 && image.height <= 600, `height ${image.height}`);
  assert.ok(image.count(isBlue) > 500, 'train series missing');
  assert.ok(image.count(isOrange) > 500, 'validation series missing');
  const words = texts(chart.svg);
  for (const t of ['lr=0.01: val accuracy 0.8000 (kept epoch 6)', 'loss', 'accuracy', 'train', 'validation', 'epoch']) assert.ok(words.includes(t), `${t} in ${words.join(' | ')}`);
  assert.equal(words.filter((t) => t === 'kept: epoch 6').length, 2, 'the kept epoch is marked in both panels');
  // Axis labels and titles are at least 12 px: readable without zooming.
  for (const size of chart.svg.matchAll(/font-size="(\d+)px"/g)) assert.ok(Number(size[1]) >= 11, `font size ${size[1]}`);
});

test('learning curves: NaN, Infinity and missing series are left out, not drawn or thrown on', async () => {
  const messy = history.map((row, i) => ({ epoch: row.epoch, loss: i === 2 ? Number.NaN : row.loss, val_loss: i === 4 ? Number.POSITIVE_INFINITY : row.val_loss, accuracy: Number.NaN }));
  const chart = await renderChart(learningCurvesSpec(messy, { text: 'messy' }));
  assert.ok(decode(chart.png).count(isBlue) > 200, 'finite loss points are still drawn');
  assert.ok(!texts(chart.svg).some((t) => t.startsWith('kept')));
  await assert.doesNotReject(renderChart(learningCurvesSpec([], { text: 'empty' })));
});

test('confusion matrix: counts and row percentages in every cell, shaded by the share of the row', async () => {
  const names = ['cat', 'dog', 'bird'];
  const matrix = [
    [90, 5, 5],
    [0, 80, 20],
    [10, 0, 90],
  ];
  const chart = await renderChart(confusionSpec(matrix, names, { text: 'lr=0.01: val accuracy 0.8667' }));
  const words = texts(chart.svg);
  assert.ok(words.includes('lr=0.01: val accuracy 0.8667'));
  for (const t of ['90', '80', '20', '90%', '80%', '20%', '0%', '10%', 'cat', 'dog', 'bird', 'true class', 'predicted']) assert.ok(words.includes(t), `${t} in ${words.join(' | ')}`);
  const image = decode(chart.png);
  // Three dark diagonal cells (about 60 px a side) and light empty ones; counts on dark cells in white.
  assert.ok(image.count((c) => luminance(c) < 120 && c[2] > c[0]) > 3 * 40 * 40, 'dark diagonal cells');
  assert.ok(image.width < 1000 && image.height < 800);
  await assert.doesNotReject(renderChart(confusionSpec([[Number.NaN, 1], [2, 3]], ['a'], { text: 'partial names' })));
});

test("a variant's charts: plain artifacts, and MLflow's log_image layout at the kept epoch's step with a 256-pixel copy", async () => {
  const variant = { id: 'abc123def456', label: 'lr=0.01', spec: {} } as unknown as Variant;
  const result = { bestEpoch: 6, metrics: { val_accuracy: 0.8 }, confusion: [[5, 1], [2, 7]], finishedAt: 1_700_000_000_000, attempt: 'a1' } as unknown as VariantResult;
  const files = await variantCharts({ variant, history: history.map((h) => ({ ...h, timestamp: 0 })), result, classNames: ['x', 'y'] });
  const names = Object.keys(files).sort();
  assert.equal(names.length, 6, names.join(', '));
  for (const key of ['learning_curves', 'confusion_matrix']) {
    assert.ok(names.includes(`${key}.png`));
    // What MLflow's UI parses: key, "step", step, "timestamp", ms, uuid split by "+", then an optional "+compressed".
    const logged = names.filter((n) => n.startsWith(`images/${key}+`));
    assert.equal(logged.length, 2);
    const full = logged.find((n) => !n.includes('+compressed'))!;
    const m = /^images\/(\w+)\+step\+(\d+)\+timestamp\+(\d+)\+([0-9a-f-]{36})\.png$/.exec(full);
    assert.ok(m, full);
    assert.deepEqual([m[1], m[2], m[3]], [key, '6', '1700000000000']);
    assert.ok(logged.includes(full.replace(/\.png$/, '+compressed.png')));
    assert.deepEqual(files[full], files[`${key}.png`]);
    const small = decode(files[full.replace(/\.png$/, '+compressed.png')]);
    assert.equal(Math.max(small.width, small.height), 256);
  }
  // The same attempt names the same files: a re-upload overwrites, it does not add.
  const again = await variantCharts({ variant, history: history.map((h) => ({ ...h, timestamp: 0 })), result, classNames: ['x', 'y'] });
  assert.deepEqual(Object.keys(again).sort(), names);
});

test('chart text is drawn with the shipped DejaVu Sans and its bold, never the machine\'s fonts', async () => {
  // resvg loads no system font, so text drawn at all comes from assets/fonts/; bold drawn heavier
  // than regular shows the bold face loaded too (a missing face falls back to the other).
  const ink = async (fontWeight: 'normal' | 'bold') => {
    const chart = await renderChart({
      data: { values: [{ t: 'Sandal Shirt Sneaker 0.9633 × −0.5 Ünïcødé Ωμέγα Кириллица' }] },
      mark: { type: 'text', fontSize: 20, fontWeight, font: 'DejaVu Sans' },
      encoding: { text: { field: 't', type: 'nominal' } },
      width: 700,
      height: 40,
    });
    return decode(chart.png).count((c) => luminance(c) < 100);
  };
  const regular = await ink('normal');
  const bold = await ink('bold');
  assert.ok(regular > 1500, `regular text drawn: ${regular} dark pixels`);
  assert.ok(bold > regular * 1.2, `bold heavier than regular: ${bold} vs ${regular}`);
});
