import { createHash, randomBytes } from 'node:crypto';
import { mkdir, open, readFile, readdir, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { identityMismatch, type Checkpoint, type CheckpointIdentity, type CheckpointSearch, type TensorValues, type VariantCheckpoints } from '../train/checkpoint.ts';

// A variant's checkpoints on disk, one folder each: `step-<n>/` holds state.json (the loop's
// position and the tensors' layout), tensors.bin (their raw little-endian values) and
// manifest.json (each file's sha256 and size, the identity it was written under), written last.
// A checkpoint is written in a hidden temporary folder and renamed into place, so a crash leaves
// either the whole of it or nothing, and the previous one stays valid; a file damaged later is
// caught by its digest, and the one before it is used.

/** The version of this layout, in each manifest; a newer one is passed over (with its reason), never guessed at. */
export const CHECKPOINT_FORMAT = 1;
/** Checkpoints kept while a variant trains: the newest, and one to fall back on if it is damaged. */
const RETAINED = 2;
const MANIFEST = 'manifest.json';
const STATE = 'state.json';
const TENSORS = 'tensors.bin';

interface Manifest {
  format: number;
  step: number;
  attempt: string;
  startedAt: number;
  /** Absent for engines that compute the same bits anywhere, and in checkpoints from before it was recorded. */
  host?: string;
  written: string;
  identity: CheckpointIdentity;
  files: Record<string, { sha256: string; bytes: number }>;
}

interface StateFile {
  state: Record<string, unknown>;
  tensors: Record<string, { name: string; shape: number[]; dtype: TensorValues['dtype']; offset: number; count: number }[]>;
}

/** Where an experiment's store keeps a variant's checkpoints: beside its lock, whichever sweep trains it. */
export function checkpointsDir(experimentDir: string, variantId: string): string {
  return join(experimentDir, `.checkpoints-${variantId}`);
}

const stepName = (step: number): string => `step-${String(step).padStart(9, '0')}`;
const stepOf = (name: string): number | undefined => {
  const m = /^step-(\d+)$/.exec(name);
  return m ? Number(m[1]) : undefined;
};

const sha256 = (data: Uint8Array): string => createHash('sha256').update(data).digest('hex');

async function writeDurable(path: string, data: Uint8Array | string): Promise<void> {
  const fh = await open(path, 'w');
  try {
    await fh.writeFile(data);
    // A checkpoint is for surviving crashes, a power cut among them: on disk before the rename.
    await fh.sync();
  } finally {
    await fh.close();
  }
}

async function listNames(dir: string): Promise<string[]> {
  try {
    return await readdir(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
}

/** Total bytes of a variant's checkpoints (0 when it has none): what `tunespec runs` shows for unfinished variants. */
export async function checkpointBytes(dir: string): Promise<{ count: number; bytes: number; newest?: number }> {
  let bytes = 0;
  const steps = (await listNames(dir)).map(stepOf).filter((s): s is number => s !== undefined);
  for (const s of steps) {
    for (const f of await listNames(join(dir, stepName(s)))) bytes += (await stat(join(dir, stepName(s), f)).catch(() => ({ size: 0 }))).size;
  }
  return { count: steps.length, bytes, newest: steps.length ? Math.max(...steps) : undefined };
}

export class CheckpointStore implements VariantCheckpoints {
  constructor(readonly dir: string) {}

  /** Steps with a checkpoint folder, newest first. */
  private async steps(): Promise<number[]> {
    return (await listNames(this.dir))
      .map(stepOf)
      .filter((s): s is number => s !== undefined)
      .sort((a, b) => b - a);
  }

  /** Temporary folders of writes that never finished: only the variant's lock holder calls this, so none is live. */
  private async clearUnfinished(): Promise<void> {
    for (const name of await listNames(this.dir)) if (name.startsWith('.tmp-')) await rm(join(this.dir, name), { recursive: true, force: true });
  }

  async save(c: Checkpoint): Promise<void> {
    await mkdir(this.dir, { recursive: true });
    await this.clearUnfinished();
    const tmp = join(this.dir, `.tmp-${stepName(c.step)}-${process.pid}-${randomBytes(4).toString('hex')}`);
    await mkdir(tmp);
    const layout: StateFile['tensors'] = {};
    const chunks: Uint8Array[] = [];
    let offset = 0;
    for (const [group, list] of Object.entries(c.tensors)) {
      layout[group] = list.map((t) => {
        const bytes = new Uint8Array(t.values.buffer, t.values.byteOffset, t.values.byteLength);
        chunks.push(bytes);
        const entry = { name: t.name, shape: t.shape, dtype: t.dtype, offset, count: t.values.length };
        offset += bytes.byteLength;
        return entry;
      });
    }
    const tensors = Buffer.concat(chunks);
    const state = Buffer.from(JSON.stringify({ state: c.state, tensors: layout } satisfies StateFile));
    await writeDurable(join(tmp, TENSORS), tensors);
    await writeDurable(join(tmp, STATE), state);
    const manifest: Manifest = {
      format: CHECKPOINT_FORMAT,
      step: c.step,
      attempt: c.attempt,
      startedAt: c.startedAt,
      host: c.host,
      written: new Date().toISOString(),
      identity: c.identity,
      files: { [STATE]: { sha256: sha256(state), bytes: state.byteLength }, [TENSORS]: { sha256: sha256(tensors), bytes: tensors.byteLength } },
    };
    await writeDurable(join(tmp, MANIFEST), JSON.stringify(manifest, null, 2));
    const target = join(this.dir, stepName(c.step));
    await rm(target, { recursive: true, force: true });
    await rename(tmp, target);
    for (const old of (await this.steps()).slice(RETAINED)) await rm(join(this.dir, stepName(old)), { recursive: true, force: true });
  }

  /** One checkpoint read back and checked against its manifest, or why it cannot be used. */
  private async read(step: number): Promise<{ checkpoint: Checkpoint; manifest: Manifest } | { damaged: string }> {
    const dir = join(this.dir, stepName(step));
    let manifest: Manifest;
    try {
      manifest = JSON.parse(await readFile(join(dir, MANIFEST), 'utf8')) as Manifest;
    } catch (err) {
      return { damaged: `its ${MANIFEST} is ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'missing' : 'unreadable'}` };
    }
    if (manifest.format !== CHECKPOINT_FORMAT) return { damaged: `it is in checkpoint format ${manifest.format}, this tunespec reads ${CHECKPOINT_FORMAT}` };
    const files: Record<string, Buffer> = {};
    for (const [name, want] of Object.entries(manifest.files ?? {})) {
      const data = await readFile(join(dir, name)).catch(() => undefined);
      if (!data) return { damaged: `${name} is missing` };
      if (data.byteLength !== want.bytes || sha256(data) !== want.sha256) return { damaged: `${name} does not match the sha256 in its manifest` };
      files[name] = data;
    }
    if (!files[STATE] || !files[TENSORS]) return { damaged: `its manifest lists no ${STATE} or ${TENSORS}` };
    const parsed = JSON.parse(files[STATE].toString('utf8')) as StateFile;
    const raw = files[TENSORS];
    // A copy, aligned for the typed arrays that view it.
    const buffer = raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength);
    const tensors: Checkpoint['tensors'] = {};
    for (const [group, list] of Object.entries(parsed.tensors)) {
      tensors[group] = list.map((t) => ({
        name: t.name,
        shape: t.shape,
        dtype: t.dtype,
        values: t.dtype === 'int32' ? new Int32Array(buffer, t.offset, t.count) : new Float32Array(buffer, t.offset, t.count),
      }));
    }
    return {
      manifest,
      checkpoint: { identity: manifest.identity, attempt: manifest.attempt, startedAt: manifest.startedAt, host: manifest.host, step: manifest.step, state: parsed.state, tensors },
    };
  }

  async latest(identity: CheckpointIdentity): Promise<CheckpointSearch> {
    await this.clearUnfinished();
    const notes: string[] = [];
    for (const step of await this.steps()) {
      const got = await this.read(step);
      const where = `the checkpoint at step ${step} (${join(this.dir, stepName(step))})`;
      if ('damaged' in got) {
        notes.push(`not resuming from ${where}: it is damaged, ${got.damaged}`);
        continue;
      }
      const why = identityMismatch(got.manifest.identity, identity);
      if (why) {
        notes.push(`not resuming from ${where}: ${why}`);
        continue;
      }
      if (notes.length) notes.push(`using the one at step ${step} before it`);
      return { checkpoint: got.checkpoint, notes };
    }
    return { notes };
  }

  async discard(): Promise<number> {
    const count = (await this.steps()).length;
    await rm(this.dir, { recursive: true, force: true });
    return count;
  }

  /**
   * At a variant's completion: the newest `keep` checkpoints move into `into` (the completed
   * attempt's folder), and the rest go.
   */
  async settle(keep: number, into: string): Promise<void> {
    const kept = (await this.steps()).slice(0, keep);
    if (kept.length) {
      await mkdir(into, { recursive: true });
      for (const step of kept) await rename(join(this.dir, stepName(step)), join(into, stepName(step)));
    }
    await rm(this.dir, { recursive: true, force: true });
  }
}
