import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { link, mkdir, readFile, rename, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { dirname } from 'node:path';
import AjvModule, { type ValidateFunction } from 'ajv';
import type { FromSchema } from 'json-schema-to-ts';
import { StoreError } from '../errors.ts';

/**
 * Who holds a variant: what its lock file records. `started` is when the lock was taken (ISO
 * time); `token` is unique per lock taken, telling a lock apart from a newer one in the same place;
 * `boot` is the holder's boot id (Linux): a pid from before a reboot names nothing alive. Fields
 * beyond these (a newer tunespec's) are allowed and ignored.
 */
const lockOwnerSchema = {
  type: 'object',
  required: ['pid', 'host', 'started', 'token'],
  properties: {
    pid: { type: 'integer', minimum: 1 },
    host: { type: 'string', minLength: 1 },
    started: { type: 'string' },
    token: { type: 'string', minLength: 1 },
    boot: { type: 'string' },
  },
} as const;

export type LockOwner = FromSchema<typeof lockOwnerSchema>;

const Ajv = AjvModule.default ?? AjvModule;
let validateOwner: ValidateFunction<LockOwner> | undefined;

/**
 * A lock file's text as its owner. Text that is not JSON is a lock caught mid-write (the
 * exclusive-create fallback writes after it creates) or damaged: undefined, and the lock is judged
 * by its heartbeat alone. JSON of another shape was not written by tunespec's lock, and trusting
 * it (a pid that is a string) could keep the variant locked forever: an error naming the file.
 */
function parseOwner(path: string, text: string): LockOwner | undefined {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  validateOwner ??= new Ajv({ allErrors: true, strict: true }).compile<LockOwner>(lockOwnerSchema);
  if (validateOwner(value)) return value;
  const why = (validateOwner.errors ?? []).map((e) => `${e.instancePath.slice(1) || 'the lock'} ${e.message}`).join(', ');
  throw new StoreError(path, `not a variant lock as tunespec writes it (${why}); if no tunespec process is training this variant, remove the file`);
}

/** How often a holder touches its lock file: the heartbeat other hosts judge it by. */
export const HEARTBEAT_MS = 30_000;
/**
 * A lock from another host whose heartbeat is older than this belongs to a process that is gone
 * (a machine that died; its pid cannot be checked from here). Ten heartbeats: a slow shared
 * filesystem or a long pause in the holder never looks like death.
 */
export const STALE_MS = 10 * HEARTBEAT_MS;

const HOST = hostname();

function bootId(): string | undefined {
  try {
    return readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
  } catch {
    return undefined;
  }
}
const BOOT = bootId();

export function describeOwner(o: LockOwner): string {
  return `pid ${o.pid} on ${o.host === HOST ? 'this host' : `host ${o.host}`}`;
}

/** Why a lock's holder is gone, or undefined while it may still be alive. */
function staleReason(o: LockOwner | undefined, heartbeat: number): string | undefined {
  const age = Date.now() - heartbeat;
  if (!o || o.host !== HOST) {
    return age > STALE_MS ? `whose heartbeat stopped ${Math.floor(age / 60_000)} minute(s) ago` : undefined;
  }
  if (o.boot && BOOT && o.boot !== BOOT) return 'which ran before this host last booted';
  if (o.pid === process.pid) return undefined;
  try {
    process.kill(o.pid, 0);
    return undefined;
  } catch (err) {
    // EPERM: alive, another user's.
    return (err as NodeJS.ErrnoException).code === 'ESRCH' ? 'which is no longer running' : undefined;
  }
}

async function readOwner(path: string): Promise<{ owner?: LockOwner; heartbeat: number } | undefined> {
  try {
    const [text, st] = await Promise.all([readFile(path, 'utf8'), stat(path)]);
    return { owner: parseOwner(path, text), heartbeat: st.mtimeMs };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

/** A lock taken (and whose dead holder's lock it replaced, if any), or who holds it, in words. */
export type LockAttempt = { lock: VariantLock; recovered?: string } | { holder: string };

/**
 * An exclusive lock on one variant of a run store, as a file holding its owner. Taking it is a
 * hard link of a complete file into place (atomic, and safe on NFS, where O_EXCL was not always);
 * a holder that died on this host (its pid is gone) or on another (its heartbeat stopped) loses
 * it to the next process that asks, which says whose lock it recovered.
 */
export class VariantLock {
  private readonly heartbeat: NodeJS.Timeout;

  private constructor(
    readonly path: string,
    readonly owner: LockOwner,
  ) {
    this.heartbeat = setInterval(() => {
      const now = new Date();
      utimes(this.path, now, now).catch(() => undefined);
    }, HEARTBEAT_MS).unref();
  }

  /** Take the lock at `path`, or say who holds it. Never waits. */
  static async tryAcquire(path: string): Promise<LockAttempt> {
    const owner: LockOwner = { pid: process.pid, host: HOST, started: new Date().toISOString(), token: randomUUID(), ...(BOOT ? { boot: BOOT } : {}) };
    await mkdir(dirname(path), { recursive: true });
    const tmp = `${path}.${owner.token}.tmp`;
    await writeFile(tmp, JSON.stringify(owner));
    let recovered: string | undefined;
    try {
      // Bounded: each round either takes the lock, finds a live holder, or removes a dead one.
      for (let round = 0; round < 10; round++) {
        if (await linkOrCreate(tmp, path, owner)) return { lock: new VariantLock(path, owner), recovered };
        const found = await readOwner(path);
        if (!found) continue; // released between our try and our look
        const why = staleReason(found.owner, found.heartbeat);
        if (!why) {
          return { holder: found.owner ? `${describeOwner(found.owner)} (since ${found.owner.started})` : `a process whose lock file ${path} is unreadable` };
        }
        if (await removeStale(path, found.owner, owner.token)) {
          const who = found.owner ? `${describeOwner(found.owner)} (started ${found.owner.started})` : 'an unreadable owner';
          recovered = `recovered the lock of ${who}, ${why}`;
        }
      }
      throw new Error(`could not take the lock ${path}: it changed hands ten times in a row`);
    } finally {
      await rm(tmp, { force: true });
    }
  }

  /** Give the lock up; a lock that was taken over meanwhile (judged dead) is left to its new owner. */
  async release(): Promise<void> {
    clearInterval(this.heartbeat);
    // A lock file of another shape is not this lock's: it stays.
    const found = await readOwner(this.path).catch((err) => {
      if (err instanceof StoreError) return undefined;
      throw err;
    });
    if (found?.owner?.token === this.owner.token) await rm(this.path, { force: true });
  }
}

async function linkOrCreate(tmp: string, path: string, owner: LockOwner): Promise<boolean> {
  try {
    await link(tmp, path);
    return true;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') return false;
    if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EOPNOTSUPP') throw err;
  }
  // No hard links here (some FUSE and SMB mounts): exclusive create instead.
  try {
    await writeFile(path, JSON.stringify(owner), { flag: 'wx' });
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw err;
  }
}

/**
 * Remove a dead holder's lock without ever removing a live one: two processes may judge the same
 * lock dead at once, and by the time the slower one acts the faster may hold a new lock there.
 * So the lock is renamed aside (one rename wins), checked to be the one judged dead, and put
 * back if it is not.
 */
async function removeStale(path: string, judged: LockOwner | undefined, token: string): Promise<boolean> {
  const aside = `${path}.stale-${token}`;
  try {
    await rename(path, aside);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw err;
  }
  const moved = await readOwner(aside);
  if (moved && moved.owner?.token === judged?.token) {
    await rm(aside, { force: true });
    return true;
  }
  await link(aside, path).catch(() => undefined);
  await rm(aside, { force: true });
  return false;
}
