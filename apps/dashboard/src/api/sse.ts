/**
 * Server-sent events from `GET /api/v1/events`, read with fetch so the token travels in the
 * Authorization header (EventSource cannot send headers, and a token in the URL ends up in
 * access logs). The parser is pure (the WHATWG "event stream" rules); `EventStream` adds
 * reconnection with jittered exponential backoff and tells its listener after every reconnect
 * that events may have been missed, so views refetch instead of trusting a gap.
 */

export interface SseMessage {
  /** `event:` field; "message" when absent. */
  readonly event: string;
  readonly data: string;
  readonly id: string | null;
}

/**
 * Incremental parser: feed text chunks as they arrive (they may split lines anywhere), get the
 * complete messages. Lines end in LF, CRLF or CR; a blank line dispatches; lines starting with
 * ':' are comments; a message without data is not dispatched (as in the spec).
 */
export class SseParser {
  private buffer = '';
  private event = '';
  private data: string[] = [];
  private id: string | null = null;
  private sawData = false;
  /** A chunk that ended in CR: if the next starts with LF it belongs to the same line end. */
  private pendingCr = false;
  /** The last `retry:` the server asked for, in ms. */
  retryMs: number | null = null;

  feed(chunk: string): SseMessage[] {
    let text = chunk;
    if (this.pendingCr && text.startsWith('\n')) text = text.slice(1);
    this.pendingCr = false;
    this.buffer += text;
    const out: SseMessage[] = [];
    let start = 0;
    for (let i = 0; i < this.buffer.length; i++) {
      const c = this.buffer.charCodeAt(i);
      if (c !== 10 && c !== 13) continue;
      const line = this.buffer.slice(start, i);
      if (c === 13) {
        if (i + 1 === this.buffer.length) this.pendingCr = true;
        else if (this.buffer.charCodeAt(i + 1) === 10) i++;
      }
      start = i + 1;
      const message = this.line(line);
      if (message) out.push(message);
    }
    this.buffer = this.buffer.slice(start);
    return out;
  }

  private line(line: string): SseMessage | undefined {
    if (line === '') {
      const message = this.sawData ? { event: this.event === '' ? 'message' : this.event, data: this.data.join('\n'), id: this.id } : undefined;
      this.event = '';
      this.data = [];
      this.sawData = false;
      return message;
    }
    if (line.startsWith(':')) return undefined;
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    switch (field) {
      case 'event':
        this.event = value;
        break;
      case 'data':
        this.data.push(value);
        this.sawData = true;
        break;
      case 'id':
        if (!value.includes('\u0000')) this.id = value;
        break;
      case 'retry':
        if (/^\d+$/.test(value)) this.retryMs = Number(value);
        break;
      default:
        break; // Unknown fields are ignored, as the spec says.
    }
    return undefined;
  }
}

export type StreamStatus = 'connecting' | 'open' | 'reconnecting' | 'unauthorized' | 'closed';

export interface EventStreamOptions {
  readonly url: string;
  readonly token: string;
  /** Every message except keepalive pings. */
  onMessage(message: SseMessage): void;
  /** Connection state changes; `resync` is true when events may have been missed (after a reconnect). */
  onStatus?(status: StreamStatus, detail: { resync: boolean; error?: string; retryInMs?: number }): void;
  readonly fetchFn?: (input: string, init?: RequestInit) => Promise<Response>;
  /** Backoff bounds (ms); operational choices: retry fast at first, never hammer a sick controller. */
  readonly initialDelayMs?: number;
  readonly maxDelayMs?: number;
  /** A stream silent this long is considered dead (the controller pings every 15 s). */
  readonly idleTimeoutMs?: number;
  readonly random?: () => number;
}

/** Delay before reconnect attempt `attempt` (0-based): doubling, capped, with ±20 % jitter. */
export function backoffDelay(attempt: number, initialMs: number, maxMs: number, random: () => number): number {
  const base = Math.min(maxMs, initialMs * 2 ** Math.min(attempt, 30));
  return Math.round(base * (0.8 + 0.4 * random()));
}

export class EventStream {
  private controller: AbortController | null = null;
  private closed = false;
  private attempt = 0;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private connectedOnce = false;

  constructor(private readonly options: EventStreamOptions) {}

  start(): void {
    void this.connect();
  }

  close(): void {
    this.closed = true;
    if (this.timer !== null) clearTimeout(this.timer);
    this.controller?.abort();
    this.options.onStatus?.('closed', { resync: false });
  }

  private async connect(): Promise<void> {
    if (this.closed) return;
    const controller = new AbortController();
    this.controller = controller;
    this.options.onStatus?.(this.connectedOnce ? 'reconnecting' : 'connecting', { resync: false });
    const idleMs = this.options.idleTimeoutMs ?? 45_000;
    let idle: ReturnType<typeof setTimeout> | null = null;
    const touch = (): void => {
      if (idle !== null) clearTimeout(idle);
      idle = setTimeout(() => controller.abort(), idleMs);
    };
    let failure: string | undefined;
    try {
      const fetchFn = this.options.fetchFn ?? ((input: string, init?: RequestInit) => fetch(input, init));
      touch();
      const response = await fetchFn(this.options.url, { headers: { authorization: `Bearer ${this.options.token}`, accept: 'text/event-stream' }, signal: controller.signal, cache: 'no-store' });
      if (response.status === 401 || response.status === 403) {
        this.closed = true;
        this.options.onStatus?.('unauthorized', { resync: false, error: `${response.status}` });
        return;
      }
      if (!response.ok || !response.body) throw new Error(`HTTP ${response.status}`);
      const resync = this.connectedOnce;
      this.connectedOnce = true;
      this.attempt = 0;
      this.options.onStatus?.('open', { resync });
      const parser = new SseParser();
      const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        touch();
        for (const message of parser.feed(value)) {
          if (message.event === 'ping') continue;
          this.options.onMessage(message);
        }
      }
      failure = 'the stream ended';
    } catch (error) {
      failure = error instanceof Error ? error.message : String(error);
    } finally {
      if (idle !== null) clearTimeout(idle);
    }
    if (this.closed) return;
    const delay = backoffDelay(this.attempt++, this.options.initialDelayMs ?? 1_000, this.options.maxDelayMs ?? 30_000, this.options.random ?? Math.random);
    this.options.onStatus?.('reconnecting', { resync: false, ...(failure !== undefined ? { error: failure } : {}), retryInMs: delay });
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.connect();
    }, delay);
  }
}
