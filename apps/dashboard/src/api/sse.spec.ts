import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { EventStream, SseParser, backoffDelay, type SseMessage, type StreamStatus } from './sse.js';

describe('the event-stream parser', () => {
  it('parses events split anywhere across chunks, with LF, CRLF and CR line ends', () => {
    const text = 'event: node\ndata: {"a":1}\nid: 7\n\r\n: a comment\r\ndata: line one\rdata: line two\r\n\r\nevent: ping\ndata: {}\n\n';
    for (const size of [1, 2, 3, 5, 8, text.length]) {
      const parser = new SseParser();
      const out: SseMessage[] = [];
      for (let i = 0; i < text.length; i += size) out.push(...parser.feed(text.slice(i, i + size)));
      expect(out, `chunks of ${size}`).toEqual([
        { event: 'node', data: '{"a":1}', id: '7' },
        { event: 'message', data: 'line one\nline two', id: '7' },
        { event: 'ping', data: '{}', id: '7' },
      ]);
    }
  });

  it('ignores events without data and unknown fields, and keeps the server retry', () => {
    const parser = new SseParser();
    expect(parser.feed('event: x\n\nfoo: bar\nretry: 3000\ndata\n\n')).toEqual([{ event: 'message', data: '', id: null }]);
    expect(parser.retryMs).toBe(3000);
  });

  it('backs off exponentially with jitter, up to a cap', () => {
    expect(backoffDelay(0, 1000, 30_000, () => 0.5)).toBe(1000);
    expect(backoffDelay(3, 1000, 30_000, () => 0.5)).toBe(8000);
    expect(backoffDelay(10, 1000, 30_000, () => 0.5)).toBe(30_000);
    expect(backoffDelay(0, 1000, 30_000, () => 0)).toBe(800);
    expect(backoffDelay(0, 1000, 30_000, () => 1)).toBe(1200);
  });
});

describe('EventStream against a real HTTP server', () => {
  let server: Server | undefined;
  afterEach(async () => {
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
    server = undefined;
  });

  async function serve(handler: (response: ServerResponse, attempt: number, authorization: string | undefined) => void): Promise<string> {
    let attempt = 0;
    server = createServer((request, response) => handler(response, attempt++, request.headers.authorization));
    await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', () => resolve()));
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/v1/events`;
  }

  it('sends the token as a header, delivers events, and after the stream drops reconnects and says to resync', async () => {
    const seen: string[] = [];
    const url = await serve((response, attempt, authorization) => {
      seen.push(authorization ?? '');
      response.writeHead(200, { 'content-type': 'text/event-stream' });
      response.write(`event: node\ndata: {"n":${attempt}}\n\nevent: ping\ndata: {}\n\n`);
      if (attempt === 0) setTimeout(() => response.end(), 20);
    });
    const messages: SseMessage[] = [];
    const statuses: [StreamStatus, boolean][] = [];
    const stream = new EventStream({
      url,
      token: 'thp_secret',
      initialDelayMs: 10,
      random: () => 0.5,
      onMessage: (m) => messages.push(m),
      onStatus: (status, detail) => statuses.push([status, detail.resync]),
    });
    stream.start();
    await expect.poll(() => messages.length, { timeout: 5_000 }).toBe(2);
    stream.close();
    expect(seen).toEqual(['Bearer thp_secret', 'Bearer thp_secret']);
    expect(messages.map((m) => [m.event, m.data])).toEqual([
      ['node', '{"n":0}'],
      ['node', '{"n":1}'],
    ]);
    expect(statuses.filter(([s]) => s === 'open')).toEqual([
      ['open', false],
      ['open', true],
    ]);
    expect(statuses.at(-1)).toEqual(['closed', false]);
  });

  it('stops for good when the token is refused', async () => {
    let calls = 0;
    const url = await serve((response) => {
      calls++;
      response.writeHead(401, { 'content-type': 'application/json' });
      response.end('{"error":{"code":"unauthenticated","message":"no"}}');
    });
    const statuses: StreamStatus[] = [];
    const stream = new EventStream({ url, token: 'thp_revoked', initialDelayMs: 5, onMessage: () => undefined, onStatus: (s) => statuses.push(s) });
    stream.start();
    await expect.poll(() => statuses.at(-1), { timeout: 5_000 }).toBe('unauthorized');
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(calls).toBe(1);
    stream.close();
  });
});
