// Another commit of tunespec to time against in the same bench run: its files (git archive, no
// worktree to register) under bench/.cache/peer-<commit>, sharing this checkout's node_modules,
// and precompiled as `npm install` leaves it when it has a build step.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, realpathSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from '../../test/helpers/cli.ts';

export const git = (...args: string[]): string => execFileSync('git', args, { cwd: ROOT, encoding: 'utf8' }).trim();

/** The folder of `ref`'s files, made on first use; by default main's merge base. */
export function peerCheckout(ref = git('merge-base', 'HEAD', 'main')): { dir: string; ref: string; commit: string } {
  const commit = git('rev-parse', '--short', `${ref}^{commit}`);
  const dir = join(ROOT, 'bench', '.cache', `peer-${commit}`);
  if (!existsSync(dir)) {
    mkdirSync(dir, { recursive: true });
    execFileSync('sh', ['-c', `git archive ${commit} | tar -x -C "${dir}"`], { cwd: ROOT });
  }
  const modules = join(dir, 'node_modules');
  if (!existsSync(modules)) symlinkSync(realpathSync(join(ROOT, 'node_modules')), modules);
  // The native engine (npm run setup:native) lives outside node_modules; --backend native needs it too.
  const native = join(dir, '.native');
  if (existsSync(join(ROOT, '.native')) && !existsSync(native)) symlinkSync(realpathSync(join(ROOT, '.native')), native);
  if (existsSync(join(dir, 'scripts', 'build.mjs'))) execFileSync(process.execPath, ['scripts/build.mjs'], { cwd: dir, stdio: 'inherit' });
  return { dir, ref, commit };
}

/** This checkout precompiled, so both sides run as `npm install` leaves them. */
export function buildOurs(): void {
  execFileSync(process.execPath, ['scripts/build.mjs'], { cwd: ROOT, stdio: 'inherit' });
}
