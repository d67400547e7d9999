/** What every array-job emitter needs to know of a plan: a task per variant, addressed by index. */
export interface ArrayJob {
  experiment: string;
  /** The spec as the user named it: tasks run from the same directory (or image working directory). */
  specFile: string;
  sweepId: string;
  count: number;
  runsDir: string;
  backend: string;
}

/** A word for sh, quoted only when it needs to be. */
export function shellQuote(word: string): string {
  return /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}
