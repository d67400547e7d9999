import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PNG } from 'pngjs';
import { CAP_HEIGHT, Canvas, GLYPH_WIDTH, textWidth, type Rgb } from '../../src/report/charts/canvas.ts';
import { renderLearningCurves } from '../../src/report/charts/learning-curves.ts';
import { confusionLayout, renderConfusionMatrix } from '../../src/report/charts/confusion-matrix.ts';

function decode(buffer: Buffer) {
  const png = PNG.sync.read(buffer);
  const at = (x: number, y: number): Rgb => {
    const i = (y * png.width + x) * 4;
    return [png.data[i], png.data[i + 1], png.data[i + 2]];
  };
  return { width: png.width, height: png.height, at };
}

function colours(image: ReturnType<typeof decode>, x0 = 0, y0 = 0, x1 = image.width, y1 = image.height): Map<string, number> {
  const counts = new Map<string, number>();
  for (let y = y0; y < y1; y++) {
    for (let x = x0; x < x1; x++) {
      const key = image.at(x, y).join(',');
      counts.set(key, (counts.get(key) ?? 0) + 1);
    }
  }
  return counts;
}

const parse = (key: string): Rgb => key.split(',').map(Number) as [number, number, number];
const luminance = ([r, g, b]: Rgb) => 0.299 * r + 0.587 * g + 0.114 * b;
const isBlue = ([r, , b]: Rgb) => b > 150 && r < 80;
const isOrange = ([r, g, b]: Rgb) => r > 200 && g > 90 && g < 170 && b < 60;

function countWhere(image: ReturnType<typeof decode>, predicate: (c: Rgb) => boolean, region = [0, 0, image.width, image.height]): number {
  let n = 0;
  for (const [key, count] of colours(image, ...region)) if (predicate(parse(key))) n += count;
  return n;
}

const history = Array.from({ length: 8 }, (_, i) => ({
  epoch: i + 1,
  loss: 1 / (i + 1),
  val_loss: 1.2 / (i + 1),
  accuracy: 0.5 + i * 0.05,
  val_accuracy: 0.45 + i * 0.05,
}));

test('learning curves: a sane-sized, non-blank PNG with distinct train and validation colours', () => {
  const image = decode(renderLearningCurves(history, 'run 1'));
  assert.equal(image.width, 900);
  assert.equal(image.height, 380);
  assert.ok(colours(image).size >= 5, `only ${colours(image).size} colours`);
  assert.ok(countWhere(image, isBlue) > 200, 'train series missing');
  assert.ok(countWhere(image, isOrange) > 200, 'validation series missing');
});

test('learning curves: skips NaN/Infinity and missing series instead of throwing', () => {
  const messy = history.map((row, i) => ({
    epoch: row.epoch,
    loss: i === 2 ? Number.NaN : row.loss,
    val_loss: i === 4 ? Number.POSITIVE_INFINITY : row.val_loss,
    accuracy: Number.NaN,
  }));
  const image = decode(renderLearningCurves(messy, 'messy'));
  assert.equal(image.width, 900);
  assert.ok(countWhere(image, isBlue) > 100, 'finite loss points should still be drawn');
  // val_accuracy is absent and accuracy all NaN: no orange line and no legend entry in the accuracy panel.
  assert.equal(countWhere(image, isOrange, [450, 40, 900, 380]), 0);
  assert.doesNotThrow(() => renderLearningCurves([], 'empty'));
});

test('learning curves: a single epoch still shows a point', () => {
  const image = decode(renderLearningCurves([{ epoch: 0, loss: 0.7, val_loss: 0.8, accuracy: 0.5, val_accuracy: 0.4 }], 'one'));
  // Below the legend row, so only plotted markers count.
  const plots = [0, 70, image.width, image.height];
  assert.ok(countWhere(image, isBlue, plots) >= 2 * 25, 'expected a marker per train series');
  assert.ok(countWhere(image, isOrange, plots) >= 2 * 25, 'expected a marker per validation series');
});

test('confusion matrix: a heavy diagonal cell is darker than an empty off-diagonal one', () => {
  const names = ['cat', 'dog', 'bird'];
  const matrix = [
    [90, 5, 5],
    [0, 80, 20],
    [10, 0, 90],
  ];
  const layout = confusionLayout(names);
  const image = decode(renderConfusionMatrix(matrix, names, 'val'));
  assert.equal(image.width, layout.width);
  assert.equal(image.height, layout.height);
  assert.ok(image.width >= 3 * layout.cellSize && image.width < 2000);

  // The count label sits at the centre, so judge a cell by its dominant colour around the centre.
  const cellColour = (row: number, col: number) => {
    const [cx, cy] = layout.cellCenter(row, col);
    const half = Math.floor(layout.cellSize / 2) - 2;
    const [key] = [...colours(image, cx - half, cy - half, cx + half, cy + half)].sort((a, b) => b[1] - a[1])[0];
    return parse(key);
  };
  const diagonal = cellColour(0, 0);
  const empty = cellColour(1, 0);
  assert.ok(luminance(diagonal) < 120, `diagonal ${diagonal} should be dark`);
  assert.ok(luminance(empty) > 230, `empty cell ${empty} should be near white`);
  assert.ok(luminance(cellColour(1, 2)) < luminance(empty), 'a 20% cell should be shaded');

  // The count on a dark cell must be drawn in a light colour to stay readable.
  const [cx, cy] = layout.cellCenter(0, 0);
  const label = colours(image, cx - 12, cy - 8, cx + 12, cy + 8);
  assert.ok([...label.keys()].some((k) => luminance(parse(k)) > 200));
});

test('confusion layout scales with class count and truncates long names', () => {
  const few = confusionLayout(['a', 'b']);
  const many = confusionLayout(Array.from({ length: 20 }, (_, i) => `class${i}`));
  assert.ok(many.width > few.width && many.height > few.height);
  const long = confusionLayout(['x'.repeat(40), 'y']);
  assert.ok(long.labels[0].length <= 12);
  assert.ok(long.labelWidth <= textWidth('x'.repeat(12)));
  assert.doesNotThrow(() => renderConfusionMatrix([[Number.NaN, 1], [2, 3]], ['a'], 'partial names'));
});

test('canvas: text and thick lines land where asked', () => {
  const canvas = new Canvas(40, 20);
  canvas.text(2, 2, 'H', [0, 0, 0]);
  const ink = (x0: number, y0: number, x1: number, y1: number) => {
    let n = 0;
    for (let y = y0; y < y1; y++) for (let x = x0; x < x1; x++) if (canvas.getPixel(x, y)[0] === 0) n++;
    return n;
  };
  assert.equal(ink(2, 2, 2 + GLYPH_WIDTH, 2 + CAP_HEIGHT), 7 + 7 + 3);
  assert.equal(ink(0, 0, 40, 20), 17, 'nothing outside the glyph box');
  canvas.line(10, 10, 30, 10, [0, 0, 0], 3);
  assert.equal(ink(10, 9, 31, 12), 21 * 3);
  const png = PNG.sync.read(canvas.toPng());
  assert.deepEqual([png.width, png.height], [40, 20]);
});
