import AjvModule, { type ErrorObject, type ValidateFunction } from 'ajv';
import { experimentSchema } from './schema.ts';
import { didYouMean } from './hints.ts';
import { pointerToPath, type PathSegment } from './parse.ts';
import type { Experiment } from './types.ts';

/** An issue found in a spec value, before it is tied to a place in a file. */
export interface PathIssue {
  path: PathSegment[];
  /** Point at the key rather than its value (unknown keys). */
  key?: boolean;
  message: string;
}

type JsonSchema = Record<string, any>;

const Ajv = AjvModule.default ?? AjvModule;
let compiled: ValidateFunction<Experiment> | undefined;

function validator(): ValidateFunction<Experiment> {
  if (!compiled) {
    const ajv = new Ajv({ allErrors: true, useDefaults: true, discriminator: true, verbose: true, strict: true, strictRequired: false });
    ajv.addFormat('regex', (s: string) => {
      try {
        new RegExp(s);
        return true;
      } catch {
        return false;
      }
    });
    compiled = ajv.compile<Experiment>(experimentSchema);
  }
  return compiled;
}

export function label(path: PathSegment[]): string {
  return path.length ? path.join('.') : 'spec';
}

function typeOf(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a mapping';
  if (typeof v === 'string') return `the string ${JSON.stringify(v)}`;
  return `${typeof v} ${String(v)}`;
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
        message: `${at}: unknown property "${name}"${didYouMean(name, allowed)}; allowed: ${allowed.join(', ')}`,
      };
    }
    case 'required':
      return { path, message: `${at}: missing required property "${e.params.missingProperty}"` };
    case 'type':
      return { path, message: `${at}: must be ${e.params.type === 'integer' ? 'an integer' : `a ${e.params.type}`}, got ${typeOf(e.data)}` };
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
        message: `${at}.${tag}: unknown ${tag} "${got}"${didYouMean(got, values)}; expected one of ${values.join(', ')}`,
      };
    }
    case 'oneOf': {
      const options = (parent.oneOf as JsonSchema[]).map(describeBranch);
      return { path, message: `${at}: must be ${options.join(' or ')}, got ${typeOf(e.data)}` };
    }
    case 'propertyNames':
      return {
        path: [...path, String(e.params.propertyName)],
        key: true,
        message: `${at}: "${e.params.propertyName}" is not a dotted path such as training.learning_rate or head.1.rate`,
      };
    case 'format':
      return { path, message: `${at}: must be a valid ${e.params.format === 'regex' ? 'regular expression' : e.params.format}` };
    case 'pattern':
      return { path, message: `${at}: ${typeOf(e.data)} does not match ${e.params.pattern}` };
    case 'uniqueItems':
      return { path: [...path, e.params.j], message: `${at}: duplicate item ${JSON.stringify((e.data as unknown[])[e.params.j])}` };
    default:
      return { path, message: `${at}: ${e.message}` };
  }
}

/** Errors under a non-discriminated oneOf are about branches the user did not mean; keep the oneOf's own. */
function dropBranchNoise(errors: ErrorObject[]): ErrorObject[] {
  const oneOfs = errors.filter((e) => e.keyword === 'oneOf').map((e) => e.schemaPath + '/');
  const patternsUnderNames = new Set(errors.filter((e) => e.keyword === 'propertyNames').map((e) => e.instancePath));
  return errors.filter(
    (e) =>
      !oneOfs.some((p) => e.schemaPath.startsWith(p)) &&
      !(e.keyword === 'pattern' && e.propertyName !== undefined && patternsUnderNames.has(e.instancePath)),
  );
}

/**
 * Check `value` against the schema, filling in defaults in place. Returns the issues, every one of
 * them (ajv allErrors), in document order of their paths.
 */
export function checkStructure(value: unknown): { spec?: Experiment; issues: PathIssue[] } {
  const validate = validator();
  if (validate(value)) return { spec: value, issues: [] };
  const issues = dropBranchNoise(validate.errors ?? []).map(describe);
  const seen = new Set<string>();
  return {
    issues: issues.filter((i) => {
      const k = JSON.stringify(i);
      return seen.has(k) ? false : (seen.add(k), true);
    }),
  };
}
