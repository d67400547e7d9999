// Precompiles the CLI into one ESM file, dist/main.js (npm packages stay external), so a command
// starts without tsx compiling ~150 TypeScript modules on every run. bin/tunespec.js runs it
// only while it is newer than every file under src/, else the sources through tsx.
// `--if-possible` (the npm `prepare` hook) warns instead of failing: the CLI works without it.
import { build } from 'esbuild';

const lenient = process.argv.includes('--if-possible');
try {
  await build({
    entryPoints: ['src/cli/main.ts'],
    outfile: 'dist/main.js',
    bundle: true,
    packages: 'external',
    platform: 'node',
    format: 'esm',
    target: 'node20',
    sourcemap: 'linked',
    logLevel: 'warning',
  });
} catch (err) {
  if (!lenient) throw err;
  console.warn(`tunespec: precompiling skipped (${err.message.split('\n')[0]}); the CLI runs its TypeScript sources through tsx`);
}
