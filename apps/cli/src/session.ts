/**
 * What every command gets: the process's streams and environment (passed in, so the whole CLI
 * runs against any streams), the global options, the API client, and output in the chosen
 * format. Errors are printed here too: the message, then every problem with its path and line.
 */
import type { Writable } from 'node:stream';
import { ApiClient } from './client.js';
import { configPath, readConfig, resolveConnection, type Connection } from './config.js';
import type { CliError, ExitCode, Problem } from './exit-codes.js';

export interface Io {
  readonly stdout: Writable & { readonly isTTY?: boolean; readonly columns?: number };
  readonly stderr: Writable & { readonly isTTY?: boolean };
  readonly stdin: NodeJS.ReadableStream & { readonly isTTY?: boolean; setRawMode?(mode: boolean): unknown };
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly cwd: string;
  now(): number;
  sleep(ms: number): Promise<void>;
}

export type OutputFormat = 'table' | 'json';

export interface GlobalOptions {
  readonly server?: string;
  readonly token?: string;
  readonly output: OutputFormat;
}

export class Session {
  readonly configFile: string;
  /** What the process exits with when the command returns normally (a watched rollout's outcome). */
  exitCode: ExitCode = 0;
  private connection: Connection | undefined;

  constructor(
    readonly io: Io,
    readonly globals: GlobalOptions,
  ) {
    this.configFile = configPath(io.env);
  }

  get json(): boolean {
    return this.globals.output === 'json';
  }

  /** Server and token: flags, environment, config file (in that order). */
  async connect(): Promise<Connection> {
    if (this.connection) return this.connection;
    const stored = await readConfig(this.configFile, (message) => this.warn(message));
    this.connection = resolveConnection({ flags: { server: this.globals.server, token: this.globals.token }, env: this.io.env, stored, configFile: this.configFile });
    return this.connection;
  }

  async client(): Promise<ApiClient> {
    const { server, token } = await this.connect();
    return new ApiClient(server, token);
  }

  /** Lines for people (table output). */
  print(lines: string | readonly string[]): void {
    const all = typeof lines === 'string' ? [lines] : lines;
    if (all.length > 0) this.io.stdout.write(`${all.join('\n')}\n`);
  }

  /** A value for scripts (json output): pretty-printed, one document. */
  printJson(value: unknown): void {
    this.io.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
  }

  /** One JSON document per line (for streams such as `--watch --output json`). */
  printJsonLine(value: unknown): void {
    this.io.stdout.write(`${JSON.stringify(value)}\n`);
  }

  /** Either format: `json` as is, or the human lines. */
  output(json: unknown, human: () => string | readonly string[]): void {
    if (this.json) this.printJson(json);
    else this.print(human());
  }

  warn(message: string): void {
    this.io.stderr.write(`thpctl: warning: ${message}\n`);
  }

  /** Notes for people that scripts reading stdout must not get: on stderr. */
  note(message: string): void {
    this.io.stderr.write(`${message}\n`);
  }
}

/** `file:3:5: spec.rules[0].allow: message`, or `  spec.rules[0].allow (line 3, column 5): message`. */
export function formatProblem(problem: Problem, file: string | undefined, label = ''): string {
  const path = problem.path === '' ? '' : `${problem.path}: `;
  const tag = label === '' ? '' : `${label}: `;
  if (file !== undefined) {
    const at = problem.line === undefined ? '' : `:${problem.line}${problem.column === undefined ? '' : `:${problem.column}`}`;
    return `${file}${at}: ${tag}${path}${problem.message}`;
  }
  const at = problem.line === undefined ? '' : ` (line ${problem.line}${problem.column === undefined ? '' : `, column ${problem.column}`})`;
  return `  ${tag}${problem.path === '' ? '' : problem.path}${at}${problem.path === '' && at === '' ? '' : ': '}${problem.message}`;
}

/** The error as printed on stderr: human text, or a JSON document with `--output json`. */
export function formatError(error: CliError, json: boolean): string {
  if (json) {
    return `${JSON.stringify({ error: { message: error.message, exitCode: error.exitCode, ...(error.code ? { code: error.code } : {}), ...(error.file ? { file: error.file } : {}), problems: error.problems } })}\n`;
  }
  const lines = [`thpctl: ${error.message}`, ...error.problems.map((p) => formatProblem(p, error.file))];
  return `${lines.join('\n')}\n`;
}
