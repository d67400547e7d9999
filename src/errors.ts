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

/** A finding that may be intended: located like an issue, but the spec still passes. */
export function formatWarning(issue: SpecIssue): string {
  return formatIssue({ ...issue, message: `warning: ${issue.message}` });
}

/** Past this many, a file's issues are counted, not listed: the first ones are what to fix, and output stays bounded. */
export const MAX_LISTED_ISSUES = 50;

/** One line per issue, at most MAX_LISTED_ISSUES of each file, then a line that counts the rest. */
export function formatIssues(issues: readonly SpecIssue[]): string {
  const listed = new Map<string, number>();
  const lines: string[] = [];
  for (const issue of issues) {
    const n = (listed.get(issue.file) ?? 0) + 1;
    listed.set(issue.file, n);
    if (n <= MAX_LISTED_ISSUES) lines.push(formatIssue(issue));
  }
  for (const [file, n] of listed) {
    if (n > MAX_LISTED_ISSUES) lines.push(`${file}: and ${n - MAX_LISTED_ISSUES} more issue${n - MAX_LISTED_ISSUES === 1 ? '' : 's'} (the first ${MAX_LISTED_ISSUES} are listed)`);
  }
  return lines.join('\n');
}

export class SpecError extends TunespecError {
  constructor(readonly issues: SpecIssue[]) {
    super('SPEC_INVALID', formatIssues(issues));
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
