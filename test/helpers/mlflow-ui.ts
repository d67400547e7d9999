import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';

/**
 * The MLflow UI in a real headless browser: Debian's `chromium` (`.ci/run` installs it) driven by
 * playwright-core, which downloads no browser of its own. Shared by the UI test and
 * `npm run screenshots`, so the screenshots show what the test asserts. No node:test import here:
 * the screenshots script loads this file too.
 */

/** `TUNESPEC_CHROMIUM`, else Debian's or Ubuntu's chromium; undefined when none is installed. */
export function findChromium(): string | undefined {
  return [process.env.TUNESPEC_CHROMIUM, '/usr/bin/chromium', '/usr/bin/chromium-browser'].find((p): p is string => !!p && existsSync(p));
}

export interface UiBrowser {
  browser: Browser;
  page(viewport?: { width: number; height: number }): Promise<Page>;
  close(): Promise<void>;
}

/**
 * Chromium with a HOME of its own: it keeps a profile, crash reports and font caches under HOME
 * whatever its user-data folder, and the tests' HOME must stay empty.
 */
export async function openBrowser(executablePath: string): Promise<UiBrowser> {
  const home = mkdtempSync(join(tmpdir(), 'tunespec-chromium-'));
  const env = { ...process.env, HOME: home, XDG_CONFIG_HOME: join(home, '.config'), XDG_CACHE_HOME: join(home, '.cache'), XDG_DATA_HOME: join(home, '.local', 'share') };
  const browser = await chromium.launch({ executablePath, env, timeout: 120_000, args: ['--disable-gpu', '--no-first-run'] });
  return {
    browser,
    async page(viewport = { width: 1400, height: 900 }) {
      const page = await browser.newPage({ viewport });
      // A loaded two-core machine renders the MLflow app slowly; these bound every wait.
      page.setDefaultTimeout(90_000);
      page.setDefaultNavigationTimeout(90_000);
      return page;
    },
    async close() {
      await browser.close().catch(() => undefined);
      rmSync(home, { recursive: true, force: true });
    },
  };
}

/**
 * Close MLflow 3's assistant side panel (it opens itself on a first visit and takes a third of the
 * page); the page's storage remembers it for the rest of this page's visits.
 */
export async function closeAssistant(page: Page): Promise<void> {
  await page.locator('[data-component-id="mlflow.assistant.chat_panel.close"]').click({ timeout: 5_000 }).catch(() => undefined);
}

/** The experiment page's *Chart* view, showing only the charts whose metric names match `filter` (a regular expression, as the UI's search box takes it). */
export async function showCharts(page: Page, filter: string): Promise<void> {
  await page.locator('label:has(input[value="CHART"])').click();
  await page.getByPlaceholder('Search metric charts').fill(filter);
}

export interface ChartLine {
  runId: string;
  name: string;
  x: number[];
  y: number[];
}

/**
 * The lines the chart titled `metric` draws: one per run that has the metric, read from the chart's
 * plotly graph element (`.data` is plotly.js's public figure), so what is asserted is what is drawn.
 * Waits until `expect` lines are drawn: charts render when scrolled into view and their histories
 * arrive one request per run.
 */
export async function chartLines(page: Page, metric: string, expect: number): Promise<ChartLine[]> {
  const card = page.getByTestId('experiment-view-compare-runs-card').filter({ has: page.getByText(metric, { exact: true }) }).first();
  await card.scrollIntoViewIfNeeded();
  const plot = card.locator('.js-plotly-plot');
  const read = (): Promise<ChartLine[]> =>
    plot.evaluate((gd) => {
      const traces = (gd as unknown as { data?: { uuid?: string; name?: string; x?: number[]; y?: number[] }[] }).data ?? [];
      // A run's line and its markers are two traces with the same points.
      const byRun = new Map<string, ChartLine>();
      for (const t of traces) if (t.uuid && t.x?.length) byRun.set(t.uuid, { runId: t.uuid, name: t.name ?? '', x: [...t.x], y: [...(t.y ?? [])] });
      return [...byRun.values()];
    });
  const deadline = Date.now() + 90_000;
  let lines = await read();
  while (lines.length < expect && Date.now() < deadline) {
    await page.waitForTimeout(500);
    lines = await read();
  }
  return lines;
}

/** A run page's metrics table as the Overview tab shows it: name → the value as displayed. */
export async function shownMetrics(page: Page, names: string[]): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const name of names) {
    const row = page.getByRole('row').filter({ has: page.getByText(name, { exact: true }) }).first();
    const cells = await row.getByRole('cell').allInnerTexts();
    out[name] = cells.map((c) => c.trim()).filter((c) => c && c !== name).join(' ');
  }
  return out;
}
