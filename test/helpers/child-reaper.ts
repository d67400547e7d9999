import type { ChildProcess } from 'node:child_process';
import { after } from 'node:test';

/**
 * Server processes a test file started and has not seen exit. A test file must never outlive its
 * servers nor be kept alive by them: a `before` that fails half way (one server up, the next not)
 * leaves the file's own `after` without a handle to stop, and a detached MLflow server then kept
 * the test process, and so `npm test`, waiting for good. So every started server is stopped when
 * the file's tests end, when the process exits, and when the runner ends an overrunning file.
 */
const live = new Map<ChildProcess, boolean>();

/** Stop `child` (its whole process group when `group`) on every way out of this test file. */
export function reapWithFile(child: ChildProcess, group = false): void {
  live.set(child, group);
  child.once('exit', () => live.delete(child));
  // A child that never started (ENOENT) emits 'error' and no 'exit'.
  child.once('error', () => child.pid === undefined && live.delete(child));
}

export function hasExited(child: ChildProcess): boolean {
  return child.exitCode !== null || child.signalCode !== null;
}

/** SIGKILL, synchronously: usable from an `exit` handler. */
export function killNow(child: ChildProcess, group: boolean): void {
  try {
    if (group) process.kill(-child.pid!, 'SIGKILL');
    else child.kill('SIGKILL');
  } catch {
    // Already gone.
  }
}

after(async () => {
  const exits = [...live].filter(([child]) => child.pid !== undefined && !hasExited(child)).map(([child, group]) => {
    const gone = new Promise((resolve) => child.once('exit', resolve));
    killNow(child, group);
    return gone;
  });
  await Promise.all(exits);
});
process.once('exit', () => {
  for (const [child, group] of live) killNow(child, group);
});
// `node --test --test-timeout` ends an overrunning file with SIGTERM; Ctrl-C sends SIGINT.
for (const [signal, code] of [['SIGTERM', 143], ['SIGINT', 130]] as const) {
  process.once(signal, () => process.exit(code));
}
