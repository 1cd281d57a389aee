import { createServer } from 'node:net';
import { describe, expect, it } from 'vitest';
import { ApiClient, apiError } from './client.js';
import { CliError, EXIT } from './exit-codes.js';

const reply = (status: number, contentType = 'application/json') => ({ status, headers: new Headers({ 'content-type': contentType }) });

describe('apiError', () => {
  it('keeps the API error code, message and every detail with its path and line', () => {
    const error = apiError(
      { error: { code: 'validation_failed', message: 'the policy has 2 errors', details: [{ path: 'spec.node.enabled', message: 'bad', line: 13, column: 14 }, { path: 'spec.rules[0]', message: 'also bad' }, 'junk'] } },
      reply(422),
      'http://h',
      'POST',
      '/api/v1/policies',
    );
    expect(error.exitCode).toBe(EXIT.invalid);
    expect(error.code).toBe('validation_failed');
    expect(error.message).toBe('the policy has 2 errors');
    expect(error.problems).toEqual([
      { path: 'spec.node.enabled', message: 'bad', line: 13, column: 14 },
      { path: 'spec.rules[0]', message: 'also bad' },
    ]);
  });

  it('maps conflicts, auth and not-found by code', () => {
    expect(apiError({ error: { code: 'conflict', message: 'm', details: [] } }, reply(409), 'h', 'POST', '/p').exitCode).toBe(EXIT.conflict);
    expect(apiError({ error: { code: 'unauthenticated', message: 'm' } }, reply(401), 'h', 'GET', '/p').exitCode).toBe(EXIT.auth);
    expect(apiError({ error: { code: 'not_found', message: 'm' } }, reply(404), 'h', 'GET', '/p').exitCode).toBe(EXIT.notFound);
    // An unknown code falls back to the HTTP status.
    expect(apiError({ error: { code: 'new_code', message: 'm' } }, reply(409), 'h', 'GET', '/p').exitCode).toBe(EXIT.conflict);
  });

  it('says when the answer is not from a controller at all', () => {
    const notFound = apiError(undefined, reply(404, 'text/html'), 'http://h/x', 'GET', '/api/v1/policies');
    expect(notFound.exitCode).toBe(EXIT.unreachable);
    expect(notFound.message).toBe('http://h/x did not answer GET /api/v1/policies like a thp-fleet controller (HTTP 404, text/html): check the server URL');
    const bad = apiError('oops', reply(502, 'text/plain'), 'http://h', 'GET', '/p');
    expect(bad.exitCode).toBe(EXIT.unreachable);
    expect(bad.message).toBe('GET /p failed: HTTP 502 (server error)');
  });
});

describe('ApiClient', () => {
  it('needs a token before it sends anything', async () => {
    await expect(new ApiClient('http://127.0.0.1:9', undefined).get('/api/v1/whoami')).rejects.toMatchObject({ exitCode: EXIT.auth, message: expect.stringMatching(/^no token for http:\/\/127\.0\.0\.1:9: run thpctl login/) as unknown });
  });

  it('reports a port nobody listens on as unreachable (exit 7)', async () => {
    const port = await new Promise<number>((resolve) => {
      const server = createServer().listen(0, '127.0.0.1', () => {
        const address = server.address();
        server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
      });
    });
    const error = await new ApiClient(`http://127.0.0.1:${port}`, 'thp_x').get('/api/v1/whoami').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CliError);
    expect((error as CliError).exitCode).toBe(EXIT.unreachable);
    expect((error as CliError).message).toBe(`cannot reach the controller at http://127.0.0.1:${port}: connection refused (is the controller running?)`);
  });
});
