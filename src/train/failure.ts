import { TunespecError } from '../errors.ts';

/** A variant that cannot train with these inputs (a NaN loss): retrying it would fail the same way. */
export class VariantFailure extends TunespecError {
  constructor(message: string) {
    super('VARIANT_FAILED', message);
  }
}

/** Training stopped because the user (or a worker's shutdown) asked it to. */
export class Interrupted extends TunespecError {
  constructor(message: string) {
    super('INTERRUPTED', message);
  }
}
