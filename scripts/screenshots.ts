/**
 * `npm run screenshots`: the README's MLflow walkthrough pictures, taken from the real thing. It
 * starts the pinned MLflow server (`.venv-mlflow`, as `npm run mlflow` installs it) on a free port
 * with a temporary store, runs the quickstart sweep tracked and registers its best variant, then
 * opens the views a user would in headless Chromium (Debian's `chromium`, or TUNESPEC_CHROMIUM)
 * and writes cropped PNGs into docs/screenshots/. Nothing outside the temporary folder and
 * docs/screenshots/ is written; the server is stopped on every way out.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Locator, Page } from 'playwright-core';
import { chartLines, closeAssistant, findChromium, openBrowser, showCharts } from '../test/helpers/mlflow-ui.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const OUT = join(ROOT, 'docs', 'screenshots');
const MLFLOW = join(ROOT, '.venv-mlflow', 'bin', 'mlflow');
const SPEC = 'experiments/quickstart.yaml';
const MODEL_NAME = 'quickstart-classifier';

function fail(message: string): never {
  console.error(`screenshots: ${message}`);
  process.exit(1);
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer().on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

/** The pinned server, in its own process group so that stopping it takes its workers along. */
async function startServer(dir: string): Promise<{ uri: string; child: ChildProcess }> {
  const port = await freePort();
  const args = ['server', '--host', '127.0.0.1', '--port', String(port), '--workers', '1', '--backend-store-uri', `sqlite:///${join(dir, 'mlflow.db')}`, '--artifacts-destination', join(dir, 'artifacts')];
  const log = join(dir, 'server.log');
  // The GenAI job runner forks workers tracking never needs; telemetry would call out of the machine.
  const env = { ...process.env, HOME: dir, MLFLOW_SERVER_ENABLE_JOB_EXECUTION: 'false', MLFLOW_DISABLE_TELEMETRY: 'true' };
  const child = spawn(MLFLOW, args, { cwd: dir, env, detached: true, stdio: ['ignore', openSync(log, 'a'), openSync(log, 'a')] });
  const uri = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 180_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) fail(`mlflow server exited while starting:\n${readFileSync(log, 'utf8').slice(-2000)}`);
    if (await fetch(`${uri}/health`, { signal: AbortSignal.timeout(5000) }).then((r) => r.ok, () => false)) return { uri, child };
    await new Promise((r) => setTimeout(r, 500));
  }
  stopServer(child);
  fail(`mlflow server did not answer within 180 s:\n${readFileSync(log, 'utf8').slice(-2000)}`);
}

function stopServer(child: ChildProcess): void {
  try {
    process.kill(-child.pid!, 'SIGKILL');
  } catch {
    // Already gone.
  }
}

function tunespec(args: string[], env: NodeJS.ProcessEnv): string {
  const r = spawnSync(process.execPath, [join(ROOT, 'bin', 'tunespec.js'), ...args], { cwd: ROOT, env, encoding: 'utf8', timeout: 900_000 });
  if (r.status !== 0) fail(`tunespec ${args.join(' ')} failed (${r.status ?? r.signal}):\n${r.stderr.slice(-3000)}`);
  return r.stdout;
}

/**
 * A REST read. spawnSync blocked this process while the CLI ran, so the keep-alive socket of the
 * health check may have been closed by the server meanwhile: a failed connection is tried again.
 */
async function getJson<T>(url: string): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(30_000) });
      if (!res.ok) fail(`${url}: ${res.status} ${await res.text()}`);
      return (await res.json()) as T;
    } catch (err) {
      if (attempt === 4) throw err;
      await new Promise((r) => setTimeout(r, 250 * attempt));
    }
  }
}

function urlAfter(text: string, pattern: RegExp, what: string): string {
  return text.match(pattern)?.[1] ?? fail(`no ${what} URL in tunespec's output:\n${text.slice(-2000)}`);
}

/** A PNG of `area` only, at 1× (small files: they are committed). */
async function shoot(page: Page, area: Locator | { x: number; y: number; width: number; height: number }, name: string): Promise<void> {
  await page.mouse.move(0, 0);
  await page.waitForTimeout(800);
  const path = join(OUT, name);
  if ('screenshot' in area) await area.screenshot({ path, animations: 'disabled' });
  else await page.screenshot({ path, clip: area, animations: 'disabled' });
  console.log(`  ${name}  ${(statSync(path).size / 1024).toFixed(0)} KB`);
}

/** Toggle columns in the runs table's *Columns* menu, as a user would to see scores beside the runs. */
async function addColumns(page: Page, names: string[]): Promise<void> {
  await page.getByRole('button', { name: 'Columns' }).click();
  const search = page.getByPlaceholder('Search columns');
  for (const name of names) {
    await search.fill(name);
    await page.getByRole('menuitemcheckbox', { name, exact: true }).or(page.getByText(name, { exact: true })).last().click();
  }
  await page.keyboard.press('Escape');
}

async function main(): Promise<void> {
  const chromium = findChromium() ?? fail('no Chromium: `apt-get install chromium` (Debian), or set TUNESPEC_CHROMIUM');
  if (!existsSync(MLFLOW)) fail('no pinned MLflow server: run `npm run mlflow` (or `bash scripts/setup-mlflow.sh`) once');
  const dir = mkdtempSync(join(tmpdir(), 'tunespec-screenshots-'));
  mkdirSync(OUT, { recursive: true });
  const server = await startServer(dir);
  const stop = () => stopServer(server.child);
  process.once('SIGINT', () => (stop(), process.exit(130)));
  const ui = await openBrowser(chromium);
  try {
    const env = { ...process.env, MLFLOW_TRACKING_URI: server.uri, TUNESPEC_CACHE_DIR: join(dir, 'cache'), FORCE_COLOR: '0' };
    console.log(`screenshots: training ${SPEC} into MLflow at ${server.uri}`);
    const run = tunespec(['run', SPEC, '--runs-dir', join(dir, 'runs')], env);
    const registered = tunespec(['register', 'best', '--spec', SPEC, '--runs-dir', join(dir, 'runs'), '--name', MODEL_NAME], env);
    const parentUrl = urlAfter(run, /^MLflow: sweep logged to (\S+)$/m, 'parent run');
    const experimentUrl = urlAfter(run, /\(experiment: (\S+)\)/, 'experiment');
    const compareUrl = urlAfter(run, /^MLflow: variants side by side at (\S+)$/m, 'comparison');
    const versionUrl = urlAfter(registered, /registered as \S+: (\S+)$/m, 'model version');
    const [experimentId, parentId] = parentUrl.match(/experiments\/(\d+)\/runs\/([0-9a-f]+)/)!.slice(1);
    const parent = await getJson<{ run: { data: { tags: { key: string; value: string }[] } } }>(`${server.uri}/api/2.0/mlflow/runs/get?run_id=${parentId}`);
    const bestRunId = parent.run.data.tags.find((t) => t.key === 'best_run_id')?.value ?? fail('the parent run has no best_run_id tag');
    const children = (run.match(/^\[\d+\/\d+\] .* completed in /gm) ?? []).length;

    const page = await ui.page({ width: 1280, height: 820 });
    const content = { x: 0, y: 0, width: 1280, height: 820 };

    // 1. The runs table, sorted by the kept score (the printed URL), with the score as a column.
    await page.goto(experimentUrl);
    await page.getByText('Sort: kept/val/accuracy').waitFor();
    await closeAssistant(page);
    // The side bar takes a sixth of the width; the pictures are about the page.
    await page.getByRole('button', { name: 'Toggle sidebar' }).click();
    await addColumns(page, ['Dataset', 'Source', 'kept/val/accuracy', 'kept/epoch', 'training.learning_rate']);
    await page.getByRole('columnheader', { name: /kept\/val\/accuracy/ }).first().waitFor();
    await shoot(page, { ...content, height: 390 }, 'runs-table.png');

    // 2. The Chart view, searched for the validation metrics: one line per variant.
    await showCharts(page, '^val/');
    await chartLines(page, 'val/accuracy', children);
    await chartLines(page, 'val/loss', children);
    await shoot(page, { ...content, y: 90, height: 560 }, 'chart-view.png');

    // 3. The parent run: the winner in its description, metrics and tags.
    await page.goto(parentUrl);
    await page.getByText('best/val/accuracy', { exact: true }).waitFor();
    await shoot(page, { ...content, height: 590 }, 'parent-run.png');

    // 4. Compare runs: parallel coordinates of the learning rate against the kept score.
    await page.goto(compareUrl);
    await page.getByText('Parallel Coordinates Plot').first().waitFor();
    await closeAssistant(page);
    // It opens on the first metric by name (train/loss); the kept score is what a sweep compares.
    const metrics = page.locator('.du-bois-light-select').nth(1); // Parameters, then Metrics
    await metrics.locator('.du-bois-light-select-selection-item-remove').click();
    await metrics.click();
    await page.keyboard.type('kept/val/accuracy');
    await page.locator('.du-bois-light-select-item-option[title="kept/val/accuracy"]').click();
    await page.keyboard.press('Escape');
    await metrics.locator('.du-bois-light-select-selection-item', { hasText: 'kept/val/accuracy' }).waitFor();
    await shoot(page, { ...content, height: 620 }, 'compare-runs.png');

    // 5. The best variant's charts, in its run's artifact viewer (which scales them to its width).
    const artifacts = `${server.uri}/#/experiments/${experimentId}/runs/${bestRunId}/artifacts?workflowType=machine_learning`;
    for (const chart of ['learning_curves', 'confusion_matrix']) {
      await page.goto(artifacts);
      await page.getByText(`${chart}.png`, { exact: true }).click();
      const img = page.locator(`img[alt="${chart}.png"]`).first();
      await img.waitFor();
      await img.evaluate((el: HTMLImageElement) => el.decode());
      const box = (await img.boundingBox())!;
      // The file's name and path (the two lines above the chart) and the chart, without the rest of the viewer.
      const top = Math.floor(box.y - 86);
      await shoot(page, { x: Math.floor(box.x - 12), y: top, width: Math.ceil(Math.max(box.width + 24, 600)), height: Math.ceil(box.y + box.height + 12 - top) }, `best-${chart.replace('_', '-')}.png`);
    }

    // 6. The experiment's logged models, and 7. the registered model's version.
    await page.goto(`${server.uri}/#/experiments/${experimentId}/models?workflowType=machine_learning`);
    await page.getByText(/^model-[0-9a-f]{12}$/).first().waitFor();
    await shoot(page, { ...content, height: 320 }, 'logged-models.png');
    await page.goto(versionUrl);
    await page.getByText(MODEL_NAME).first().waitFor();
    await page.waitForTimeout(1500);
    await shoot(page, { ...content, height: 440 }, 'registered-model.png');
  } finally {
    await ui.close();
    stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
