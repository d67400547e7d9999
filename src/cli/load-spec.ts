import { createHash } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { SpecError, TunespecError, type SpecIssue } from '../errors.ts';
import { locate, parseSpecText, type PathSegment, type SourceDoc } from '../spec/parse.ts';
import { checkStructure, type PathIssue } from '../spec/structure.ts';
import { checkSweep } from '../spec/sweep.ts';
import { checkSemantics, cutIndexOf, type SpecContext } from '../spec/semantic.ts';
import type { DataSpec, Experiment } from '../spec/types.ts';
import { expandGrid, type Plan } from '../plan/expand.ts';
import { loadDataset } from '../data/dataset.ts';
import { readModelFiles, resolveModelLocation, type ModelFiles, type ModelLocation } from '../model/source.ts';
import { listBaseLayers, type LayerInfo } from '../model/topology.ts';
import { planLayers } from '../model/layout.ts';

/** A spec that passed every check, with what was read to check it. */
export interface LoadedSpec {
  file: string;
  dir: string;
  text: string;
  experiment: Experiment;
  model: { location: ModelLocation; files: ModelFiles; layers: LayerInfo[]; cutIndex: number };
  plan: Plan;
}

function dataFiles(data: DataSpec): [PathSegment[], string][] {
  return data.format === 'idx'
    ? [
        [['data', 'images'], data.images],
        [['data', 'labels'], data.labels],
      ]
    : [[['data', 'path'], data.path]];
}

async function exists(p: string): Promise<boolean> {
  return stat(p).then(
    () => true,
    () => false,
  );
}

/** Digest of the bytes a variant's result depends on besides its spec: base weights and data files. */
async function inputsDigest(files: ModelFiles, data: DataSpec, dir: string): Promise<string> {
  const h = createHash('sha256');
  h.update(JSON.stringify(files.json.modelTopology)).update(new Uint8Array(files.weightData));
  for (const [, p] of dataFiles(data)) {
    const full = resolve(dir, p);
    if ((await stat(full)).isFile()) h.update(await readFile(full));
    else h.update(full); // image folders: the data digest of each run covers their contents
  }
  return h.digest('hex');
}

/** Where a variant's issue points: at the sweep value that caused it when a swept path is involved. */
function relocate(issue: PathIssue, overrides: Record<string, unknown>, sweep: Record<string, unknown[]>): PathIssue {
  for (const key of Object.keys(overrides)) {
    if (!issue.path.join('.').startsWith(key)) continue;
    const i = sweep[key].findIndex((v) => JSON.stringify(v) === JSON.stringify(overrides[key]));
    return { path: ['sweep', key, i], message: `sweep.${key}[${i}]: ${issue.message}` };
  }
  return issue;
}

/**
 * Read and check a spec: YAML syntax, schema structure, sweep paths, then semantic checks on every
 * variant against the base model and the data. Every issue of every phase that can run is
 * reported at once, located in the file; nothing is written anywhere.
 */
export async function loadSpec(file: string): Promise<LoadedSpec> {
  const text = await readFile(file, 'utf8').catch((err: NodeJS.ErrnoException) => {
    throw new TunespecError('USAGE', `cannot read spec ${file}: ${err.code === 'ENOENT' ? 'no such file' : err.message}`);
  });
  const parsed = parseSpecText(text, file);
  const fail = (source: SourceDoc, issues: PathIssue[]): never => {
    const located: SpecIssue[] = issues.map((i) => ({ file, ...locate(source, i.path, i.key), message: i.message }));
    located.sort((a, b) => a.line - b.line || a.col - b.col);
    throw new SpecError(located);
  };
  if (parsed.issues.length) throw new SpecError(parsed.issues);
  const raw = structuredClone(parsed.value);
  const structure = checkStructure(parsed.value);
  const sweepIssues = raw && typeof raw === 'object' && !Array.isArray(raw) ? checkSweep(raw as Record<string, unknown>) : [];
  if (!structure.spec || sweepIssues.length) fail(parsed.source, [...structure.issues, ...sweepIssues]);
  const spec = structure.spec!;
  const dir = dirname(resolve(file));

  const issues: PathIssue[] = [];
  const location = resolveModelLocation(spec.base_model.source, dir);
  let files: ModelFiles | undefined;
  let layers: LayerInfo[] | null = null;
  try {
    files = await readModelFiles(location);
    layers = listBaseLayers(files.json);
  } catch (err) {
    if (!(err instanceof TunespecError)) throw err;
    issues.push({ path: ['base_model', 'source'], message: `base_model.source: ${err.message}` });
  }
  let classCount: number | null = spec.data.classes?.length ?? null;
  const missing = [];
  for (const [path, p] of dataFiles(spec.data)) {
    if (!(await exists(resolve(dir, p)))) missing.push({ path, message: `${path.join('.')}: no such file or folder: ${resolve(dir, p)}` });
  }
  issues.push(...missing);
  if (classCount === null && !missing.length) {
    try {
      classCount = (await loadDataset(spec.data, dir)).classLabels.length;
    } catch (err) {
      if (!(err instanceof TunespecError || (err as { code?: string }).code === 'DATA')) throw err;
      issues.push({ path: ['data'], message: `data: ${(err as Error).message}` });
    }
  }

  const plan = expandGrid(raw as Record<string, unknown>, files && !missing.length ? await inputsDigest(files, spec.data, dir) : '');
  const ctx: SpecContext = {
    baseLayers: layers,
    builtLayers: (cut, s) => planLayers(layers!, cut, s.head),
    classCount,
  };
  const sweep = (raw as { sweep?: Record<string, unknown[]> }).sweep ?? {};
  const seen = new Set<string>();
  for (const variant of plan.variants) {
    for (const issue of checkSemantics(variant.spec, ctx)) {
      const placed = relocate(issue, variant.overrides, sweep);
      if (!seen.has(placed.message)) seen.add(placed.message), issues.push(placed);
    }
  }
  if (issues.length) fail(parsed.source, issues);
  const cutIndex = cutIndexOf(spec, layers!)!;
  return { file, dir, text, experiment: spec, model: { location, files: files!, layers: layers!, cutIndex }, plan };
}
