// The string formats the spec schema names, as plain functions: the validator compiled at run time
// and the one precompiled into dist/ (scripts/build.mjs) both call these, so neither loads ajv for them.

/** `format: regex`: a pattern JavaScript's RegExp accepts. */
function isRegex(s: string): boolean {
  try {
    new RegExp(s);
    return true;
  } catch {
    return false;
  }
}

export const specFormats = { regex: isRegex };
