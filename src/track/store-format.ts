import { readFile } from 'node:fs/promises';
import AjvModule, { type ErrorObject, type ValidateFunction } from 'ajv';
import type { FromSchema } from 'json-schema-to-ts';
import { StoreError } from '../errors.ts';

/**
 * The run store's on-disk format: its version, its JSON schema (published as
 * schemas/run-store.schema.json by `npm run schema`) and the one reader every command and the
 * bench go through. The variant record (status.json) and the sweep record (sweep.json) carry the
 * version as `format`; the other files of a variant folder are read at their record's version.
 * A record without `format` was written before the store was versioned: format 1, the same layout
 * as format 2, which only adds the stamp. Format 3 moves a text variant's tokenizer files from
 * `model/` to the variant's top level, beside `model.onnx`; readers look in both places. A store
 * from a newer tunespec is refused, never guessed at.
 */
export const STORE_FORMAT = 3;

const text = { type: 'string' } as const;
const count = { type: 'integer', minimum: 0 } as const;
/** A metric as JSON holds it: NaN and infinities (a diverged loss) are written as null. */
const metric = { type: ['number', 'null'] } as const;
const format = {
  type: 'integer',
  minimum: 1,
  maximum: STORE_FORMAT,
  description: `Run store format. Absent in stores written before the format was versioned (format 1).`,
} as const;

const variantRecord = {
  description: 'status.json: one attempt of one variant, written last, when the attempt ends.',
  type: 'object',
  required: ['status', 'variant', 'label', 'sweep', 'attempt', 'seconds', 'started', 'finished'],
  properties: {
    format,
    status: { enum: ['completed', 'failed', 'interrupted', 'skipped'] },
    reason: text,
    variant: text,
    label: text,
    sweep: text,
    attempt: text,
    seconds: { type: 'number' },
    started: text,
    finished: text,
    engine: { type: 'object', required: ['name'], properties: { name: text, reason: text, version: text } },
    featureCache: {
      type: 'object',
      required: ['status', 'detail'],
      properties: { status: { enum: ['hit', 'miss', 'off'] }, detail: text, boundary: text, engine: text, seconds: { type: 'number' }, savedSeconds: { type: 'number' } },
    },
    onnx: {
      type: 'object',
      properties: {
        parity: {
          type: 'object',
          required: ['rows'],
          properties: {
            rows: count,
            maxAbsDiff: metric,
            argmaxAgreement: metric,
            // The rows ran the layers after this one on its cached features; `whole` ran the whole model on the first rows.
            part: text,
            whole: { type: 'object', required: ['rows'], properties: { rows: count, maxAbsDiff: metric, argmaxAgreement: metric } },
          },
        },
        skipped: text,
      },
    },
    split: { type: 'object', required: ['train', 'validation', 'digest'], properties: { train: count, validation: count, digest: text } },
    data: { type: 'object', required: ['digest', 'classNames'], properties: { digest: text, classNames: { type: 'array', items: text }, truncated: count, dropped: count } },
    model: {
      type: 'object',
      description: 'A generation variant\'s model: its name (ft:<base-name>:<experiment>:<variant-id>), its base, and the sub-folder holding it merged.',
      required: ['name', 'task', 'base', 'folder'],
      properties: { name: text, task: { enum: ['generation'] }, base: { type: 'object', required: ['name', 'source'], properties: { name: text, source: text } }, folder: text },
    },
  },
} as const;

const sweepRecord = {
  description: 'sweep.json: the plan of one sweep, written when it starts and again when it ends.',
  type: 'object',
  required: ['sweep', 'experiment', 'spec', 'variants', 'started'],
  properties: {
    format,
    sweep: text,
    experiment: text,
    spec: text,
    variants: { type: 'array', items: { type: 'object', required: ['id', 'label', 'overrides'], properties: { id: text, label: text, overrides: { type: 'object' } } } },
    started: text,
    finished: text,
    provenance: { type: 'object', required: ['source', 'user'], properties: { source: text, user: text, git: { type: 'object', required: ['commit', 'dirty'], properties: { commit: text, branch: text, repoURL: text, dirty: { type: 'boolean' } } } } },
  },
} as const;

const resultRecord = {
  description: "result.json: the kept weights' final validation metrics and confusion matrix.",
  type: 'object',
  required: ['metrics'],
  properties: {
    metrics: { type: 'object', additionalProperties: metric },
    confusion: { type: 'array', items: { type: 'array', items: count } },
    class_names: { type: 'array', items: text },
  },
} as const;

const paramsRecord = {
  description: 'params.json: the resolved variant spec as flat `dotted.key: value` strings.',
  type: 'object',
  additionalProperties: text,
} as const;

const epochRecord = {
  description: 'One line of metrics.jsonl: an epoch (from 1), when it ended (epoch milliseconds), and its metrics.',
  type: 'object',
  required: ['epoch', 'timestamp'],
  properties: { epoch: { type: 'integer', minimum: 1 }, timestamp: { type: 'number' } },
  additionalProperties: metric,
} as const;

export const runStoreSchema = {
  $schema: 'http://json-schema.org/draft-07/schema#',
  $id: 'https://tunespec.dev/schemas/run-store.schema.json',
  title: 'tunespec run store',
  description: `The files of runs/<experiment>/<sweep-id>/[<variant-id>/], format ${STORE_FORMAT}.`,
  definitions: { status: variantRecord, sweep: sweepRecord, result: resultRecord, params: paramsRecord, epoch: epochRecord },
} as const;

export type StoreFileKind = keyof typeof runStoreSchema.definitions;

/** Whether an object type names any field besides an index signature. */
type HasNamedFields<T> = keyof { [K in keyof T as string extends K ? never : K]: 0 } extends never ? false : true;

/**
 * FromSchema gives every object without `additionalProperties` an open `[x: string]: unknown`. A
 * record with named fields is read through those alone, so that signature goes: interfaces
 * (Provenance, FeatureCacheReport) stay assignable and a misspelt field is a type error. Maps
 * (metrics, params, a variant's overrides) keep theirs.
 */
type NamedFields<T> = T extends readonly (infer U)[]
  ? NamedFields<U>[]
  : T extends object
    ? HasNamedFields<T> extends true
      ? { [K in keyof T as string extends K ? (unknown extends T[K] ? never : K) : K]: NamedFields<T[K]> }
      : T
    : T;

/** The record of each kind as its schema checks it: the store's TypeScript types come from here, written nowhere else. */
type StoreRecordMap = { [K in StoreFileKind]: NamedFields<FromSchema<(typeof runStoreSchema.definitions)[K]>> };
// An interface, so that StoreRecord<K> for a generic K stays an indexed access rather than FromSchema of a union.
interface StoreRecords extends StoreRecordMap {}
export type StoreRecord<K extends StoreFileKind> = StoreRecords[K];

/** The name a file of each kind has in the store, for messages. */
const FILE_NAMES: Record<StoreFileKind, string> = { status: 'status.json', sweep: 'sweep.json', result: 'result.json', params: 'params.json', epoch: 'metrics.jsonl' };

const Ajv = AjvModule.default ?? AjvModule;
let validators: Record<StoreFileKind, ValidateFunction> | undefined;

function validatorOf(kind: StoreFileKind): ValidateFunction {
  if (!validators) {
    const ajv = new Ajv({ allErrors: true, strict: true, allowUnionTypes: true });
    ajv.addSchema(runStoreSchema);
    const of = (k: StoreFileKind): ValidateFunction => ajv.getSchema(`${runStoreSchema.$id}#/definitions/${k}`)!;
    validators = { status: of('status'), sweep: of('sweep'), result: of('result'), params: of('params'), epoch: of('epoch') };
  }
  return validators[kind];
}

/** ajv's errors in a few words: the missing fields, then the first few wrong ones. */
function describe(errors: ErrorObject[]): string {
  const missing = errors.filter((e) => e.keyword === 'required').map((e) => `${e.instancePath.slice(1).replace(/\//g, '.')}${e.instancePath ? '.' : ''}${e.params.missingProperty}`);
  const wrong = errors.filter((e) => e.keyword !== 'required').map((e) => `${e.instancePath.slice(1).replace(/\//g, '.') || 'the record'} ${e.message ?? 'is invalid'}`);
  return [...(missing.length ? [`missing ${missing.join(', ')}`] : []), ...wrong.slice(0, 3)].join('; ');
}

/** What a record says about its format: absent is 1; a newer one than this tunespec reads is refused. */
export function formatOf(value: unknown, file: string): number {
  const stamped = value !== null && typeof value === 'object' ? (value as { format?: unknown }).format : undefined;
  if (stamped === undefined) return 1;
  if (typeof stamped === 'number' && Number.isInteger(stamped) && stamped > STORE_FORMAT) {
    throw new StoreError(
      file,
      `run store format ${stamped}, written by a newer tunespec; this one reads formats 1 to ${STORE_FORMAT}: upgrade tunespec, or give this one a run store of its own (--runs-dir)`,
    );
  }
  return typeof stamped === 'number' ? stamped : NaN;
}

/**
 * One store file's text as the record it holds, checked against the schema of its format (the
 * record's own stamp for status and sweep records, the variant's for the files beside it).
 * Anything else (not JSON, a wrong shape, a newer format) is an error naming the file.
 */
export function parseStoreFile<K extends StoreFileKind>(kind: K, file: string, content: string, variantFormat = STORE_FORMAT): StoreRecord<K> {
  let value: unknown;
  try {
    value = JSON.parse(content);
  } catch (err) {
    throw new StoreError(file, `not valid JSON (${(err as Error).message}); the run store is damaged here: repair the file, or move its folder out of the run store`);
  }
  const version = kind === 'status' || kind === 'sweep' ? formatOf(value, file) : variantFormat;
  const validate = validatorOf(kind);
  if (!validate(value)) {
    const stamp = Number.isNaN(version) ? 'an unknown format' : `format ${version}`;
    throw new StoreError(file, `not a valid ${FILE_NAMES[kind]} (run store ${stamp}): ${describe(validate.errors ?? [])}`);
  }
  return value as StoreRecord<K>;
}

/** The lines of metrics.jsonl, each checked; a bad line is named by its number. */
export function parseEpochLines(file: string, content: string, variantFormat = STORE_FORMAT): StoreRecord<'epoch'>[] {
  return content.split('\n').flatMap((line, i) => (line.trim() ? [parseStoreFile('epoch', `${file}:${i + 1}`, line, variantFormat)] : []));
}

/** A store file's text, or undefined when there is no such file; any other failure to read it is an error naming it. */
export async function readStoreText(file: string): Promise<string | undefined> {
  try {
    return await readFile(file, 'utf8');
  } catch (err) {
    // ENOTDIR: a path under a file (a stray file where a variant folder would be) holds nothing either.
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
    throw new StoreError(file, `cannot read: ${(err as Error).message}`);
  }
}

/** A store file as the record it holds, or undefined when it is absent (and only then). */
export async function readStoreFile<K extends StoreFileKind>(kind: K, file: string, variantFormat?: number): Promise<StoreRecord<K> | undefined> {
  const content = await readStoreText(file);
  return content === undefined ? undefined : parseStoreFile(kind, file, content, variantFormat);
}
