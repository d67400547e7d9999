import { join } from 'node:path';
import { Resvg } from '@resvg/resvg-js';
import * as vega from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';
import { PACKAGE_ROOT } from '../../package-root.ts';

export interface RenderedChart {
  svg: string;
  /** At its natural size (1 CSS pixel per pixel): what the artifact viewer shows. */
  png: Uint8Array;
  /** Fitted into MLflow's 256-pixel thumbnail box, as `log_image` compresses. */
  thumbnail: Uint8Array;
}

/** The side of the square MLflow's `log_image` fits its compressed copy into. */
const THUMBNAIL = 256;

/**
 * The fonts charts are drawn with, shipped in assets/fonts/ (DejaVu Sans and its bold, cut down to
 * the European scripts by scripts/make-chart-fonts.sh), and no others: the same picture on every
 * machine, whatever fonts it has or lacks.
 */
const FONTS = {
  fontFiles: ['DejaVuSans.ttf', 'DejaVuSans-Bold.ttf'].map((f) => join(PACKAGE_ROOT, 'assets', 'fonts', f)),
  loadSystemFonts: false,
  defaultFontFamily: 'DejaVu Sans',
  sansSerifFamily: 'DejaVu Sans',
};

/** Shared look: text sized to read at 1× in the MLflow artifact viewer, on white. */
export const CHART_CONFIG = {
  font: 'DejaVu Sans',
  background: 'white',
  padding: 12,
  title: { fontSize: 16, subtitleFontSize: 13, anchor: 'start', offset: 10 },
  axis: { labelFontSize: 12, titleFontSize: 13, gridColor: '#e6e6e6' },
  legend: { labelFontSize: 12, titleFontSize: 12, orient: 'top' },
  view: { stroke: '#cccccc' },
} as const;

/** A Vega-Lite chart as SVG (Vega's own renderer, headless) and as PNG (resvg, with the shipped fonts). */
export async function renderChart(spec: TopLevelSpec): Promise<RenderedChart> {
  const view = new vega.View(vega.parse(compile({ config: CHART_CONFIG, ...spec } as TopLevelSpec).spec), { renderer: 'none' });
  try {
    const svg = await view.toSVG();
    const full = new Resvg(svg, { font: FONTS, background: 'white' });
    const fit = full.width >= full.height ? { mode: 'width' as const, value: THUMBNAIL } : { mode: 'height' as const, value: THUMBNAIL };
    return { svg, png: full.render().asPng(), thumbnail: new Resvg(svg, { font: FONTS, background: 'white', fitTo: fit }).render().asPng() };
  } finally {
    view.finalize();
  }
}
