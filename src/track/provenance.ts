import { execFile } from 'node:child_process';
import { userInfo } from 'node:os';
import { dirname, relative, resolve } from 'node:path';
import { promisify } from 'node:util';
import { redactUrl } from '../net/redact.ts';
import type { StoreRecord } from './store-format.ts';

const run = promisify(execFile);

/**
 * Where a sweep came from, recorded in sweep.json when it starts so a later sync reports the same
 * commit: `source` is the spec file, relative to the repository root when it lives in one.
 */
export type Provenance = NonNullable<StoreRecord<'sweep'>['provenance']>;

async function git(cwd: string, ...args: string[]): Promise<string | undefined> {
  try {
    return (await run('git', args, { cwd })).stdout.trim() || undefined;
  } catch {
    return undefined;
  }
}

/** Remote URLs may carry tokens (https://user:token@host/…); scp-style ones (git@host:…) carry none. */
export function publicRepoUrl(url: string): string {
  return /^[a-z][a-z0-9+.-]*:\/\//i.test(url) ? redactUrl(url) : url;
}

export async function provenanceOf(specFile: string): Promise<Provenance> {
  const dir = dirname(resolve(specFile));
  let user = process.env.USER ?? process.env.LOGNAME ?? '';
  try {
    user = userInfo().username;
  } catch {
    // No passwd entry (containers): the environment's name is all there is.
  }
  const root = await git(dir, 'rev-parse', '--show-toplevel');
  const commit = root && (await git(dir, 'rev-parse', 'HEAD'));
  if (!root || !commit) return { source: specFile, user };
  const remote = await git(dir, 'config', '--get', 'remote.origin.url');
  return {
    source: relative(root, resolve(specFile)),
    user,
    git: {
      commit,
      branch: await git(dir, 'symbolic-ref', '--short', '-q', 'HEAD'),
      repoURL: remote && publicRepoUrl(remote),
      // Dirty when tracked files changed, or when the spec itself is not committed as it is.
      dirty: Boolean((await git(dir, 'status', '--porcelain', '--untracked-files=no')) ?? (await git(dir, 'status', '--porcelain', '--', resolve(specFile)))),
    },
  };
}
