import { TunespecError } from '../errors.ts';

// Every problem with the user's data surfaces as a DataError so the CLI can print it as a spec
// mistake (file, line, what is wrong) instead of a stack trace.

function locate(message: string, file?: string, row?: number): string {
  if (file === undefined) return message;
  return row === undefined ? `${file}: ${message}` : `${file}:${row}: ${message}`;
}

export class DataError extends TunespecError {
  constructor(
    message: string,
    readonly file?: string,
    readonly row?: number,
    /** The class label the problem is about, for pointing at it in the spec's class list. */
    readonly label?: string | number,
  ) {
    super('DATA', locate(message, file, row));
  }
}
