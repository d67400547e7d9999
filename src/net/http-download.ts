import { createHash } from 'node:crypto';
import { open, rm } from 'node:fs/promises';
import type { BodySink } from './http-attempt.ts';
import { transfer, type TransferOptions } from './http-transfer.ts';

export type DownloadResult =
  | { status: 'downloaded'; sha256: string; etag: string | null; bytes: number }
  | { status: 'not-modified' }
  | { status: 'missing'; httpStatus: number };

/** The body streamed into `dest` (created or truncated) and hashed as it goes, so a weight file never sits whole in memory. */
async function fileSink(dest: string): Promise<BodySink<{ sha256: string; bytes: number }>> {
  const file = await open(dest, 'w');
  const hash = createHash('sha256');
  let bytes = 0;
  let closed = false;
  const close = async () => {
    if (!closed) (closed = true), await file.close();
  };
  return {
    async write(chunk) {
      hash.update(chunk);
      bytes += chunk.byteLength;
      await file.write(chunk);
    },
    async finish() {
      await close();
      return { sha256: hash.digest('hex'), bytes };
    },
    async discard() {
      await close().catch(() => undefined);
      await rm(dest, { force: true });
    },
  };
}

/**
 * GET `url` into the file `dest`, with transfer's timeouts, retries, redirects (credentials to the
 * first origin only) and progress: 'downloaded' with the file's sha256 and ETag, 'not-modified'
 * when `etag` still matches (dest untouched), or 'missing' for an `optional` file the server does
 * not have. A failed download leaves no file at `dest`.
 */
export async function httpDownload(url: string, dest: string, opts: TransferOptions = {}): Promise<DownloadResult> {
  const outcome = await transfer(url, () => fileSink(dest), opts);
  if (outcome.status !== 'ok') return outcome;
  return { status: 'downloaded', sha256: outcome.value.sha256, etag: outcome.etag, bytes: outcome.value.bytes };
}
