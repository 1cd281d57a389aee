import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiClient, ApiError, errorFromResponse } from './client.js';

interface Seen {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  body: string;
}

describe('the API client against a real HTTP server', () => {
  let server: Server;
  let base: string;
  const seen: Seen[] = [];

  beforeAll(async () => {
    server = createServer((request, response) => {
      let body = '';
      request.on('data', (c: Buffer) => (body += c.toString()));
      request.on('end', () => {
        seen.push({ method: request.method ?? '', url: request.url ?? '', headers: request.headers, body });
        const url = new URL(request.url ?? '/', 'http://x');
        if (url.pathname === '/api/v1/nodes') {
          const after = url.searchParams.get('after');
          const page = after === null ? { nodes: [{ id: 'a' }, { id: 'b' }], next: 'b', total: 3 } : { nodes: [{ id: 'c' }], next: null, total: 3 };
          response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(page));
        } else if (url.pathname === '/api/v1/policies/p/versions') {
          response.writeHead(409, { 'content-type': 'application/json' }).end(JSON.stringify({ error: { code: 'conflict', message: 'p is at v4', details: [{ path: 'header.If-Match', message: 'stale' }] } }));
        } else if (url.pathname === '/api/v1/policies/validate') {
          response.writeHead(422, { 'content-type': 'application/json' }).end(JSON.stringify({ error: { code: 'validation_failed', message: '1 problem', details: [{ path: 'spec.node.defrag', message: 'bad', line: 3, column: 5 }] } }));
        } else {
          response.writeHead(502, { 'content-type': 'text/html' }).end('<html>bad gateway</html>');
        }
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it('follows the nodes cursor to the end, with the token on every request', async () => {
    const nodes = await new ApiClient(base, 'thp_t').nodes({ labels: 'zone=a' });
    expect(nodes.map((n) => n.id)).toEqual(['a', 'b', 'c']);
    const requests = seen.filter((s) => s.url.startsWith('/api/v1/nodes'));
    expect(requests.map((s) => s.url)).toEqual(['/api/v1/nodes?labels=zone%3Da&limit=10000', '/api/v1/nodes?labels=zone%3Da&limit=10000&after=b']);
    expect(requests.every((s) => s.headers.authorization === 'Bearer thp_t')).toBe(true);
  });

  it('adds a version against the version edited (If-Match) and turns a 409 into an ApiError with details', async () => {
    const error = await new ApiClient(base, 'thp_t').addPolicyVersion('p', 'kind: ThpPolicy\n', 3, 'why').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ApiError);
    expect(error).toMatchObject({ status: 409, code: 'conflict', message: 'p is at v4', details: [{ path: 'header.If-Match', message: 'stale' }] });
    const request = seen.find((s) => s.url.startsWith('/api/v1/policies/p/versions'));
    expect(request?.url).toBe('/api/v1/policies/p/versions?message=why');
    expect(request?.headers['if-match']).toBe('"v3"');
    expect(request?.headers['content-type']).toBe('application/yaml');
    expect(request?.body).toBe('kind: ThpPolicy\n');
  });

  it('keeps line and column of validation details; says what came when the body is not the controller error', async () => {
    const client = new ApiClient(base, 'thp_t');
    await expect(client.validatePolicy('x')).rejects.toMatchObject({ status: 422, details: [{ path: 'spec.node.defrag', line: 3, column: 5 }] });
    await expect(client.whoami()).rejects.toMatchObject({ status: 502, code: 'http_502', message: expect.stringContaining('<html>bad gateway</html>') as unknown });
    const fromText = await errorFromResponse(new Response('', { status: 503, statusText: 'Service Unavailable' }));
    expect(fromText.message).toBe('503 Service Unavailable');
  });

  it('reports a controller that does not answer as unreachable', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', () => resolve()));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const error = await new ApiClient(`http://127.0.0.1:${port}`, 'thp_t').whoami().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ApiError);
    expect((error as ApiError).unreachable).toBe(true);
  });
});
