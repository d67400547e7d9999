import type { ErrorObject } from 'ajv';
import { DEFAULT_GENERATION_OBJECTIVE_METRIC, experimentSchema } from './schema.ts';
import { didYouMean, excerpt } from './hints.ts';
import { pointerToPath, type PathSegment } from './parse.ts';
import { specValidator } from './spec-validator.ts';
import type { Experiment } from './types.ts';

/** An issue found in a spec value, before it is tied to a place in a file. */
export interface PathIssue {
  path: PathSegment[];
  /** Point at the key rather than its value (unknown keys). */
  key?: boolean;
  message: string;
}

type JsonSchema = Record<string, any>;

export function label(path: PathSegment[]): string {
  // Keys under sweep are the user's own, of any length.
  return path.length ? excerpt(path.join('.'), 120) : 'spec';
}

const TYPE_NAMES: Record<string, string> = { object: 'a mapping', array: 'a list', integer: 'an integer', string: 'a string', number: 'a number', boolean: 'a boolean' };

/** Patterns are for machines; these say the same thing to people. */
const PATTERN_HINTS: Record<string, string> = {
  [experimentSchema.properties.name.pattern]: 'use 1 to 64 letters, digits, "_", "." or "-", starting with a letter or digit',
  [experimentSchema.properties.tracking.properties.uri.pattern]:
    'use http(s)://host[:port][/prefix] of an MLflow tracking server, with no user or password in it (set MLFLOW_TRACKING_USERNAME/MLFLOW_TRACKING_PASSWORD or MLFLOW_TRACKING_TOKEN instead)',
};

function typeOf(v: unknown): string {
  if (v === null) return 'nothing';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a mapping';
  if (typeof v === 'string') return `the string ${quoted(v)}`;
  if (typeof v === 'number' && !Number.isFinite(v)) return Number.isNaN(v) ? '.nan' : `${v < 0 ? '-' : ''}.inf`;
  return `${typeof v} ${String(v)}`;
}

/** A value from the spec as a message quotes it: as JSON (a string in quotes), cut short. */
export function quoted(v: unknown): string {
  return typeof v === 'string' ? JSON.stringify(excerpt(v)) : excerpt(JSON.stringify(v) ?? String(v));
}

/** Human names for the branches of a oneOf: `{from, to}`, `an integer`, … */
function describeBranch(branch: JsonSchema): string {
  if (branch.type === 'object' && branch.required) return `{${branch.required.join(', ')}}`;
  if (branch.type === 'integer') return 'an integer';
  if (branch.type === 'string') return 'a non-empty string';
  return branch.title ?? branch.type ?? 'a value';
}

function describe(e: ErrorObject): PathIssue {
  const path = pointerToPath(e.instancePath);
  const at = label(path);
  const parent = (e.parentSchema ?? {}) as JsonSchema;
  switch (e.keyword) {
    case 'additionalProperties': {
      const name = String(e.params.additionalProperty);
      const allowed = Object.keys(parent.properties ?? {});
      return {
        path: [...path, name],
        key: true,
        message: `${at}: unknown property ${quoted(name)}${didYouMean(name, allowed)}; allowed: ${allowed.join(', ')}`,
      };
    }
    case 'required':
      return { path, message: `${at}: missing required property "${e.params.missingProperty}"` };
    case 'type': {
      const empty = e.data === null && !path.length ? ' (the file is empty or only has comments)' : '';
      // A key with no value has no value node to point at: point at the key.
      // YAML's .inf and .nan are numbers to JavaScript, but no setting takes them.
      const finite = typeof e.data === 'number' && !Number.isFinite(e.data) && /^(number|integer)$/.test(e.params.type) ? 'a finite ' : '';
      const expected = finite ? `${finite}${e.params.type}` : (TYPE_NAMES[e.params.type] ?? e.params.type);
      return { path, key: e.data === null, message: `${at}: must be ${expected}, got ${typeOf(e.data)}${empty}` };
    }
    case 'minItems':
      return { path, message: `${at}: must have at least ${e.params.limit} item${e.params.limit === 1 ? '' : 's'}, got ${(e.data as unknown[]).length ? `${(e.data as unknown[]).length}` : 'an empty list'}` };
    case 'enum': {
      const allowed = (e.params.allowedValues as unknown[]).map(String);
      const hint = typeof e.data === 'string' ? didYouMean(e.data, allowed) : '';
      return { path, message: `${at}: must be one of ${allowed.join(', ')}; got ${typeOf(e.data)}${hint}` };
    }
    case 'discriminator': {
      const tag = String(e.params.tag);
      if (e.params.error === 'tag') return { path, message: `${at}: missing required property "${tag}"` };
      const values = (parent.oneOf as JsonSchema[]).map((b) => String(b.properties[tag].const));
      const got = String(e.params.tagValue);
      return {
        path: [...path, tag],
        message: `${at}.${tag}: unknown ${tag} ${quoted(got)}${didYouMean(got, values)}; expected one of ${values.join(', ')}`,
      };
    }
    case 'oneOf': {
      const options = (parent.oneOf as JsonSchema[]).map(describeBranch);
      const both = (e.params.passingSchemas ?? []).length > 1 || matchingBranches(parent, e.data).length > 1;
      return { path, message: `${at}: must be ${options.join(' or ')}, ${both ? 'not both' : `got ${typeOf(e.data)}`}` };
    }
    case 'propertyNames':
      return {
        path: [...path, String(e.params.propertyName)],
        key: true,
        message: `${at}: ${quoted(e.params.propertyName)} is not a dotted path such as training.learning_rate or head.1.rate`,
      };
    case 'format':
      return { path, message: `${at}: must be a valid ${e.params.format === 'regex' ? 'regular expression' : e.params.format}` };
    case 'pattern': {
      const hint = PATTERN_HINTS[e.params.pattern];
      // A URL's user:password never reaches a message, even when that is what makes it invalid.
      const shown = quoted(String(e.data).replace(/\/\/[^/@\s]*@/, '//***@'));
      return { path, message: hint ? `${at}: ${shown} is not a valid ${at}: ${hint}` : `${at}: ${typeOf(e.data)} does not match ${e.params.pattern}` };
    }
    case 'uniqueItems':
      return { path: [...path, e.params.i], message: `${at}: duplicate item ${quoted((e.data as unknown[])[e.params.i])}` };
    default:
      return { path, message: `${at}: ${e.message}` };
  }
}

/** Indices of the object branches of a oneOf whose property names the value uses. */
function matchingBranches(parent: JsonSchema, data: unknown): number[] {
  if (!data || typeof data !== 'object' || Array.isArray(data)) return [];
  const keys = Object.keys(data);
  return (parent.oneOf as JsonSchema[]).flatMap((b, i) => (b.properties && keys.some((k) => k in b.properties) ? [i] : []));
}

/**
 * Under a non-discriminated oneOf, errors from branches the user did not mean are noise. When the
 * value's keys pick exactly one branch (`{from: 0}` means the from/to form), that branch's errors
 * are the useful ones; otherwise the oneOf's own summary is.
 */
function dropBranchNoise(errors: ErrorObject[]): ErrorObject[] {
  const keep = new Set<ErrorObject>(errors);
  for (const e of errors.filter((x) => x.keyword === 'oneOf')) {
    const prefix = e.schemaPath + '/';
    const branches = matchingBranches(e.parentSchema as JsonSchema, e.data);
    const chosen = branches.length === 1 ? `${prefix}${branches[0]}/` : undefined;
    const inChosen = chosen ? errors.filter((x) => x.schemaPath.startsWith(chosen)) : [];
    for (const x of errors) if (x.schemaPath.startsWith(prefix) && !inChosen.includes(x)) keep.delete(x);
    if (inChosen.length) keep.delete(e);
  }
  const patternsUnderNames = new Set(errors.filter((e) => e.keyword === 'propertyNames').map((e) => e.instancePath));
  return errors.filter((e) => keep.has(e) && !(e.keyword === 'pattern' && e.propertyName !== undefined && patternsUnderNames.has(e.instancePath)));
}

const isMapping = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

/**
 * Sections that only one task reads. A generation spec's decoder predicts tokens with its own LM
 * head and trains on chat data; the classification fields would be silently ignored there, so
 * they are refused where written. Read from the spec as written: the schema's defaults
 * (training.loss, training.metrics) are no one's choice.
 */
function taskIssues(value: unknown): PathIssue[] {
  if (!isMapping(value)) return [];
  const generation = value.task === 'generation';
  const issues: PathIssue[] = [];
  const refuse = (path: PathSegment[], why: string): void => {
    issues.push({ path, key: true, message: `${path.join('.')}: ${why}` });
  };
  const data = isMapping(value.data) ? value.data : undefined;
  const training = isMapping(value.training) ? value.training : undefined;
  const base = isMapping(value.base_model) ? value.base_model : undefined;
  if (!generation) {
    if (!('head' in value)) issues.push({ path: [], message: 'spec: missing required property "head"' });
    const why = 'is for task: generation (a decoder fine-tuned on prompts and completions); this spec is a classification spec';
    if ('lora' in value) refuse(['lora'], why);
    // A run store's spec.yaml is written with every default filled in, and must read back.
    if ('generation' in value && !isDefaultGeneration(value.generation)) refuse(['generation'], why);
    if (data?.format === 'chat') issues.push({ path: ['data', 'format'], message: 'data.format: chat data (prompts and completions) is for task: generation' });
    if (training && 'gradient_accumulation_steps' in training) refuse(['training', 'gradient_accumulation_steps'], 'is for task: generation');
    return issues;
  }
  if ('head' in value) refuse(['head'], 'a generation spec has no head: the decoder\'s own LM head predicts the next token; remove it (or set task: classification)');
  if (base && 'cut' in base) refuse(['base_model', 'cut'], 'a generation spec keeps the whole decoder; freeze or lora.layers choose what trains');
  if (base && 'preprocess' in base) refuse(['base_model', 'preprocess'], 'image preprocessing means nothing to a decoder');
  if (data && typeof data.format === 'string' && data.format !== 'chat') issues.push({ path: ['data', 'format'], message: `data.format: task: generation trains on prompts and completions (format: chat), not ${data.format} data` });
  // The schema's defaults (categorical_crossentropy, [accuracy]) are let through: a run store's
  // spec.yaml is written with every default filled in, and must read back (register, sync).
  const isDefault = (field: 'loss' | 'metrics', v: unknown) => (field === 'loss' ? v === 'categorical_crossentropy' : Array.isArray(v) && v.length === 1 && v[0] === 'accuracy');
  for (const field of ['loss', 'metrics'] as const) {
    if (training && field in training && !isDefault(field, training[field])) refuse(['training', field], 'a generation spec\'s loss is the completion tokens\' cross-entropy, and its metrics are loss, val_loss and val_perplexity');
  }
  const objective = training && isMapping(training.objective) ? training.objective : undefined;
  const monitor = training && isMapping(training.early_stopping) ? training.early_stopping.monitor : undefined;
  for (const [path, metric] of [[['training', 'objective', 'metric'], objective?.metric], [['training', 'early_stopping', 'monitor'], monitor]] as const) {
    if (metric === 'accuracy' || metric === 'val_accuracy') issues.push({ path: [...path], message: `${path.join('.')}: a generation spec has no ${metric}; use val_loss, val_perplexity or loss` });
  }
  return issues;
}

/** A `generation` section that says nothing but the schema's defaults (no eval prompts). */
function isDefaultGeneration(g: unknown): boolean {
  const defaults = experimentSchema.properties.generation.properties;
  if (!isMapping(g) || Object.keys(g).some((k) => k !== 'eval_prompts' && k !== 'max_new_tokens')) return false;
  return (g.eval_prompts === undefined || (Array.isArray(g.eval_prompts) && g.eval_prompts.length === 0)) && (g.max_new_tokens === undefined || g.max_new_tokens === defaults.max_new_tokens.default);
}

/** Whether a spec as written is a generation spec that names no objective metric (read before the schema's defaults fill one in). */
function wantsGenerationObjective(raw: unknown): boolean {
  if (!isMapping(raw) || raw.task !== 'generation') return false;
  const objective = isMapping(raw.training) && isMapping(raw.training.objective) ? raw.training.objective : undefined;
  return objective?.metric === undefined;
}

/**
 * Check `value` against the schema, filling in defaults in place. Returns the issues, every one of
 * them (ajv allErrors), in document order of their paths.
 */
export function checkStructure(value: unknown): { spec?: Experiment; issues: PathIssue[] } {
  const validate = specValidator();
  const byTask = taskIssues(value);
  const generationObjective = wantsGenerationObjective(value);
  if (validate(value) && !byTask.length) {
    // A generation spec that names no objective ranks by validation loss, not by the classification default.
    if (generationObjective) value.training.objective.metric = DEFAULT_GENERATION_OBJECTIVE_METRIC;
    return { spec: value, issues: [] };
  }
  const described = dropBranchNoise(validate.errors ?? []).map(describe);
  // The missing head joins the schema's own missing properties, in the schema's order.
  const order = Object.keys(experimentSchema.properties);
  const missing = (i: PathIssue): number => {
    const name = /^spec: missing required property "([^"]+)"$/.exec(i.message)?.[1];
    return name === undefined ? -1 : order.indexOf(name);
  };
  const all = [...described, ...byTask];
  const first = all.findIndex((i) => missing(i) >= 0);
  const rest = all.filter((i) => missing(i) < 0);
  const required = all.filter((i) => missing(i) >= 0).sort((a, b) => missing(a) - missing(b));
  const issues = first < 0 ? all : [...rest.slice(0, first), ...required, ...rest.slice(first)];
  const seen = new Set<string>();
  return {
    issues: issues.filter((i) => {
      const k = `${i.key ? 'key' : 'value'} ${i.path.join('.')}\n${i.message}`;
      return seen.has(k) ? false : (seen.add(k), true);
    }),
  };
}
