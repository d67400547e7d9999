import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { tempDir, tunespec, writeSmallSpec } from '../helpers/cli.ts';
import { startMlflow, type MlflowServer } from '../helpers/mlflow-server.ts';
import { readExperiment } from '../helpers/mlflow-read.ts';
import { chartLines, findChromium, openBrowser, showCharts, shownMetrics, type UiBrowser } from '../helpers/mlflow-ui.ts';

/**
 * What a user sees of a tracked sweep in the MLflow UI, asserted from the page in a real browser
 * (headless Chromium) against the pinned server: the URLs tunespec prints open views where the
 * winner is visible. Only a machine without Chromium skips it; `.ci/run` installs Debian's.
 */
const CHROMIUM = findChromium();
const SKIP = CHROMIUM ? false : 'no Chromium installed: `apt-get install chromium` (Debian) or set TUNESPEC_CHROMIUM to a Chromium binary';

let server: MlflowServer;
let ui: UiBrowser;
before(async () => {
  if (!CHROMIUM) return;
  server = await startMlflow();
  ui = await openBrowser(CHROMIUM);
});
after(async () => {
  await ui?.close();
  await server?.stop();
});

test('in the MLflow UI, the printed experiment URL charts every child\'s validation accuracy and the parent run shows the best score', { skip: SKIP }, async () => {
  const dir = tempDir();
  const spec = writeSmallSpec(dir, { name: 'in-the-ui', epochs: 3, sweep: '  training.learning_rate: [0.01, 0.003, 0.001]' });
  const r = tunespec(['run', spec, '--runs-dir', join(dir, 'runs')], dir, { MLFLOW_TRACKING_URI: server.uri });
  assert.equal(r.code, 0, r.stderr);
  const experimentUrl = r.stdout.match(/\(experiment: (http:\/\/\S+)\)/)?.[1];
  const parentUrl = r.stdout.match(/^MLflow: sweep logged to (http:\/\/\S+)$/m)?.[1];
  assert.ok(experimentUrl && parentUrl, r.stdout);

  // What the server holds, read over REST independently of tunespec and of the page.
  const exp = await readExperiment(server.uri, 'in-the-ui');
  const children = exp.runs.filter((x) => x.tags['tunespec.kind'] === 'variant');
  const parent = exp.runs.find((x) => x.tags['tunespec.kind'] === 'sweep')!;
  assert.equal(children.length, 3);
  const kept = (run: (typeof children)[number]) => run.history['kept/val/accuracy'][0].value;
  const best = [...children].sort((a, b) => kept(b) - kept(a))[0];

  // The experiment page as printed, switched to its Chart view and searched for the validation
  // accuracy, as a user would: one line per child, its points those the child logged per epoch.
  const page = await ui.page();
  await page.goto(experimentUrl);
  await page.getByText('Sort: kept/val/accuracy').waitFor();
  await showCharts(page, '^val/accuracy$');
  const lines = await chartLines(page, 'val/accuracy', children.length);
  assert.deepEqual(
    lines.map((l) => ({ run: l.runId, name: l.name, steps: l.x, values: l.y })).sort((a, b) => a.run.localeCompare(b.run)),
    children
      .map((c) => ({ run: c.id, name: c.name, steps: c.history['val/accuracy'].map((p) => p.step), values: c.history['val/accuracy'].map((p) => p.value) }))
      .sort((a, b) => a.run.localeCompare(b.run)),
  );
  assert.deepEqual(lines[0].x, [1, 2, 3]);

  // The parent run's page: the winner's score among its metrics, the winner named in its description.
  await page.goto(parentUrl);
  await page.getByText('best/val/accuracy', { exact: true }).waitFor();
  const shown = await shownMetrics(page, ['best/val/accuracy', 'kept/val/accuracy']);
  assert.equal(Number(shown['best/val/accuracy']), kept(best), JSON.stringify(shown));
  assert.equal(Number(shown['kept/val/accuracy']), kept(best));
  assert.ok(await page.getByText(`Best: ${best.name}, kept/val/accuracy ${kept(best).toFixed(4)}`).isVisible(), `the description names ${best.name}`);
  assert.equal(parent.tags.best_run_id, best.id);
  await page.close();
});
