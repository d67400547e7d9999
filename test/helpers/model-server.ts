import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { readFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { ROOT } from './cli.ts';

export interface ModelServerOptions {
  /** Answer only requests with exactly this query string (`?…`, or one of these), as a signed URL's host does; others get 403. */
  query?: string | string[];
  /** Answer the first `count` requests with `status` (a server that is briefly overloaded). */
  failFirst?: { count: number; status: number; retryAfter?: string };
  /** Accept every request and never answer it. */
  hang?: boolean;
  /** Send the headers and this many bytes of each body, then go silent with the connection open. */
  stallAfter?: number;
  /** More files to serve, by path (`/big.bin`), besides the shipped base model under /models/. */
  files?: Record<string, Uint8Array>;
}

export interface ModelServer {
  port: number;
  /** Every request's path and query, in order. */
  requests: string[];
  close(): void;
}

async function body(path: string, files: Record<string, Uint8Array>): Promise<Uint8Array | undefined> {
  if (files[path]) return files[path];
  if (!path.startsWith('/models/')) return undefined;
  return readFile(join(ROOT, 'models', 'fashion-base', path.replace(/^\/models\//, ''))).catch(() => undefined);
}

/**
 * A real HTTP server on loopback serving the shipped base model under /models/, so URL loading
 * runs the code users hit; with options, it misbehaves the ways real servers do.
 */
export async function serveBaseModel(opts: ModelServerOptions = {}): Promise<ModelServer> {
  const requests: string[] = [];
  let failed = 0;
  const server = createServer(async (req: IncomingMessage, res: ServerResponse) => {
    requests.push(req.url!);
    if (opts.hang) return;
    const [path, query = ''] = req.url!.split(/(?=\?)/);
    if (opts.failFirst && failed < opts.failFirst.count) {
      failed++;
      res.writeHead(opts.failFirst.status, opts.failFirst.retryAfter ? { 'Retry-After': opts.failFirst.retryAfter } : {}).end('busy');
      return;
    }
    if (opts.query !== undefined && ![opts.query].flat().includes(query)) {
      res.writeHead(403).end('signature does not match');
      return;
    }
    const bytes = await body(path, opts.files ?? {});
    if (!bytes) {
      res.writeHead(404).end('not found');
      return;
    }
    res.writeHead(200, { 'Content-Length': bytes.byteLength });
    if (opts.stallAfter !== undefined) res.write(bytes.subarray(0, opts.stallAfter));
    else res.end(bytes);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as AddressInfo).port,
    requests,
    close: () => {
      // Hung and stalled answers hold their connections open: end them, or close never returns.
      server.closeAllConnections();
      server.close();
    },
  };
}
