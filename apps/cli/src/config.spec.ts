import { mkdtempSync, readFileSync, rmSync, statSync, chmodSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { checkToken, configPath, normalizeServer, parseConfig, readConfig, removeConfig, resolveConnection, writeConfig } from './config.js';
import { CliError, EXIT } from './exit-codes.js';

const usage = (fn: () => unknown): CliError => {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(CliError);
    expect((error as CliError).exitCode).toBe(EXIT.usage);
    return error as CliError;
  }
  throw new Error('expected a usage error');
};

describe('configPath', () => {
  it('uses an absolute XDG_CONFIG_HOME, else ~/.config', () => {
    expect(configPath({ XDG_CONFIG_HOME: '/x/cfg', HOME: '/home/a' })).toBe('/x/cfg/thpctl/config.json');
    expect(configPath({ HOME: '/home/a' })).toBe('/home/a/.config/thpctl/config.json');
    // The XDG spec: a relative path is invalid and ignored.
    expect(configPath({ XDG_CONFIG_HOME: 'rel', HOME: '/home/a' })).toBe('/home/a/.config/thpctl/config.json');
  });
});

describe('normalizeServer', () => {
  it('accepts http(s) URLs and host:port, without a trailing slash', () => {
    expect(normalizeServer('http://127.0.0.1:8080/', 'x')).toBe('http://127.0.0.1:8080');
    expect(normalizeServer('127.0.0.1:8080', 'x')).toBe('http://127.0.0.1:8080');
    expect(normalizeServer(' https://thp.example.net/base/ ', 'x')).toBe('https://thp.example.net/base');
    expect(normalizeServer('HTTP://Host:9', 'x')).toBe('http://host:9');
  });

  it('rejects what is not a usable controller URL, naming where it came from', () => {
    expect(usage(() => normalizeServer('', '--server')).message).toBe('--server: the server URL is empty');
    expect(usage(() => normalizeServer('ftp://h', 'THP_SERVER')).message).toMatch(/^THP_SERVER: "ftp:\/\/h" must be an http:\/\/ or https:\/\/ URL/);
    expect(usage(() => normalizeServer('http://h/?a=1', '--server')).message).toMatch(/must not have a query/);
    expect(usage(() => normalizeServer('http://u:p@h', '--server')).message).toMatch(/must not carry credentials/);
    expect(usage(() => normalizeServer('http://[::1', '--server')).message).toMatch(/is not a URL/);
  });
});

describe('checkToken', () => {
  it('trims, and refuses empty tokens and ones that cannot be sent in a header', () => {
    expect(checkToken(' thp_abc \n', 'x')).toBe('thp_abc');
    expect(usage(() => checkToken('  ', '--token')).message).toBe('--token: the token is empty');
    expect(usage(() => checkToken('thp a', 'THP_TOKEN')).message).toMatch(/^THP_TOKEN: the token has spaces/);
    usage(() => checkToken('thp_\u0000', 'x'));
  });
});

describe('parseConfig', () => {
  it('reads {server, token}', () => {
    expect(parseConfig('{"server":"http://h:1/","token":"thp_t"}', '/c.json')).toEqual({ server: 'http://h:1', token: 'thp_t' });
  });

  it('names the file and the field for every bad config', () => {
    expect(usage(() => parseConfig('{', '/c.json')).message).toMatch(/^\/c\.json is not valid JSON/);
    expect(usage(() => parseConfig('[]', '/c.json')).message).toMatch(/must hold an object/);
    expect(usage(() => parseConfig('{"token":"t"}', '/c.json')).message).toMatch(/"server" must be a string/);
    expect(usage(() => parseConfig('{"server":"http://h"}', '/c.json')).message).toMatch(/"token" must be a string/);
  });
});

describe('resolveConnection', () => {
  const stored = { server: 'http://saved:8080', token: 'thp_saved' };
  const base = { configFile: '/c.json' };

  it('takes flags over the environment over the saved config', () => {
    expect(resolveConnection({ ...base, flags: { server: 'flag:1', token: 'thp_flag' }, env: { THP_SERVER: 'env:1', THP_TOKEN: 'thp_env' }, stored })).toEqual({
      server: 'http://flag:1',
      token: 'thp_flag',
      serverSource: 'flag',
      tokenSource: 'flag',
    });
    expect(resolveConnection({ ...base, flags: {}, env: { THP_SERVER: 'env:1', THP_TOKEN: 'thp_env' }, stored })).toMatchObject({ server: 'http://env:1', token: 'thp_env', serverSource: 'env', tokenSource: 'env' });
    expect(resolveConnection({ ...base, flags: {}, env: {}, stored })).toMatchObject({ server: 'http://saved:8080', token: 'thp_saved', serverSource: 'config', tokenSource: 'config' });
    // An empty variable counts as unset.
    expect(resolveConnection({ ...base, flags: {}, env: { THP_SERVER: ' ', THP_TOKEN: '' }, stored })).toMatchObject({ serverSource: 'config', tokenSource: 'config' });
  });

  it('never sends the saved token to another server', () => {
    expect(resolveConnection({ ...base, flags: { server: 'http://other:1' }, env: {}, stored })).toEqual({ server: 'http://other:1', token: undefined, serverSource: 'flag', tokenSource: undefined });
    expect(resolveConnection({ ...base, flags: { server: 'http://saved:8080/' }, env: {}, stored }).token).toBe('thp_saved');
  });

  it('says how to configure a server when there is none', () => {
    expect(usage(() => resolveConnection({ ...base, flags: {}, env: {}, stored: undefined })).message).toMatch(/no controller configured: run thpctl login --server URL.*\/c\.json/);
  });
});

describe('the config file', () => {
  let dir: string | undefined;
  afterEach(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
    dir = undefined;
  });

  it('is written with mode 0600 in a 0700 directory, read back, replaced and removed', async () => {
    dir = mkdtempSync(join(tmpdir(), 'thpctl-config-'));
    const path = configPath({ XDG_CONFIG_HOME: dir });
    await writeConfig(path, { server: 'http://h:1', token: 'thp_one' });
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(statSync(dirname(path)).mode & 0o777).toBe(0o700);
    const warnings: string[] = [];
    expect(await readConfig(path, (m) => warnings.push(m))).toEqual({ server: 'http://h:1', token: 'thp_one' });
    expect(warnings).toEqual([]);
    chmodSync(path, 0o644);
    await writeConfig(path, { server: 'http://h:2', token: 'thp_two' });
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(JSON.parse(readFileSync(path, 'utf8'))).toEqual({ server: 'http://h:2', token: 'thp_two' });
    expect(await removeConfig(path)).toBe(true);
    expect(await removeConfig(path)).toBe(false);
    expect(await readConfig(path, (m) => warnings.push(m))).toBeUndefined();
  });

  it('warns when other users can read it', async () => {
    dir = mkdtempSync(join(tmpdir(), 'thpctl-config-'));
    const path = join(dir, 'thpctl', 'config.json');
    mkdirSync(dirname(path));
    writeFileSync(path, '{"server":"http://h","token":"thp_t"}', { mode: 0o644 });
    chmodSync(path, 0o644);
    const warnings: string[] = [];
    await readConfig(path, (m) => warnings.push(m));
    expect(warnings).toEqual([`${path} can be read by other users (mode 0644): chmod 600 it`]);
  });
});
