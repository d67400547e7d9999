#!/usr/bin/env node
// Runs the precompiled CLI (dist/main.js, made by `npm run build` and by `npm install`) while it is
// newer than every file under src/; otherwise the TypeScript sources through tsx, so an edit
// never runs stale code and there is no build step to forget.
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const built = join(root, 'dist', 'main.js');

function builtIsCurrent() {
  let builtAt;
  try {
    builtAt = statSync(built).mtimeMs;
  } catch {
    return false;
  }
  const src = join(root, 'src');
  // Folders too: their times change when a file is added, removed or renamed.
  return [src, ...readdirSync(src, { recursive: true }).map((f) => join(src, f))].every((f) => statSync(f).mtimeMs <= builtAt);
}

let main;
if (builtIsCurrent()) {
  if (process.argv.includes('--debug')) process.setSourceMapsEnabled(true); // stacks name src/ files
  ({ main } = await import(built));
} else {
  const { register } = await import('tsx/esm/api');
  register();
  ({ main } = await import('../src/cli/main.ts'));
}
process.exitCode = await main(process.argv.slice(2));
