import type { ServerResponse } from 'node:http';

/**
 * An error as OpenAI's API answers it: an HTTP status and `{error: {message, type, param, code}}`,
 * which the official clients turn into their typed errors (400 BadRequestError, 401
 * AuthenticationError, 404 NotFoundError, …) with these fields on them.
 */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly type: string = status >= 500 ? 'server_error' : 'invalid_request_error',
    readonly param: string | null = null,
    readonly code: string | null = null,
  ) {
    super(message);
  }

  get body(): { error: { message: string; type: string; param: string | null; code: string | null } } {
    return { error: { message: this.message, type: this.type, param: this.param, code: this.code } };
  }
}

/** A field of the request body that is missing or wrong: 400, naming it. */
export const badParam = (param: string, message: string, code: string | null = null): ApiError => new ApiError(400, message, 'invalid_request_error', param, code);

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

export function sendError(res: ServerResponse, err: ApiError, headers: Record<string, string> = {}): void {
  sendJson(res, err.status, err.body, headers);
}
