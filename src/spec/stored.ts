import { parse } from 'yaml';
import { checkStructure } from './structure.ts';
import type { Experiment } from './types.ts';

/**
 * A spec tunespec wrote itself (a run store's spec.yaml, a queued job's spec): already checked
 * when it ran, so only its structure is checked again, which also applies the schema's defaults.
 * Undefined when the text is not a valid spec (hand-edited, or written by another version).
 */
export function parseStoredSpec(text: string): Experiment | undefined {
  try {
    return checkStructure(parse(text)).spec;
  } catch {
    return undefined; // YAML syntax: as unusable as a structure error
  }
}
