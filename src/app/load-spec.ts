import { createHash } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { dirname, isAbsolute, relative, resolve } from 'node:path';
import { SpecError, TunespecError, UsageError, type SpecIssue } from '../errors.ts';
import { dottedToPath, locate, parseSpecText, type PathSegment, type SourceDoc } from '../spec/parse.ts';
import { checkStructure, type PathIssue } from '../spec/structure.ts';
import { checkSweep } from '../spec/sweep.ts';
import { checkSemantics, checkWarnings, cutIndexOf, UNCHECKED_FIELDS, type SpecContext } from '../spec/semantic.ts';
import type { ChatDataSpec, DataSpec, Experiment } from '../spec/types.ts';
import { objectiveOf, type Objective } from '../spec/derived.ts';
import { expandGrid, type Plan } from '../plan/expand.ts';
import { loadClassSummary } from '../data/dataset.ts';
import { DataError } from '../data/errors.ts';
import { pathKind } from '../data/readers/files.ts';
import { resolveModelLocation, type BaseModel, type ModelLocation } from '../model/source.ts';
import { FAMILIES, familyFor } from '../model/families/index.ts';
import { readChatFile } from '../data/readers/chat.ts';
import { taskOf } from '../spec/derived.ts';
import { hashBaseModel, recordableSpec } from '../model/recorded-spec.ts';
import { redactUrl } from '../net/redact.ts';
import type { LayerInfo } from '../model/topology.ts';
import { planLayers } from '../model/layout.ts';

/** A spec that passed every check, with what was read to check it. */
export interface LoadedSpec {
  file: string;
  dir: string;
  text: string;
  experiment: Experiment;
  /** What the sweep ranks its variants by, its direction resolved. */
  objective: Objective;
  model: LoadedBase;
  plan: Plan;
  /** How many examples a data section (the spec's or a variant's) holds after class selection, as read to check it. */
  examplesIn(data: DataSpec): number | undefined;
  /** Findings that may be intended (a spec that overrides the base model's saved trainable flags), located; the spec passed. */
  warnings: SpecIssue[];
}

/** The base model as read, and where each variant cuts it. */
export interface LoadedBase {
  location: ModelLocation;
  base: BaseModel;
  layers: LayerInfo[];
  /** The unswept spec's cut. */
  cutIndex: number;
  /** Each variant's cut (a sweep may move it), by variant id. */
  cutIndexes: ReadonlyMap<string, number>;
}

function dataFiles(data: DataSpec): [PathSegment[], string][] {
  return data.format === 'idx'
    ? [
        [['data', 'images'], data.images],
        [['data', 'labels'], data.labels],
      ]
    : [[['data', 'path'], data.path]];
}

/** Paths in messages as the user would type them: relative to where they ran tunespec. */
function shown(p: string): string {
  const rel = relative(process.cwd(), p);
  return rel.startsWith('..') || isAbsolute(rel) ? p : rel;
}

function withShownPaths(message: string, paths: string[]): string {
  return paths.reduce((m, p) => m.split(p).join(shown(p)), message);
}

/** Digest of the bytes a variant's result depends on besides its spec: base weights and data files. */
async function inputsDigest(base: BaseModel, data: DataSpec, dir: string): Promise<string> {
  const h = hashBaseModel(createHash('sha256'), base);
  for (const [, p] of dataFiles(data)) {
    const full = resolve(dir, p);
    if ((await stat(full)).isFile()) h.update(await readFile(full));
    else h.update(full); // image folders: the data digest of each run covers their contents
  }
  return h.digest('hex');
}

function samePrefix(a: PathSegment[], b: PathSegment[]): boolean {
  const n = Math.min(a.length, b.length);
  for (let k = 0; k < n; k++) if (String(a[k]) !== String(b[k])) return false;
  return true;
}

/**
 * Where a variant's issue points: at the sweep value that caused it. That is the swept path the
 * issue is about (one contains the other), else the first swept value that differs from the
 * spec's own, for an issue the unswept spec does not have (a swept cut that drops a frozen layer).
 */
function relocate(issue: PathIssue, overrides: Record<string, unknown>, sweep: Record<string, unknown[]>, raw: unknown, ownIssue: boolean): PathIssue {
  const keys = Object.keys(overrides);
  const related =
    keys.find((k) => samePrefix(dottedToPath(k), issue.path)) ??
    (ownIssue ? undefined : keys.find((k) => JSON.stringify(getAtPath(raw, dottedToPath(k))) !== JSON.stringify(overrides[k])));
  if (related === undefined) return issue;
  const i = sweep[related].findIndex((v) => JSON.stringify(v) === JSON.stringify(overrides[related]));
  return { path: ['sweep', related, i], message: `sweep.${related}[${i}]: ${issue.message}` };
}

function getAtPath(doc: unknown, path: PathSegment[]): unknown {
  return path.reduce<any>((node, seg) => (node == null ? undefined : node[seg]), doc);
}

/** A spec file whose YAML, structure and sweep paths check out: nothing else was read. */
export interface SpecDocument {
  text: string;
  source: SourceDoc;
  /** The document as written, before the schema's defaults. */
  raw: Record<string, unknown>;
  experiment: Experiment;
}

function locateAll(file: string, source: SourceDoc, issues: PathIssue[]): SpecIssue[] {
  return issues.map((i) => ({ file, ...locate(source, i.path, i.key), message: i.message })).sort((a, b) => a.line - b.line || a.col - b.col);
}

function fail(file: string, source: SourceDoc, issues: PathIssue[]): never {
  throw new SpecError(locateAll(file, source, issues));
}

/**
 * Read a spec and check what needs no base model or data: YAML syntax, schema structure and sweep
 * paths, every issue located in the file. Enough for what only needs the spec's own fields (the
 * objective of `predict best`).
 */
export async function readSpecDocument(file: string): Promise<SpecDocument> {
  const text = await readFile(file, 'utf8').catch((err: NodeJS.ErrnoException) => {
    throw new UsageError(`cannot read spec ${file}: ${err.code === 'ENOENT' ? 'no such file' : err.message}`);
  });
  const parsed = parseSpecText(text, file);
  if (parsed.issues.length) throw new SpecError(parsed.issues);
  const raw = structuredClone(parsed.value);
  const structure = checkStructure(parsed.value);
  const sweepIssues = raw && typeof raw === 'object' && !Array.isArray(raw) ? checkSweep(raw as Record<string, unknown>) : [];
  if (!structure.spec || sweepIssues.length) fail(file, parsed.source, [...structure.issues, ...sweepIssues]);
  return { text, source: parsed.source, raw: raw as Record<string, unknown>, experiment: structure.spec! };
}

/**
 * Read and check a spec: YAML syntax, schema structure, sweep paths, then semantic checks on every
 * variant against the base model and the data. Every issue of every phase that can run is
 * reported at once, located in the file; nothing is written anywhere.
 */
export async function loadSpec(file: string): Promise<LoadedSpec> {
  const { text, source, raw, experiment: spec } = await readSpecDocument(file);
  const dir = dirname(resolve(file));

  const issues: PathIssue[] = [];
  const location = resolveModelLocation(spec.base_model.source, dir);
  let base: BaseModel | undefined;
  let layers: LayerInfo[] | null = null;
  const generation = taskOf(spec) === 'generation';
  try {
    // A generation spec's base is a Llama decoder whatever its name looks like (a folder or a .gguf).
    ({ base, layers } = await (generation ? FAMILIES.llama : familyFor(spec.base_model.source)).load(location));
  } catch (err) {
    if (!(err instanceof TunespecError)) throw err;
    const p = location.kind === 'file' ? [location.path, resolve(dirname(location.path), 'weights.bin')] : [];
    issues.push({ path: ['base_model', 'source'], message: `base_model.source: ${withShownPaths(err.message, p)}` });
  }
  const missing: PathIssue[] = [];
  for (const [path, p] of dataFiles(spec.data)) {
    if (/^[a-z][a-z0-9+.-]*:\/\//i.test(p)) missing.push({ path, message: `${path.join('.')}: ${redactUrl(p)} is a URL; data is read from local files and folders` });
    else if (!(await pathKind(resolve(dir, p)))) missing.push({ path, message: `${path.join('.')}: no such file or folder: ${shown(resolve(dir, p))}` });
  }
  issues.push(...missing);
  // Classes come from the data itself, per distinct data section (a sweep may change it); names
  // are left to the semantic check so their mismatch is reported at class_names.
  const classCounts = new Map<string, number | null>();
  const exampleCounts = new Map<string, number>();
  const classCountOf = async (data: DataSpec): Promise<number | null> => {
    const key = JSON.stringify(data);
    if (!classCounts.has(key)) {
      let count: number | null = null;
      if (!missing.length && (data as { format: string }).format === 'chat') {
        // Chat data has no classes; its lines are checked here so that validate names a bad one.
        try {
          await readChatFile(resolve(dir, (data as unknown as ChatDataSpec).path));
        } catch (err) {
          if (!(err instanceof DataError)) throw err;
          issues.push({ path: ['data', 'path'], message: `data.path: ${withShownPaths(err.message, [resolve(dir, (data as unknown as ChatDataSpec).path)])}` });
        }
      } else if (!missing.length) {
        try {
          const summary = await loadClassSummary({ ...data, class_names: undefined }, dir);
          count = summary.classLabels.length;
          exampleCounts.set(key, summary.examples);
        } catch (err) {
          if (!(err instanceof DataError)) throw err;
          // A listed class without examples is pointed at in the list; other data problems at `data`.
          const index = err.label === undefined ? -1 : (data.classes ?? []).indexOf(err.label);
          const at: PathSegment[] = index >= 0 ? ['data', 'classes', index] : ['data'];
          issues.push({ path: at, message: `${at.slice(0, 2).join('.')}: ${withShownPaths(err.message, dataFiles(data).map(([, p]) => resolve(dir, p)))}` });
        }
      }
      classCounts.set(key, count);
    }
    return classCounts.get(key)!;
  };

  // From here on the spec is the one that is recorded and printed: URLs without their secrets.
  const recorded = recordableSpec(raw as Record<string, unknown>, base);
  const plan = expandGrid(recorded, base && !missing.length ? await inputsDigest(base, spec.data, dir) : '');
  const context = async (s: Experiment): Promise<SpecContext> => {
    const built = new Map<number, ReturnType<typeof planLayers>>();
    return {
      baseLayers: layers,
      baseFormat: base?.format ?? null,
      maxTokens: base?.format === 'hf' ? (base.maxTokens ?? null) : null,
      builtLayers: (cut, v) => {
        if (v !== s) return planLayers(layers!, cut, v.head);
        if (!built.has(cut)) built.set(cut, planLayers(layers!, cut, v.head));
        return built.get(cut)!;
      },
      classCount: await classCountOf(s.data),
    };
  };
  const specContext = await context(spec);
  const own = new Set(checkSemantics(spec, specContext).map((i) => i.message));
  const ownWarnings = new Set(checkWarnings(spec, specContext).map((i) => i.message));
  const sweep = (recorded as { sweep?: Record<string, unknown[]> }).sweep ?? {};
  const seen = new Set<string>();
  const warnings = new Map<string, PathIssue>();
  // Variants that differ only in fields no semantic check reads get the same findings: checked once.
  const findings = new Map<string, { issues: PathIssue[]; warnings: PathIssue[] }>();
  const checked = Object.keys(sweep).filter((k) => !UNCHECKED_FIELDS.has(k));
  for (const variant of plan.variants) {
    const key = checked.length ? JSON.stringify(checked.map((k) => variant.overrides[k])) : '';
    let found = findings.get(key);
    if (!found) {
      const ctx = await context(variant.spec);
      found = { issues: checkSemantics(variant.spec, ctx), warnings: checkWarnings(variant.spec, ctx) };
      findings.set(key, found);
    }
    for (const issue of found.issues) {
      const placed = relocate(issue, variant.overrides, sweep, recorded, own.has(issue.message));
      if (!seen.has(placed.message)) seen.add(placed.message), issues.push(placed);
    }
    for (const warning of found.warnings) {
      const placed = relocate(warning, variant.overrides, sweep, recorded, ownWarnings.has(warning.message));
      if (!warnings.has(placed.message)) warnings.set(placed.message, placed);
    }
  }
  if (issues.length) fail(file, source, [...new Map(issues.map((i) => [i.message, i])).values()]);
  // Every cut exists: the semantic checks passed.
  const cutOf = (s: Experiment): number => cutIndexOf(s, layers!)!;
  const cutIndexes = new Map(plan.variants.map((v) => [v.id, cutOf(v.spec)]));
  const model = { location, base: base!, layers: layers!, cutIndex: cutOf(spec), cutIndexes };
  return {
    file,
    dir,
    text,
    experiment: spec,
    objective: objectiveOf(spec.training.objective),
    model,
    plan,
    examplesIn: (data) => exampleCounts.get(JSON.stringify(data)),
    warnings: locateAll(file, source, [...warnings.values()]),
  };
}
