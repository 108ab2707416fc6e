// A fake server at `fetch`, for the API tests: records every call (method, URL, headers, JSON
// body) and answers with what the test sets.
import { afterEach, beforeEach, vi } from 'vitest';

export interface Call {
  method: string;
  url: string;
  headers: Record<string, string>;
  body: unknown;
}

export interface FakeServer {
  calls: Call[];
  answer: () => Response;
}

/** A JSON response. */
export const json = (status: number, body: unknown, headers: Record<string, string> = {}) =>
  new Response(JSON.stringify(body), { status, headers: { 'Content-Type': 'application/json', ...headers } });

/** Installs the fake around each test of the calling `describe`. */
export function fakeServer(): FakeServer {
  const server: FakeServer = { calls: [], answer: () => new Response('{}', { status: 500 }) };
  beforeEach(() => {
    server.calls = [];
    vi.stubGlobal(
      'fetch',
      vi.fn((url: string, init: RequestInit = {}) => {
        server.calls.push({
          method: init.method ?? 'GET',
          url,
          headers: { ...(init.headers as Record<string, string>) },
          body: typeof init.body === 'string' ? JSON.parse(init.body) : undefined,
        });
        return Promise.resolve(server.answer());
      }),
    );
  });
  afterEach(() => {
    vi.unstubAllGlobals();
  });
  return server;
}
