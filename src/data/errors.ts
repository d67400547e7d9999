// Every problem with the user's data surfaces as a DataError so the CLI can print it as a spec
// mistake (file, line, what is wrong) instead of a stack trace.

function locate(message: string, file?: string, row?: number): string {
  if (file === undefined) return message;
  return row === undefined ? `${file}: ${message}` : `${file}:${row}: ${message}`;
}

export class DataError extends Error {
  readonly code = 'DATA';

  constructor(
    message: string,
    readonly file?: string,
    readonly row?: number,
  ) {
    super(locate(message, file, row));
    this.name = 'DataError';
  }
}
