import { createServer } from 'node:http';
import { readFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { ROOT } from './cli.ts';

/** A real HTTP server on loopback serving the shipped base model under /models/, so URL loading runs the code users hit. */
export async function serveBaseModel(): Promise<{ port: number; requests: string[]; close(): void }> {
  const requests: string[] = [];
  const server = createServer(async (req, res) => {
    requests.push(req.url!);
    try {
      const body = await readFile(join(ROOT, 'models', 'fashion-base', req.url!.replace(/^\/models\//, '')));
      res.writeHead(200).end(body);
    } catch {
      res.writeHead(404).end('not found');
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { port: (server.address() as AddressInfo).port, requests, close: () => server.close() };
}
