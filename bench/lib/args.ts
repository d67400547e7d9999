/** The word after `--name` in a bench script's arguments, or `fallback` when the option is not given. */
export function optionValue(args: readonly string[], name: string, fallback: string): string {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1]! : fallback;
}
