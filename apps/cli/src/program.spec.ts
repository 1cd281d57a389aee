/**
 * The command line itself, run in process with captured streams: usage errors, help, version and
 * the error format. Everything here fails before a request is sent; commands against a real
 * controller are tested end to end (test/src/cli.spec.ts).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli, VERSION } from './program.js';

const home = mkdtempSync(join(tmpdir(), 'thpctl-program-'));
afterAll(() => rmSync(home, { recursive: true, force: true }));

async function run(...argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  const out: string[] = [];
  const err: string[] = [];
  stdout.on('data', (c: Buffer) => out.push(c.toString()));
  stderr.on('data', (c: Buffer) => err.push(c.toString()));
  const code = await runCli(argv, {
    stdout,
    stderr,
    stdin: Readable.from([]),
    env: { XDG_CONFIG_HOME: home, HOME: home },
    cwd: home,
    now: () => Date.parse('2026-11-25T12:00:00Z'),
    sleep: () => Promise.resolve(),
  });
  return { code, stdout: out.join(''), stderr: err.join('') };
}

describe('thpctl command line', () => {
  it('--help lists the commands and the exit codes (exit 0)', async () => {
    const r = await run('--help');
    expect(r.code).toBe(0);
    for (const word of ['login', 'policy', 'rollout', 'rollback', 'nodes', 'audit', 'Exit codes:', '8  --watch --timeout elapsed']) expect(r.stdout).toContain(word);
  });

  it('--version and -V print the version', async () => {
    expect(await run('--version')).toEqual({ code: 0, stdout: `${VERSION}\n`, stderr: '' });
    expect((await run('-V')).stdout).toBe(`${VERSION}\n`);
  });

  it('an unknown command is a usage error with a suggestion (exit 2)', async () => {
    const r = await run('polcy', 'list');
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("thpctl: unknown command 'polcy'");
    expect(r.stderr).toContain('(Did you mean policy?)');
  });

  it('a group without its subcommand shows its help on stderr (exit 2)', async () => {
    const r = await run('rollout');
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('Usage: thpctl rollout [options] [command]');
  });

  it('names the missing or malformed option', async () => {
    let r = await run('rollout', 'start', 'zgc-only');
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("thpctl: required option '--to-version <n>' not specified");
    r = await run('rollout', 'start', 'zgc-only', '--to-version', 'two');
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('"two" is not a whole number >= 1.');
    r = await run('rollout', 'pause', 'ro-1');
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("required option '--reason <text>' not specified");
    r = await run('policy', 'get', 'Not_A_Name');
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('"Not_A_Name" is not a policy name');
    r = await run('nodes', 'list', '--state', 'sideways');
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('"sideways" is not a node state');
    r = await run('-o', 'yaml', 'policy', 'list');
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('Allowed choices are table, json.');
  });

  it('refuses options that only make sense together', async () => {
    let r = await run('rollout', 'promote', 'ro-1', '--skip-gate');
    expect([r.code, r.stderr]).toEqual([2, 'thpctl: --skip-gate needs --reason <text> (it is written to the audit log)\n']);
    r = await run('rollback', 'zgc-only', '--to', '1', '--reason', 'x');
    expect([r.code, r.stderr]).toEqual([2, 'thpctl: --reason is only taken with --skip-gates\n']);
    r = await run('rollback', 'zgc-only', '--to', '1', '--skip-gates', '--reason', 'x', '--canary-bake', '1m');
    expect([r.code, r.stderr]).toEqual([2, 'thpctl: --skip-gates has no canary: drop --gates and --canary-bake\n']);
  });

  it('without a login says how to configure a server (exit 2); with --output json as a JSON error', async () => {
    let r = await run('policy', 'list');
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(`thpctl: no controller configured: run thpctl login --server URL, or pass --server URL or set THP_SERVER (no ${home}/thpctl/config.json)\n`);
    r = await run('policy', 'list', '-o', 'json');
    expect(r.code).toBe(2);
    expect(JSON.parse(r.stderr)).toEqual({ error: { message: expect.stringMatching(/^no controller configured/) as unknown, exitCode: 2, problems: [] } });
    r = await run('--server', 'gopher://x', 'nodes', 'list');
    expect([r.code, r.stderr]).toEqual([2, 'thpctl: --server: "gopher://x" must be an http:// or https:// URL, not gopher:\n']);
  });

  it('a missing policy file is named (exit 2) before anything is sent', async () => {
    const r = await run('--server', 'http://127.0.0.1:9', '--token', 'thp_x', 'policy', 'apply', '-f', 'nope.yaml');
    // The client is made first (no request yet), then the file is read.
    expect([r.code, r.stderr]).toEqual([2, 'thpctl: cannot read policy file nope.yaml: no such file\n']);
  });
});
