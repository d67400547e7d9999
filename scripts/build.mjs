// Precompiles the CLI into ESM, dist/main.js and the chunks it imports (npm packages stay external),
// so a command starts without tsx compiling ~150 TypeScript modules on every run. Split into chunks
// so that a command loads only its own modules and the packages they import (main.ts imports each
// command when it runs). bin/tunespec.js runs it only while it is newer than every file under src/,
// else the sources through tsx.
// The spec schema's validator is precompiled too (ajv standalone code in place of
// src/spec/spec-validator.ts), so a command does not compile the schema when it starts.
// `--if-possible` (the npm `prepare` hook) warns instead of failing: the CLI works without it.
import { rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { tsImport } from 'tsx/esm/api';

const lenient = process.argv.includes('--if-possible');
try {
  rmSync('dist', { recursive: true, force: true }); // no chunks of an earlier build left behind
  const specValidatorPath = fileURLToPath(new URL('../src/spec/spec-validator.ts', import.meta.url));
  const { specValidatorModule } = await tsImport(specValidatorPath, import.meta.url);
  const specValidatorSource = await specValidatorModule('./formats.ts');
  const precompiledSpecValidator = {
    name: 'precompiled-spec-validator',
    setup(b) {
      b.onLoad({ filter: /[\\/]src[\\/]spec[\\/]spec-validator\.ts$/ }, (args) =>
        args.path === specValidatorPath ? { contents: specValidatorSource, loader: 'js' } : undefined,
      );
    },
  };
  await build({
    entryPoints: ['src/cli/main.ts'],
    outdir: 'dist',
    entryNames: '[name]',
    chunkNames: 'chunks/[name]-[hash]',
    splitting: true,
    bundle: true,
    packages: 'external',
    platform: 'node',
    format: 'esm',
    target: 'node20',
    sourcemap: 'linked',
    logLevel: 'warning',
    plugins: [precompiledSpecValidator],
  });
} catch (err) {
  if (!lenient) throw err;
  console.warn(`tunespec: precompiling skipped (${err.message.split('\n')[0]}); the CLI runs its TypeScript sources through tsx`);
}
