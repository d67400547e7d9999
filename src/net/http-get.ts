import { InternalError } from '../errors.ts';
import type { BodySink } from './http-attempt.ts';
import { transfer, type TransferOptions } from './http-transfer.ts';

export { HttpError } from './http-transfer.ts';

export type HttpGetOptions = Pick<TransferOptions, 'settings' | 'progress'>;

/** Chunks kept in memory and joined at the end: for bodies a caller needs whole anyway (model.json, tfjs shards). */
function memorySink(): BodySink<Uint8Array> {
  const chunks: Uint8Array[] = [];
  return {
    write: (chunk) => void chunks.push(chunk),
    finish: async () => Buffer.concat(chunks),
    discard: async () => void (chunks.length = 0),
  };
}

/**
 * The bytes at an http(s) URL, in memory, with transfer's timeouts, retries and progress. A file
 * that belongs on disk (a large weight file) goes through httpDownload instead.
 */
export async function httpGet(url: string, opts: HttpGetOptions = {}): Promise<Uint8Array> {
  const outcome = await transfer(url, async () => memorySink(), opts);
  // Neither an etag nor `optional` was given, so the only outcome short of a failure is the body.
  if (outcome.status !== 'ok') throw new InternalError(`httpGet got '${outcome.status}' without asking for it`);
  return outcome.value;
}
