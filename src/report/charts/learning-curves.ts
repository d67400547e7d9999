import { Canvas, GLYPH_HEIGHT, drawTitle, textWidth, type Rgb } from './canvas.ts';

export type HistoryRow = { epoch: number; [metric: string]: number };

const WIDTH = 900;
const HEIGHT = 380;
const HEADER = 40;
const TRAIN: Rgb = [31, 119, 180];
const VALIDATION: Rgb = [255, 127, 14];
const INK: Rgb = [30, 30, 30];
const MUTED: Rgb = [90, 90, 90];
const GRID: Rgb = [228, 228, 228];
// Below this many epochs every point gets a marker; beyond it markers would crowd the line.
const MARKER_LIMIT = 30;

interface Panel {
  title: string;
  series: { key: string; color: Rgb }[];
}

const PANELS: Panel[] = [
  { title: 'loss', series: [{ key: 'loss', color: TRAIN }, { key: 'val_loss', color: VALIDATION }] },
  { title: 'accuracy', series: [{ key: 'accuracy', color: TRAIN }, { key: 'val_accuracy', color: VALIDATION }] },
];

interface Box {
  left: number;
  top: number;
  right: number;
  bottom: number;
}

interface Ticks {
  lo: number;
  hi: number;
  values: number[];
  decimals: number;
}

/** Loss and accuracy per epoch, train vs validation, as two side-by-side panels; returns PNG bytes. */
export function renderLearningCurves(history: HistoryRow[], title: string): Buffer {
  const canvas = new Canvas(WIDTH, HEIGHT);
  drawTitle(canvas, title, 12, INK);
  const rows = history.filter((row) => Number.isFinite(row.epoch)).sort((a, b) => a.epoch - b.epoch);
  const panelWidth = WIDTH / 2;
  PANELS.forEach((panel, i) => {
    const x = i * panelWidth;
    drawPanel(canvas, panel, rows, { left: x + 64, top: HEADER + 34, right: x + panelWidth - 24, bottom: HEIGHT - 44 });
  });
  return canvas.toPng();
}

function finite(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value);
}

function drawPanel(canvas: Canvas, panel: Panel, rows: HistoryRow[], plot: Box): void {
  canvas.text(plot.left, HEADER + 8, panel.title, INK, 2);
  const series = panel.series.filter((s) => rows.some((row) => finite(row[s.key])));
  drawLegend(canvas, series, plot.right, HEADER + 12);

  const values = series.flatMap((s) => rows.map((row) => row[s.key]).filter(finite));
  if (values.length === 0) {
    canvas.strokeRect(plot.left, plot.top, plot.right - plot.left, plot.bottom - plot.top, GRID);
    const message = 'no data';
    canvas.text((plot.left + plot.right - textWidth(message)) / 2, (plot.top + plot.bottom - GLYPH_HEIGHT) / 2, message, MUTED);
    return;
  }

  const epochs = rows.map((row) => row.epoch);
  const ys = niceTicks(Math.min(...values), Math.max(...values), 5);
  const xs = epochTicks(Math.min(...epochs), Math.max(...epochs));
  // Inset so markers at the first and last epoch are not cut by the axes.
  const inset = 8;
  const toX = (epoch: number) =>
    plot.left + inset + ((epoch - xs.lo) / (xs.hi - xs.lo)) * (plot.right - plot.left - 2 * inset);
  const toY = (value: number) => plot.bottom - ((value - ys.lo) / (ys.hi - ys.lo)) * (plot.bottom - plot.top);

  for (const value of ys.values) {
    const y = Math.round(toY(value));
    canvas.fillRect(plot.left, y, plot.right - plot.left, 1, GRID);
    const label = value.toFixed(ys.decimals);
    canvas.text(plot.left - 6 - textWidth(label), y - 3, label, MUTED);
  }
  for (const epoch of xs.values) {
    const x = Math.round(toX(epoch));
    canvas.fillRect(x, plot.bottom, 1, 4, MUTED);
    const label = String(epoch);
    canvas.text(x - Math.floor(textWidth(label) / 2), plot.bottom + 8, label, MUTED);
  }
  canvas.fillRect(plot.left, plot.top, 1, plot.bottom - plot.top + 1, MUTED);
  canvas.fillRect(plot.left, plot.bottom, plot.right - plot.left, 1, MUTED);
  const caption = 'epoch';
  canvas.text((plot.left + plot.right - textWidth(caption)) / 2, plot.bottom + 24, caption, INK);

  for (const s of series) {
    const points = rows.map((row) => (finite(row[s.key]) ? { x: toX(row.epoch), y: toY(row[s.key]) } : null));
    drawSeries(canvas, points, s.color, rows.length <= MARKER_LIMIT);
  }
}

/** Gaps (non-finite values) break the line rather than being bridged, so a bad epoch stays visible as a hole. */
function drawSeries(canvas: Canvas, points: ({ x: number; y: number } | null)[], color: Rgb, markAll: boolean): void {
  points.forEach((point, i) => {
    const previous = points[i - 1];
    if (point && previous) canvas.line(previous.x, previous.y, point.x, point.y, color, 2);
  });
  points.forEach((point, i) => {
    if (!point) return;
    const isolated = !points[i - 1] && !points[i + 1];
    if (markAll || isolated) canvas.fillRect(Math.round(point.x) - 2, Math.round(point.y) - 2, 5, 5, color);
  });
}

function drawLegend(canvas: Canvas, series: Panel['series'], right: number, y: number): void {
  const swatch = 16;
  const widths = series.map((s) => swatch + 4 + textWidth(s.key));
  let x = right - widths.reduce((sum, w) => sum + w + 14, -14);
  series.forEach((s, i) => {
    canvas.fillRect(x, y + 2, swatch, 3, s.color);
    canvas.text(x + swatch + 4, y, s.key, INK);
    x += widths[i] + 14;
  });
}

function niceStep(span: number, target: number): number {
  const raw = span / target;
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  const normalized = raw / magnitude;
  return (normalized < 1.5 ? 1 : normalized < 3 ? 2 : normalized < 7 ? 5 : 10) * magnitude;
}

/** Round-number ticks enclosing [min, max]; a flat series gets a small band around its value. */
export function niceTicks(min: number, max: number, target: number): Ticks {
  if (min === max) {
    const pad = Math.abs(min) * 0.05 || 0.5;
    min -= pad;
    max += pad;
  }
  const step = niceStep(max - min, target);
  const first = Math.floor(min / step);
  const last = Math.ceil(max / step);
  const values = Array.from({ length: last - first + 1 }, (_, k) => (first + k) * step);
  const decimals = Math.min(6, Math.max(0, -Math.floor(Math.log10(step) + 1e-9)));
  return { lo: first * step, hi: last * step, values, decimals };
}

/** Integer epoch ticks; a single epoch gets a unit-wide range so its point sits mid-panel. */
function epochTicks(min: number, max: number): Ticks {
  const [lo, hi] = min === max ? [min - 0.5, max + 0.5] : [min, max];
  const step = Math.max(1, Math.ceil(niceStep(hi - lo, 8)));
  const values: number[] = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi; v += step) values.push(v);
  return { lo, hi, values, decimals: 0 };
}
