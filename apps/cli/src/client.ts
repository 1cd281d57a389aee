/**
 * The controller's REST API (docs/controller.md) as thpctl uses it: bearer token, JSON or YAML
 * bodies, and every error answer turned into a CliError with the server's message, each detail
 * with its path (and line), and the exit code of its kind (exit-codes.ts).
 */
import { CliError, EXIT, exitCodeForApiError, exitCodeForHttpStatus, isApiErrorCode, type Problem } from './exit-codes.js';

export interface RequestOptions {
  readonly query?: Readonly<Record<string, string | number | boolean | undefined>>;
  readonly json?: unknown;
  /** A raw body (a policy document) with its content type. */
  readonly text?: { readonly body: string; readonly contentType: string };
  readonly headers?: Readonly<Record<string, string>>;
}

export interface Reply<T = unknown> {
  readonly status: number;
  readonly headers: Headers;
  readonly body: T;
}

/** Every request gives up after this long (the API answers in milliseconds; a hung proxy should not hang a script). */
const DEFAULT_TIMEOUT_MS = 30_000;

export class ApiClient {
  constructor(
    readonly server: string,
    private readonly token: string | undefined,
    private readonly timeoutMs = DEFAULT_TIMEOUT_MS,
  ) {}

  get<T = unknown>(path: string, query?: RequestOptions['query']): Promise<Reply<T>> {
    return this.request<T>('GET', path, query === undefined ? {} : { query });
  }

  post<T = unknown>(path: string, options: RequestOptions = {}): Promise<Reply<T>> {
    return this.request<T>('POST', path, options);
  }

  async request<T = unknown>(method: string, path: string, options: RequestOptions = {}): Promise<Reply<T>> {
    if (this.token === undefined) throw new CliError(EXIT.auth, `no token for ${this.server}: run thpctl login, or pass --token or set THP_TOKEN`);
    const url = new URL(`${this.server}${path}`);
    for (const [key, value] of Object.entries(options.query ?? {})) if (value !== undefined) url.searchParams.set(key, String(value));
    const headers: Record<string, string> = { accept: 'application/json', authorization: `Bearer ${this.token}`, ...options.headers };
    let body: string | undefined;
    if (options.json !== undefined) {
      body = JSON.stringify(options.json);
      headers['content-type'] = 'application/json';
    } else if (options.text) {
      body = options.text.body;
      headers['content-type'] = options.text.contentType;
    }
    let response: Response;
    try {
      response = await fetch(url, { method, headers, ...(body === undefined ? {} : { body }), signal: AbortSignal.timeout(this.timeoutMs) });
    } catch (error) {
      throw new CliError(EXIT.unreachable, `cannot reach the controller at ${this.server}: ${networkReason(error, this.timeoutMs)}`);
    }
    let text: string;
    try {
      text = await response.text();
    } catch (error) {
      throw new CliError(EXIT.unreachable, `the controller at ${this.server} broke off its answer to ${method} ${path}: ${networkReason(error, this.timeoutMs)}`);
    }
    const parsed = parseJson(text);
    if (response.ok) {
      if (parsed === undefined && text.trim() !== '') throw notAController(this.server, method, path, response);
      return { status: response.status, headers: response.headers, body: parsed as T };
    }
    throw apiError(parsed, response, this.server, method, path);
  }
}

function parseJson(text: string): unknown {
  if (text.trim() === '') return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

function notAController(server: string, method: string, path: string, response: { readonly status: number; readonly headers: Headers }): CliError {
  return new CliError(
    EXIT.unreachable,
    `${server} did not answer ${method} ${path} like a thp-fleet controller (HTTP ${response.status}, ${response.headers.get('content-type') ?? 'no content type'}): check the server URL`,
  );
}

/** The API's `{"error": {code, message, details}}` as a CliError; anything else by its HTTP status. */
export function apiError(body: unknown, response: { status: number; headers: Headers }, server: string, method: string, path: string): CliError {
  const error = typeof body === 'object' && body !== null ? (body as { error?: unknown }).error : undefined;
  if (typeof error === 'object' && error !== null) {
    const { code, message, details } = error as { code?: unknown; message?: unknown; details?: unknown };
    const problems: Problem[] = Array.isArray(details) ? details.flatMap((d) => toProblem(d)) : [];
    const text = typeof message === 'string' && message !== '' ? message : `HTTP ${response.status}`;
    if (isApiErrorCode(code)) return new CliError(exitCodeForApiError(code), text, problems, { code });
    return new CliError(exitCodeForHttpStatus(response.status), text, problems);
  }
  if (response.status === 404) return notAController(server, method, path, response);
  return new CliError(exitCodeForHttpStatus(response.status), `${method} ${path} failed: HTTP ${response.status}${response.status >= 500 ? ' (server error)' : ''}`);
}

function toProblem(detail: unknown): Problem[] {
  if (typeof detail !== 'object' || detail === null) return [];
  const { path, message, line, column } = detail as Record<string, unknown>;
  if (typeof message !== 'string') return [];
  return [{ path: typeof path === 'string' ? path : '', message, ...(typeof line === 'number' ? { line } : {}), ...(typeof column === 'number' ? { column } : {}) }];
}

function networkReason(error: unknown, timeoutMs: number): string {
  if (error instanceof Error && (error.name === 'TimeoutError' || error.name === 'AbortError')) return `no answer within ${Math.round(timeoutMs / 1000)} s`;
  const cause = error instanceof Error ? (error as Error & { cause?: unknown }).cause : undefined;
  if (cause instanceof Error) {
    const code = (cause as NodeJS.ErrnoException).code;
    switch (code) {
      case 'ECONNREFUSED':
        return 'connection refused (is the controller running?)';
      case 'ENOTFOUND':
      case 'EAI_AGAIN':
        return `the host name does not resolve (${code})`;
      case 'ECONNRESET':
        return 'the connection was reset';
      default:
        return code !== undefined ? `${code}: ${cause.message}` : cause.message;
    }
  }
  return error instanceof Error ? error.message : String(error);
}
