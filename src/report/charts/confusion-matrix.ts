import { CAP_HEIGHT, Canvas, GLYPH_HEIGHT, drawTitle, textWidth, truncate, type Rgb } from './canvas.ts';

const MARGIN = 16;
const MAX_LABEL_CHARS = 12;
const MIN_WIDTH = 320;
const INK: Rgb = [30, 30, 30];
const MUTED: Rgb = [90, 90, 90];
const GRID: Rgb = [210, 210, 210];
// Three stops of matplotlib's "Blues": a straight white-to-navy blend looks washed out in the middle.
const RAMP: Rgb[] = [
  [247, 251, 255],
  [107, 174, 214],
  [8, 48, 107],
];

export interface ConfusionLayout {
  width: number;
  height: number;
  /** Top-left corner of the cell grid and the side of one (square) cell. */
  gridX: number;
  gridY: number;
  cellSize: number;
  /** Class names as drawn (truncated). */
  labels: string[];
  labelWidth: number;
  cellCenter(row: number, col: number): [number, number];
}

/** Geometry of the confusion-matrix image, so callers and tests can locate cells without re-deriving it. */
export function confusionLayout(classNames: string[]): ConfusionLayout {
  const n = classNames.length;
  const labels = classNames.map((name) => truncate(name, MAX_LABEL_CHARS));
  const labelWidth = Math.max(textWidth('0'), ...labels.map((label) => textWidth(label)));
  const cellSize = Math.min(72, Math.max(32, Math.floor(560 / Math.max(1, n))));
  const gridSize = n * cellSize;
  // Left of the grid: the vertical "true" caption, then right-aligned row labels.
  const naturalGridX = MARGIN + GLYPH_HEIGHT + 10 + labelWidth + 6;
  const naturalWidth = naturalGridX + gridSize + MARGIN;
  const width = Math.max(MIN_WIDTH, naturalWidth);
  const gridX = naturalGridX + Math.floor((width - naturalWidth) / 2);
  const gridY = MARGIN + 3 * GLYPH_HEIGHT + 12;
  // Below the grid: vertical column labels, then the "predicted" caption.
  const height = gridY + gridSize + 6 + labelWidth + 10 + GLYPH_HEIGHT + MARGIN;
  return {
    width,
    height,
    gridX,
    gridY,
    cellSize,
    labels,
    labelWidth,
    cellCenter: (row, col) => [gridX + col * cellSize + Math.floor(cellSize / 2), gridY + row * cellSize + Math.floor(cellSize / 2)],
  };
}

/**
 * matrix[true][predicted] counts as a heatmap shaded by the fraction of each true class's samples,
 * so rare classes are as readable as common ones. Missing class names fall back to the index.
 */
export function renderConfusionMatrix(matrix: number[][], classNames: string[], title: string): Buffer {
  const n = matrix.length;
  const names = Array.from({ length: n }, (_, i) => classNames[i] ?? String(i));
  const layout = confusionLayout(names);
  const { gridX, gridY, cellSize } = layout;
  const gridSize = n * cellSize;
  const canvas = new Canvas(layout.width, layout.height);
  drawTitle(canvas, title, MARGIN, INK);

  matrix.forEach((row, r) => {
    const counts = Array.from({ length: n }, (_, c) => count(row[c]));
    const total = counts.reduce((sum, v) => sum + v, 0);
    counts.forEach((value, c) => {
      const fill = shade(total > 0 ? value / total : 0);
      const x = gridX + c * cellSize;
      const y = gridY + r * cellSize;
      canvas.fillRect(x, y, cellSize, cellSize, fill);
      drawCount(canvas, value, x, y, cellSize, luminance(fill) < 140 ? [255, 255, 255] : INK);
    });
  });
  for (let i = 0; i <= n; i++) {
    canvas.fillRect(gridX + i * cellSize, gridY, 1, gridSize + 1, GRID);
    canvas.fillRect(gridX, gridY + i * cellSize, gridSize + 1, 1, GRID);
  }

  layout.labels.forEach((label, i) => {
    const centre = i * cellSize + Math.floor(cellSize / 2);
    canvas.text(gridX - 6 - textWidth(label), gridY + centre - 3, label, INK);
    canvas.textVertical(gridX + centre - 3, gridY + gridSize + 6, label, INK);
  });
  const captionX = gridX - 6 - layout.labelWidth - 10 - GLYPH_HEIGHT;
  canvas.textVertical(captionX, gridY + Math.floor((gridSize - textWidth('true')) / 2), 'true', MUTED);
  // Column labels hug the grid, so the caption goes below the longest one.
  const captionY = gridY + gridSize + 6 + layout.labelWidth + 10;
  canvas.text(gridX + Math.floor((gridSize - textWidth('predicted')) / 2), captionY, 'predicted', MUTED);
  return canvas.toPng();
}

function count(value: number | undefined): number {
  return typeof value === 'number' && Number.isFinite(value) && value > 0 ? value : 0;
}

function shade(fraction: number): Rgb {
  const t = Math.min(1, Math.max(0, fraction)) * (RAMP.length - 1);
  const i = Math.min(RAMP.length - 2, Math.floor(t));
  const f = t - i;
  const mix = (k: number) => Math.round(RAMP[i][k] + (RAMP[i + 1][k] - RAMP[i][k]) * f);
  return [mix(0), mix(1), mix(2)];
}

function luminance([r, g, b]: Rgb): number {
  return 0.299 * r + 0.587 * g + 0.114 * b;
}

/** Largest text that fits the cell; big counts fall back to k/M suffixes rather than spilling into neighbours. */
function drawCount(canvas: Canvas, value: number, x: number, y: number, cellSize: number, color: Rgb): void {
  const room = cellSize - 6;
  let label = Number.isInteger(value) ? String(value) : value.toFixed(1);
  if (textWidth(label) > room) label = compact(value);
  const scale = cellSize >= 48 && textWidth(label, 2) <= room ? 2 : 1;
  const w = textWidth(label, scale);
  const h = CAP_HEIGHT * scale;
  canvas.text(x + Math.floor((cellSize - w) / 2), y + Math.floor((cellSize - h) / 2), label, color, scale);
}

function compact(value: number): string {
  if (value >= 1e6) return `${(value / 1e6).toFixed(value < 1e7 ? 1 : 0)}M`;
  return `${(value / 1e3).toFixed(value < 1e4 ? 1 : 0)}k`;
}
