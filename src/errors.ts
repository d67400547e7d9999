// Every failure a user can cause or meet has a stable code; the CLI maps codes to exit codes and
// prints messages, never stack traces (unless --debug).
export class TunespecError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = new.target.name;
  }
}

export interface SpecIssue {
  file: string;
  line: number;
  col: number;
  message: string;
}

export function formatIssue(issue: SpecIssue): string {
  return `${issue.file}:${issue.line}:${issue.col}: ${issue.message}`;
}

export class SpecError extends TunespecError {
  constructor(readonly issues: SpecIssue[]) {
    super('SPEC_INVALID', issues.map(formatIssue).join('\n'));
  }
}

export class UsageError extends TunespecError {
  constructor(message: string) {
    super('USAGE', message);
  }
}

export class ModelError extends TunespecError {
  constructor(
    message: string,
    readonly source?: string,
  ) {
    super('MODEL', message);
  }
}

/** An MLflow request that failed for good: what was asked, what the server said. */
export class TrackingError extends TunespecError {
  constructor(
    message: string,
    readonly endpoint?: string,
    readonly status?: number,
    readonly errorCode?: string,
  ) {
    super('TRACKING', message);
  }
}

/** A broken promise inside tunespec (a bug), not a mistake of the user's: the CLI says so and asks for --debug. */
export class InternalError extends TunespecError {
  constructor(message: string) {
    super('INTERNAL', message);
  }
}

/** An input a command was pointed at that is not what it needs: an unknown variant, an image of the wrong size, a file that is not a model. */
export class InputError extends TunespecError {
  constructor(message: string) {
    super('INPUT', message);
  }
}

/** A run store file that cannot be trusted: unreadable, not JSON, the wrong shape, or a format this tunespec does not read. */
export class StoreError extends TunespecError {
  constructor(
    readonly file: string,
    message: string,
  ) {
    super('STORE', `${file}: ${message}`);
  }
}
