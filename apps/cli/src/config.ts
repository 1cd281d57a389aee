/**
 * Where thpctl keeps the server and token (`thpctl login`), and which server and token a command
 * uses: `--server`/`--token` flags, then THP_SERVER/THP_TOKEN, then the config file.
 *
 * The file is `$XDG_CONFIG_HOME/thpctl/config.json` (or `~/.config/thpctl/config.json`), written
 * with mode 0600 in a 0700 directory, atomically (a temporary file renamed over it): the token is
 * a credential.
 */
import { chmod, mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { CliError, EXIT } from './exit-codes.js';

export interface StoredConfig {
  readonly server: string;
  readonly token: string;
}

export type Source = 'flag' | 'env' | 'config';

export interface Connection {
  readonly server: string;
  readonly token: string | undefined;
  readonly serverSource: Source;
  readonly tokenSource: Source | undefined;
}

/** The config file's path: XDG_CONFIG_HOME when set and absolute (as the XDG spec requires), else ~/.config. */
export function configPath(env: Readonly<Record<string, string | undefined>>): string {
  const xdg = env['XDG_CONFIG_HOME'];
  const base = xdg !== undefined && xdg.startsWith('/') ? xdg : join(env['HOME'] !== undefined && env['HOME'] !== '' ? env['HOME'] : homedir(), '.config');
  return join(base, 'thpctl', 'config.json');
}

/**
 * A server URL as the API client uses it: http(s), no query or fragment, no trailing slash. A
 * bare `host:port` gets http:// (the controller's default listener is plain HTTP on loopback).
 */
export function normalizeServer(raw: string, where: string): string {
  const text = raw.trim();
  if (text === '') throw new CliError(EXIT.usage, `${where}: the server URL is empty`);
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(text) ? text : `http://${text}`;
  let url: URL;
  try {
    url = new URL(withScheme);
  } catch {
    throw new CliError(EXIT.usage, `${where}: "${raw}" is not a URL (expected e.g. http://127.0.0.1:8080)`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new CliError(EXIT.usage, `${where}: "${raw}" must be an http:// or https:// URL, not ${url.protocol}`);
  if (url.search !== '' || url.hash !== '') throw new CliError(EXIT.usage, `${where}: "${raw}" must not have a query or fragment`);
  if (url.username !== '' || url.password !== '') throw new CliError(EXIT.usage, `${where}: "${raw}" must not carry credentials (use a token)`);
  return `${url.origin}${url.pathname.replace(/\/+$/, '')}`;
}

/** A token as sent in `Authorization: Bearer`: printable, no spaces (anything else cannot be a thp token). */
export function checkToken(raw: string, where: string): string {
  const token = raw.trim();
  if (token === '') throw new CliError(EXIT.usage, `${where}: the token is empty`);
  if (!/^[\x21-\x7e]+$/.test(token)) throw new CliError(EXIT.usage, `${where}: the token has spaces or characters that cannot be sent in a header`);
  return token;
}

/** Parse the config file's text; every problem names the file. */
export function parseConfig(text: string, path: string): StoredConfig {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new CliError(EXIT.usage, `${path} is not valid JSON (${error instanceof Error ? error.message : String(error)}): run thpctl login again`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new CliError(EXIT.usage, `${path} must hold an object {"server", "token"}: run thpctl login again`);
  const record = value as Record<string, unknown>;
  const server = record['server'];
  const token = record['token'];
  if (typeof server !== 'string') throw new CliError(EXIT.usage, `${path}: "server" must be a string: run thpctl login again`);
  if (typeof token !== 'string') throw new CliError(EXIT.usage, `${path}: "token" must be a string: run thpctl login again`);
  return { server: normalizeServer(server, `${path} server`), token: checkToken(token, `${path} token`) };
}

/** The saved config, or undefined when there is none. Warns (via `warn`) when others can read it. */
export async function readConfig(path: string, warn: (message: string) => void): Promise<StoredConfig | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new CliError(EXIT.usage, `cannot read ${path}: ${(error as Error).message}`);
  }
  const mode = (await stat(path)).mode & 0o777;
  if ((mode & 0o077) !== 0) warn(`${path} can be read by other users (mode ${mode.toString(8).padStart(4, '0')}): chmod 600 it`);
  return parseConfig(text, path);
}

/** Write the config with mode 0600 (its directory 0700), replacing the old one atomically. */
export async function writeConfig(path: string, config: StoredConfig): Promise<void> {
  const dir = dirname(path);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const temporary = join(dir, `.config.json.${process.pid}.tmp`);
  try {
    await writeFile(temporary, `${JSON.stringify({ server: config.server, token: config.token }, null, 2)}\n`, { mode: 0o600 });
    // writeFile's mode is filtered by the umask and ignored for an existing file: set it explicitly.
    await chmod(temporary, 0o600);
    await rename(temporary, path);
  } catch (error) {
    await rm(temporary, { force: true });
    throw new CliError(EXIT.failed, `cannot write ${path}: ${(error as Error).message}`);
  }
}

/** Remove the saved config; false when there was none. */
export async function removeConfig(path: string): Promise<boolean> {
  try {
    await rm(path);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw new CliError(EXIT.failed, `cannot remove ${path}: ${(error as Error).message}`);
  }
}

/** Which server and token to use: flags over environment over the saved config. */
export function resolveConnection(input: {
  readonly flags: { readonly server?: string | undefined; readonly token?: string | undefined };
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly stored: StoredConfig | undefined;
  readonly configFile: string;
}): Connection {
  const { flags, env, stored } = input;
  const envServer = nonEmpty(env['THP_SERVER']);
  const envToken = nonEmpty(env['THP_TOKEN']);
  let server: string;
  let serverSource: Source;
  if (flags.server !== undefined) {
    server = normalizeServer(flags.server, '--server');
    serverSource = 'flag';
  } else if (envServer !== undefined) {
    server = normalizeServer(envServer, 'THP_SERVER');
    serverSource = 'env';
  } else if (stored) {
    server = stored.server;
    serverSource = 'config';
  } else {
    throw new CliError(EXIT.usage, `no controller configured: run thpctl login --server URL, or pass --server URL or set THP_SERVER (no ${input.configFile})`);
  }
  if (flags.token !== undefined) return { server, token: checkToken(flags.token, '--token'), serverSource, tokenSource: 'flag' };
  if (envToken !== undefined) return { server, token: checkToken(envToken, 'THP_TOKEN'), serverSource, tokenSource: 'env' };
  // The saved token belongs to the saved server: never send it to another one.
  if (stored && stored.server === server) return { server, token: stored.token, serverSource, tokenSource: 'config' };
  return { server, token: undefined, serverSource, tokenSource: undefined };
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value.trim() === '' ? undefined : value;
}
