/**
 * The README's text baselines, measured rather than typed: the training and validation texts of a
 * text spec (default experiments/sentiment.yaml), split by tunespec's own reader and seeded,
 * stratified split, so the baselines see exactly the examples its variants see; then
 * scripts/text_baselines.py fits TF-IDF + logistic regression and a logistic regression on the
 * frozen encoder's mean-pooled sentence vectors (NumPy, scripts/text_reference.py) and prints their
 * validation accuracy. With --write, the table goes between the README's text-baselines markers.
 *
 *   npm run data:text && npm run models:text      # once
 *   npx tsx scripts/text_baselines.ts [SPEC] [--write]
 *
 * Python: .venv-text (scripts/make-text-fixtures.sh makes it) plus scikit-learn, pip-installed
 * into it here when missing.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readSpecDocument } from '../src/app/load-spec.ts';
import { splitDataset } from '../src/data/split.ts';
import { loadTextDataset } from '../src/data/text-dataset.ts';
import { tokenizedDataset } from '../src/data/token-input.ts';
import { loadTokenizer } from '../src/data/tokenize.ts';
import { encoderInputs } from '../src/train/examples.ts';
import { README_FILE, replaceBetween } from './write_schema.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const PYTHON = join(ROOT, '.venv-text', 'bin', 'python');

interface Baseline {
  name: string;
  val_accuracy: number;
  train: number;
  validation: number;
  seconds: number;
  detail: string;
}

function python(args: string[]): string {
  const r = spawnSync(PYTHON, args, { cwd: ROOT, encoding: 'utf8', maxBuffer: 64 << 20 });
  if (r.status !== 0) throw new Error(`${PYTHON} ${args.join(' ')} exited ${r.status}:\n${r.stderr}`);
  return r.stdout;
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const specFile = args.find((a) => !a.startsWith('--')) ?? 'experiments/sentiment.yaml';
  const { experiment: spec } = await readSpecDocument(specFile);
  if (spec.data.format !== 'text') throw new Error(`${specFile}: data.format is ${spec.data.format}, not text`);
  const swept = Object.keys((spec as { sweep?: Record<string, unknown> }).sweep ?? {}).filter((k) => /^(data|validation|base_model)\./.test(k));
  if (swept.length) throw new Error(`${specFile} sweeps ${swept.join(', ')}: the baselines need one data set and one split`);
  const dir = dirname(resolve(specFile));
  const source = spec.base_model.source;
  if (/^[a-z]+:\/\//i.test(source)) throw new Error(`${specFile}: base_model.source ${source} is not a local folder`);
  const folder = isAbsolute(source) ? source : resolve(dir, source);
  if (!existsSync(join(folder, 'model.safetensors'))) throw new Error(`${folder} has no model.safetensors (npm run models:text)`);

  const data = await loadTextDataset(spec.data, dir);
  // Split as a run splits: the tokenized data's digest, so the split digest is the one status.json records.
  const modelType = JSON.parse(readFileSync(join(folder, 'config.json'), 'utf8')).model_type;
  const tokenized = tokenizedDataset(data, await loadTokenizer(folder), spec.data.max_length, encoderInputs(modelType));
  const split = splitDataset(tokenized.labels, spec.validation, tokenized.digest);
  const rows = (indexes: Int32Array) => ({ texts: [...indexes].map((i) => data.texts[i]), labels: [...indexes].map((i) => data.labels[i]) });

  if (!existsSync(PYTHON)) throw new Error(`${PYTHON} is missing: bash scripts/make-text-fixtures.sh makes .venv-text`);
  if (spawnSync(PYTHON, ['-c', 'import sklearn, scipy']).status !== 0) python(['-m', 'pip', 'install', '--quiet', '--disable-pip-version-check', 'scikit-learn>=1.5']);
  const work = mkdtempSync(join(tmpdir(), 'tunespec-text-baselines-'));
  try {
    const input = join(work, 'split.json');
    writeFileSync(input, JSON.stringify({ model: folder, max_length: spec.data.max_length, class_names: data.classNames, train: rows(split.train), validation: rows(split.validation) }));
    const results: Baseline[] = JSON.parse(python([join(ROOT, 'scripts', 'text_baselines.py'), input]));
    const table = [
      '| baseline | validation accuracy | fit |',
      '|---|---|---|',
      ...results.map((b) => `| ${b.name} | ${b.val_accuracy.toFixed(3)} | ${b.detail} |`),
      '',
      `Measured by \`npx tsx scripts/text_baselines.ts ${specFile}\` on the same ${results[0].train} training and ${results[0].validation} validation`,
      `sentences as the sweep (tunespec's reader and split, split digest \`${split.digest.slice(0, 12)}\`), with scikit-learn; the encoder`,
      'vectors come from the NumPy implementation in `scripts/text_reference.py`, not from tunespec.',
    ].join('\n');
    console.log(table);
    if (args.includes('--write')) {
      writeFileSync(README_FILE, replaceBetween(readFileSync(README_FILE, 'utf8'), 'text-baselines', table));
      console.log('wrote README.md');
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

await main();
