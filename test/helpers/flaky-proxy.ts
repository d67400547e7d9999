import { createServer, request as httpRequest, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';

/** What the proxy does with one request instead of forwarding it. */
export type Fault =
  | { kind: 'status'; status: number; headers?: Record<string, string>; body?: string }
  | { kind: 'drop' }
  | { kind: 'cut' };

/**
 * A reverse proxy on 127.0.0.1 in front of a real server: forwards everything byte for byte
 * (method, path, headers, body, streamed both ways) unless told to fail the next requests, and
 * counts what it saw per path (query string excluded).
 */
export class FlakyProxy {
  private server?: Server;
  private readonly faults: Fault[] = [];
  private readonly sockets = new Set<Socket>();
  /** Requests seen per path (without the query), faulted ones included. */
  readonly counts = new Map<string, number>();
  /** Every request seen, in order: `METHOD /path?query`. */
  readonly log: string[] = [];
  /** Headers of the most recent request, as the proxy received them. */
  lastHeaders: IncomingMessage['headers'] = {};
  port = 0;

  constructor(private readonly target: string) {}

  get uri(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** Requests seen on `path` (without query); all requests when absent. */
  count(path?: string): number {
    if (path === undefined) return this.log.length;
    return this.counts.get(path) ?? 0;
  }

  /** Forget the counters (pending faults stay). */
  reset(): void {
    this.counts.clear();
    this.log.length = 0;
  }

  /** Answer the next `n` requests with `status` (and these headers/body) instead of forwarding them. */
  failNext(n: number, status: number, opts: { headers?: Record<string, string>; body?: string } = {}): this {
    for (let i = 0; i < n; i++) this.faults.push({ kind: 'status', status, ...opts });
    return this;
  }

  /** Destroy the connection of the next `n` requests without answering. */
  dropNext(n: number): this {
    for (let i = 0; i < n; i++) this.faults.push({ kind: 'drop' });
    return this;
  }

  /**
   * Forward the next `n` requests, but answer each with the server's headers and only the first
   * half of its body, then destroy the connection: a server killed mid-answer.
   */
  cutNext(n: number): this {
    for (let i = 0; i < n; i++) this.faults.push({ kind: 'cut' });
    return this;
  }

  /** Faults not yet used. */
  get pending(): number {
    return this.faults.length;
  }

  clearFaults(): void {
    this.faults.length = 0;
  }

  async start(): Promise<this> {
    const server = createServer((req, res) => this.handle(req, res));
    server.on('connection', (s) => {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    this.server = server;
    this.port = (server.address() as { port: number }).port;
    return this;
  }

  async close(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const url = req.url ?? '/';
    const path = url.split('?')[0];
    this.counts.set(path, (this.counts.get(path) ?? 0) + 1);
    this.log.push(`${req.method} ${url}`);
    this.lastHeaders = req.headers;

    const fault = this.faults.shift();
    if (fault?.kind === 'drop') {
      req.socket.destroy();
      return;
    }
    if (fault?.kind === 'status') {
      // Read the body first so the client is not left writing into a closed connection.
      req.resume();
      req.on('end', () => {
        const body = fault.body ?? '';
        res.writeHead(fault.status, { 'Content-Length': Buffer.byteLength(body), ...(fault.body?.startsWith('{') ? { 'Content-Type': 'application/json' } : {}), ...fault.headers });
        res.end(body);
      });
      return;
    }

    const target = new URL(this.target);
    const upstream = httpRequest(
      { host: target.hostname, port: target.port, method: req.method, path: url, headers: { ...req.headers, host: target.host } },
      (up) => {
        res.writeHead(up.statusCode ?? 502, up.statusMessage, up.rawHeaders);
        if (fault?.kind !== 'cut') {
          up.pipe(res);
          return;
        }
        const chunks: Buffer[] = [];
        up.on('data', (c: Buffer) => chunks.push(c));
        up.on('end', () => {
          const whole = Buffer.concat(chunks);
          res.write(whole.subarray(0, Math.floor(whole.length / 2)), () => req.socket.destroy());
        });
      },
    );
    upstream.on('error', (err) => {
      if (!res.headersSent) {
        res.writeHead(502, { 'Content-Type': 'text/plain' });
        res.end(`flaky-proxy: upstream error: ${err.message}`);
      } else res.destroy(err);
    });
    req.pipe(upstream);
  }
}

export async function startFlakyProxy(target: string): Promise<FlakyProxy> {
  return new FlakyProxy(target).start();
}
