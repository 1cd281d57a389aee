/* eslint-disable @typescript-eslint/no-explicit-any, @typescript-eslint/no-unsafe-member-access, @typescript-eslint/no-unsafe-assignment, @typescript-eslint/no-unsafe-call, @typescript-eslint/no-unsafe-return -- JSON output is untyped and checked with expect() */
/**
 * Issue 8, "Must be shown": thpctl driving the real API. The real thpctl process
 * (apps/cli/bin/thpctl.mjs, TypeScript through tsx, as after `npm ci`) against the real
 * controller process on the real Postgres, with one agent process hosting a simulated fleet of a
 * dozen nodes (libs/mm-sim at 60 simulated seconds per wall second). Each command's output and
 * exit code is checked, including a rollout that fails its canary (`rollout start --watch`
 * exits 1) and a policy with validation errors (their paths and lines, exit 3).
 *
 * Only public surfaces: processes, their arguments, standard streams and exit codes; REST to
 * look at the world; for the broken-chain case, SQL as an attacker with database access.
 */
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createTestDatabase, type TestDatabase } from '@thp-fleet/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EXAMPLE_POLICY, Rest, STANDARD_GATES, freePort, newSecrets, startController, startSimFleet, waitFor, type AgentFleet, type ControllerProcess, type Secrets } from './rollout.harness.js';

const THPCTL = fileURLToPath(new URL('../../apps/cli/bin/thpctl.mjs', import.meta.url));
const FLEET_SIZE = 12;

interface Run {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

describe('thpctl against a controller and a simulated fleet (processes)', () => {
  let db: TestDatabase;
  let secrets: Secrets;
  let controller: ControllerProcess;
  let fleet: AgentFleet;
  let rest: Rest;
  let work: string;
  let fleetSince: number;

  /** Run thpctl as a user would: its own process, a private config directory, `work` as the current directory. */
  const thpctl = (args: readonly string[], options: { stdin?: string; env?: Record<string, string> } = {}): Promise<Run> =>
    new Promise((resolve, reject) => {
      const child = spawn(process.execPath, [THPCTL, ...args], {
        cwd: work,
        env: { PATH: process.env['PATH'] ?? '', HOME: work, XDG_CONFIG_HOME: join(work, 'config'), ...options.env },
        stdio: ['pipe', 'pipe', 'pipe'],
      });
      const out: Buffer[] = [];
      const err: Buffer[] = [];
      child.stdout.on('data', (c: Buffer) => out.push(c));
      child.stderr.on('data', (c: Buffer) => err.push(c));
      const timer = setTimeout(() => child.kill('SIGKILL'), 170_000);
      child.once('error', reject);
      child.once('close', (code) => {
        clearTimeout(timer);
        resolve({ code, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString() });
      });
      child.stdin.end(options.stdin ?? '');
    });

  /** Run and expect an exit code; on a surprise, show everything thpctl printed. */
  const expectRun = async (args: readonly string[], code: number, options?: { stdin?: string; env?: Record<string, string> }): Promise<Run> => {
    const run = await thpctl(args, options);
    expect(run.code, `thpctl ${args.join(' ')}\nstdout:\n${run.stdout}\nstderr:\n${run.stderr}`).toBe(code);
    return run;
  };

  const json = (run: Run): any => JSON.parse(run.stdout);

  const file = (name: string, text: string): string => {
    writeFileSync(join(work, name), text);
    return name;
  };

  const fastPlan = () => file('fast.yaml', 'steps:\n  - { name: canary, select: { count: 1 }, bake: 1s }\n  - { name: fleet, select: { percent: 100 }, bake: 1s }\n');

  beforeAll(async () => {
    db = await createTestDatabase('cli-e2e');
    secrets = newSecrets();
    controller = await startController({ db, secrets, grpcPort: await freePort() });
    rest = new Rest(controller.httpUrl, secrets.adminToken);
    fleet = startSimFleet({ grpcAddress: controller.grpcAddress, secrets, nodes: FLEET_SIZE, timeScale: 60, seed: 11 });
    work = mkdtempSync(join(tmpdir(), 'thpctl-e2e-'));
    await waitFor('the simulated fleet to connect', async () => (await rest.nodes()).filter((n) => n.connected).length === FLEET_SIZE, 90_000);
    fleetSince = Date.now();
  }, 240_000);

  afterAll(async () => {
    await fleet?.stop('SIGTERM');
    await controller?.stop('SIGTERM');
    await db?.drop();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('without a login says how to configure the server (exit 2)', async () => {
    const run = await expectRun(['policy', 'list'], 2);
    expect(run.stderr).toBe(`thpctl: no controller configured: run thpctl login --server URL, or pass --server URL or set THP_SERVER (no ${join(work, 'config', 'thpctl', 'config.json')})\n`);
  });

  it('login: a wrong token is refused (exit 4) and nothing is saved; the right one is verified and saved with mode 0600', async () => {
    const bad = await expectRun(['login', '--server', controller.httpUrl], 4, { stdin: 'thp_not-a-real-token-not-a-real-token\n' });
    expect(bad.stderr).toMatch(/^thpctl: the controller at http:\/\/127\.0\.0\.1:\d+ refused the token: /);
    expect(() => statSync(join(work, 'config', 'thpctl', 'config.json'))).toThrow();

    const good = await expectRun(['login', '--server', `${controller.httpUrl}/`], 0, { stdin: `${secrets.adminToken}\n` });
    const path = join(work, 'config', 'thpctl', 'config.json');
    expect(good.stdout).toBe(`Logged in to ${controller.httpUrl} as bootstrap-admin (admin). Saved to ${path}.\n`);
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(JSON.parse(readFileSync(path, 'utf8'))).toEqual({ server: controller.httpUrl, token: secrets.adminToken });

    const who = await expectRun(['whoami'], 0);
    expect(who.stdout).toContain(`server: ${controller.httpUrl} (from config)`);
    expect(who.stdout).toMatch(/token: {2}bootstrap-admin #\S+, role admin \(from config\)/);
    // THP_TOKEN overrides the saved token: a bad one is an auth error.
    const env = await expectRun(['policy', 'list'], 4, { env: { THP_TOKEN: 'thp_revoked-or-never-was-0000000000000' } });
    expect(env.stderr).toBe('thpctl: unknown, revoked or expired API token\n');
    // An unreachable server is exit 7, with the reason.
    const closed = await freePort();
    const down = await expectRun(['--server', `127.0.0.1:${closed}`, '--token', secrets.adminToken, 'nodes', 'list'], 7);
    expect(down.stderr).toBe(`thpctl: cannot reach the controller at http://127.0.0.1:${closed}: connection refused (is the controller running?)\n`);
  });

  it('policy apply: creates, is idempotent, adds a version; validation errors come with paths and lines (exit 3); a stale version is a conflict (exit 5)', async () => {
    const zgc = file('zgc-only.yaml', EXAMPLE_POLICY('zgc-only'));
    expect((await expectRun(['policy', 'apply', '-f', zgc], 0)).stdout).toMatch(/^policy zgc-only created \(version 1, [0-9a-f]{12}\)\n$/);
    expect((await expectRun(['policy', 'apply', '-f', zgc, '-m', 'same again'], 0)).stdout).toBe('policy zgc-only unchanged: version 1 already means the same\n');
    const v2 = file('zgc-only-v2.yaml', EXAMPLE_POLICY('zgc-only').replace('maxPtesNone: 64', 'maxPtesNone: 32'));
    const added = json(await expectRun(['policy', 'apply', '-f', v2, '-m', 'collapse less', '-o', 'json'], 0));
    expect(added).toMatchObject({ action: 'version-added', created: true, version: { policy: 'zgc-only', version: 2, message: 'collapse less' } });

    // Two errors: a size that is not a THP size (line 11) and an unknown mode (line 13).
    const bad = file(
      'bad.yaml',
      [
        'apiVersion: thp.fleet/v1',
        'kind: ThpPolicy',
        'metadata:',
        '  name: zgc-only',
        'spec:',
        '  default: { action: deny }',
        '  rules:',
        '    - name: zgc',
        '      match:',
        '        cgroups: ["/workloads.slice/zgc-*"]',
        '      allow: { sizes: ["3M"] }',
        '  node:',
        '    enabled: sometimes',
        '',
      ].join('\n'),
    );
    const invalid = await expectRun(['policy', 'apply', '-f', bad], 3);
    expect(invalid.stdout).toBe('');
    const lines = invalid.stderr.trimEnd().split('\n');
    expect(lines[0]).toBe('thpctl: bad.yaml: the policy has 2 errors');
    expect(lines[1]).toMatch(/^bad\.yaml:11:\d+: spec\.rules\[0\]\.allow\.sizes\[0\]: 3M is not a THP size/);
    expect(lines[2]).toMatch(/^bad\.yaml:13:\d+: spec\.node\.enabled: enabled "sometimes" is not one of "always", "madvise", "never"$/);
    const invalidJson = JSON.parse((await expectRun(['policy', 'apply', '-f', bad, '-o', 'json'], 3)).stderr);
    expect(invalidJson.error).toMatchObject({ exitCode: 3, code: 'validation_failed', file: 'bad.yaml' });
    expect(invalidJson.error.problems.map((p: any) => [p.path, p.line])).toEqual([
      ['spec.rules[0].allow.sizes[0]', 11],
      ['spec.node.enabled', 13],
    ]);
    // A YAML syntax error, from standard input.
    const syntax = await expectRun(['policy', 'apply', '-f', '-'], 3, { stdin: 'apiVersion: thp.fleet/v1\nmetadata: [\n' });
    expect(syntax.stderr).toMatch(/^thpctl: stdin: the policy has \d+ errors?\nstdin:\d+:\d+: /);
    // Nothing was written by the bad documents.
    expect((await rest.get('/api/v1/policies/zgc-only')).body.policy.latestVersion).toBe(2);

    // Editing version 1 when the policy is at 2: refused, never overwritten.
    const stale = await expectRun(['policy', 'apply', '-f', zgc, '--expected-version', '1'], 5);
    expect(stale.stderr).toMatch(/^thpctl: policy zgc-only is at version 2, not 1: reload it and apply your change again/);
    await expectRun(['policy', 'apply', '-f', 'missing.yaml'], 2);

    expect((await expectRun(['policy', 'apply', '-f', file('everywhere.yaml', EXAMPLE_POLICY('thp-everywhere')), '--dry-run'], 0)).stdout).toBe('everywhere.yaml: valid. Would create policy thp-everywhere (version 1).\n');
    await expectRun(['policy', 'apply', '-f', 'everywhere.yaml'], 0);
  });

  it('policy list | get | diff, as tables and as JSON', async () => {
    const list = await expectRun(['policy', 'list'], 0);
    const rows = list.stdout.trimEnd().split('\n');
    expect(rows[0]).toMatch(/^NAME\s+LATEST\s+UPDATED\s+DESCRIPTION$/);
    expect(rows.slice(1).map((r) => r.split(/\s+/).slice(0, 2))).toEqual([
      ['thp-everywhere', 'v1'],
      ['zgc-only', 'v2'],
    ]);
    expect(json(await expectRun(['policy', 'list', '-o', 'json'], 0)).policies.map((p: any) => [p.name, p.latestVersion])).toEqual([
      ['thp-everywhere', 1],
      ['zgc-only', 2],
    ]);

    const get = (await expectRun(['policy', 'get', 'zgc-only'], 0)).stdout;
    expect(get).toMatch(/^policy zgc-only: latest version 2, "THP \(2M, madvised memory only\)/);
    expect(get).toMatch(/\n\s+v2 {2}\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ {2}token:bootstrap-admin#\S+ {2}[0-9a-f]{12} {2}collapse less\n/);
    expect(get).toMatch(/\n\s+v1 {2}/);
    // --version: the document as submitted, under a comment line saying which version it is.
    const source = (await expectRun(['policy', 'get', 'zgc-only', '--version', '1'], 0)).stdout;
    const detail = json(await expectRun(['policy', 'get', 'zgc-only', '--version', '1', '-o', 'json'], 0));
    expect(detail).toMatchObject({ policy: 'zgc-only', version: 1, source: EXAMPLE_POLICY('zgc-only') });
    const newline = source.indexOf('\n');
    expect(source.slice(0, newline)).toMatch(new RegExp(`^# zgc-only version 1 by token:bootstrap-admin#\\S+, \\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\dZ, sha256 ${detail.specHash}$`));
    expect(source.slice(newline + 1)).toBe(EXAMPLE_POLICY('zgc-only'));

    expect((await expectRun(['policy', 'diff', 'zgc-only', '1', '2'], 0)).stdout).toBe('policy zgc-only: version 1 → 2: 1 change\n~ spec.node.khugepaged.maxPtesNone: 64 → 32\n');
    expect(json(await expectRun(['policy', 'diff', 'zgc-only', '1', '2', '-o', 'json'], 0)).changes).toEqual([{ path: 'spec.node.khugepaged.maxPtesNone', kind: 'changed', before: 64, after: 32 }]);
    expect((await expectRun(['policy', 'get', 'no-such-policy'], 6)).stderr).toBe('thpctl: policy no-such-policy not found\n');
    expect((await expectRun(['policy', 'get', 'zgc-only', '--version', '9'], 6)).stderr).toBe('thpctl: policy zgc-only has no version 9 (latest is 2)\n');
  });

  it('nodes list: every node with its state, as a table and as JSON; filters', async () => {
    const table = (await expectRun(['nodes', 'list'], 0)).stdout.trimEnd().split('\n');
    expect(table[0]).toMatch(/^NODE\s+STATE\s+DESIRED\s+ACKED\s+OBSERVED\s+LAST SEEN\s+DRIFT \/ REASON$/);
    expect(table.slice(1, 1 + FLEET_SIZE).map((r) => r.split(/\s+/).slice(0, 3))).toEqual(Array.from({ length: FLEET_SIZE }, (_, i) => [`sim-${String(i + 1).padStart(3, '0')}`, 'unassigned', '-']));
    expect(table.at(-1)).toBe(`${FLEET_SIZE} nodes: ${FLEET_SIZE} unassigned`);
    const all = json(await expectRun(['nodes', 'list', '-o', 'json'], 0));
    expect(all.total).toBe(FLEET_SIZE);
    expect(all.nodes).toHaveLength(FLEET_SIZE);
    const zoneA = json(await expectRun(['nodes', 'list', '--labels', 'zone=zone-a', '-o', 'json'], 0));
    expect(zoneA.nodes.length).toBeGreaterThan(0);
    expect(zoneA.nodes.length).toBeLessThan(FLEET_SIZE);
    expect(zoneA.nodes.every((n: any) => n.labels.zone === 'zone-a')).toBe(true);
    expect((await expectRun(['nodes', 'list', '--state', 'drifted,nacked'], 0)).stdout).toBe('No nodes.\n');
    expect((await expectRun(['nodes', 'list', '--state', 'drift'], 2)).stderr).toContain('"drift" is not a node state: use in-sync, drifted, pending, nacked, stale, incompatible, unassigned.');
  });

  it('rollout start --watch follows a rollout to the end (exit 0); plan errors point into the plan file (exit 3)', async () => {
    const badPlan = file('bad-plan.yaml', 'steps:\n  - name: canary\n    select: { count: 1 }\n    bake: soon\n  - name: fleet\n    select: { percent: 50 }\n');
    const invalid = await expectRun(['rollout', 'start', 'zgc-only', '--to-version', '1', '--plan', badPlan], 3);
    expect(invalid.stderr).toBe(
      [
        'thpctl: the plan has 2 problem(s)',
        'bad-plan.yaml:4:11: steps[0].bake: must be a duration such as "90s", "5m", "2h" or a whole number of milliseconds',
        'bad-plan.yaml:6:13: steps[1].select: the last step must select the whole targeted fleet ({ percent: 100 }); use target to roll out to part of the fleet',
        '',
      ].join('\n'),
    );
    const unparsable = await expectRun(['rollout', 'start', 'zgc-only', '--to-version', '1', '--plan', file('broken.yaml', 'steps: [\n')], 3);
    expect(unparsable.stderr).toMatch(/^thpctl: plan broken\.yaml is not valid YAML or JSON\nbroken\.yaml:\d+:\d+: /);
    expect((await expectRun(['rollout', 'start', 'zgc-only', '--to-version', '7', '--plan', fastPlan()], 6)).stderr).toMatch(/^thpctl: .*version 7/);

    const run = await expectRun(['rollout', 'start', 'zgc-only', '--to-version', '1', '--plan', fastPlan(), '--watch', '--interval', '300ms'], 0);
    // Not a terminal: one line per rollout event, then the summary.
    const lines = run.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ {2}pending: rollout of zgc-only to version 1 created$/);
    expect(lines.some((l) => / progressing → baking: canary: all \d+ node\(s\) acknowledged$/.test(l))).toBe(true);
    expect(lines.at(-2)).toMatch(/baking → completed: rollout completed: 12 node\(s\) on version 1$/);
    expect(lines.at(-1)).toMatch(/^ro-[a-z0-9-]+ zgc-only none → v1: completed step 2\/2, 12 nodes touched$/);
    expect(run.stderr).toMatch(/^rollout ro-\S+ started: zgc-only → v1\n$/);

    await waitFor('every node in sync on zgc-only@1', async () => {
      const nodes = json(await thpctl(['nodes', 'list', '-o', 'json'])).nodes;
      return nodes.every((n: any) => n.state === 'in-sync' && n.acked?.version === 1);
    }, 30_000, 500);
    const table = (await expectRun(['nodes', 'list'], 0)).stdout;
    expect(table).toMatch(/\nsim-001\s+in-sync\s+zgc-only@1\s+zgc-only@1\s+zgc-only@1 \(\w+\)\s+/);
    expect(table.trimEnd().split('\n').at(-1)).toBe(`${FLEET_SIZE} nodes: ${FLEET_SIZE} in-sync`);
    const listed = (await expectRun(['rollout', 'list'], 0)).stdout.split('\n');
    expect(listed[1]).toMatch(/^ro-\S+\s+zgc-only\s+rollout\s+none → v1\s+completed\s+2\s+/);
  });

  it('rollout status | pause | resume | promote | abort, with revisions; an aborted rollout exits 1 under --watch', async () => {
    const slow = file('slow.yaml', 'steps:\n  - { name: canary, select: { count: 1 }, bake: 10m }\n  - { name: fleet, select: { percent: 100 }, bake: 10m }\n');
    const started = json(await expectRun(['rollout', 'start', 'zgc-only', '--to-version', '2', '--plan', slow, '-o', 'json'], 0)).rollout;
    const id: string = started.id;
    expect(started).toMatchObject({ policy: 'zgc-only', fromVersion: 1, toVersion: 2, phase: 'pending' });
    // One active rollout per policy.
    expect((await expectRun(['rollout', 'start', 'zgc-only', '--to-version', '2', '--plan', slow], 5)).stderr).toMatch(/^thpctl: /);

    const baking = await waitFor('the canary to bake', async () => {
      const d = json(await thpctl(['rollout', 'status', id, '-o', 'json']));
      return d.rollout.phase === 'baking' ? d : undefined;
    }, 60_000, 300);
    const status = await expectRun(['rollout', 'status', id], 0);
    expect(status.stdout).toMatch(new RegExp(`^rollout ${id} {2}rollout {2}zgc-only v1 → v2 {2}by token:bootstrap-admin#\\S+, \\d+s ago\\n`));
    expect(status.stdout).toMatch(/\nphase: {4}baking step 1\/2, bake ends in 9m\d\ds {3}\(revision \d+\)\n/);
    expect(status.stdout).toMatch(/\n {2}>1 {2}canary {2}count 1 {2}10m {7}0 +\d+ {2}baking\n {3}2 {2}fleet {3}100% {5}10m {7}0 +0 {2}pending\n/);

    expect((await expectRun(['rollout', 'pause', id], 2)).stderr).toContain("required option '--reason <text>' not specified");
    const stale = await expectRun(['rollout', 'pause', id, '--reason', 'look at it', '--revision', String(baking.rollout.revision - 1)], 5);
    expect(stale.stderr).toMatch(/^thpctl: the rollout changed/);
    expect((await expectRun(['rollout', 'pause', id, '--reason', 'look at it', '--revision', String(baking.rollout.revision)], 0)).stdout).toBe(`rollout ${id}: pause accepted, now paused (look at it), revision ${baking.rollout.revision + 1}\n`);
    expect((await expectRun(['rollout', 'pause', id, '--reason', 'again'], 5)).stderr).toBe('thpctl: the rollout is already paused\n  state: the rollout is paused\n');
    expect((await expectRun(['rollout', 'resume', id], 0)).stdout).toMatch(new RegExp(`^rollout ${id}: resume accepted, now baking, revision \\d+\\n$`));
    expect((await expectRun(['rollout', 'promote', id], 0)).stdout).toMatch(new RegExp(`^rollout ${id}: promote accepted, now progressing, revision \\d+\\n$`));
    await waitFor('the second step to bake', async () => json(await thpctl(['rollout', 'status', id, '-o', 'json'])).rollout.phase === 'baking', 60_000, 300);
    expect((await expectRun(['rollout', 'abort', id, '--reason', 'enough'], 0)).stdout).toMatch(new RegExp(`^rollout ${id}: abort accepted, now rolling_back \\(aborted: enough\\), revision \\d+\\n$`));

    const watched = await expectRun(['rollout', 'status', id, '--watch', '--interval', '300ms', '--timeout', '60s'], 1);
    expect(watched.stdout).toContain(' baking → paused: paused by operator: look at it\n');
    expect(watched.stdout).toContain(' baking → progressing: canary: bake ended early by promotion\n');
    expect(watched.stdout.trimEnd().split('\n').at(-1)).toBe(`${id} zgc-only v1 → v2: aborted step 2/2, 12 nodes touched (aborted: enough)`);
    // A finished rollout: status alone exits by its outcome too.
    await expectRun(['rollout', 'status', id, '--events', '0'], 1);
    expect((await expectRun(['rollout', 'resume', id], 5)).stderr).toMatch(/^thpctl: /);
    expect((await expectRun(['rollout', 'status', 'ro-nope-00000000'], 6)).stderr).toMatch(/^thpctl: .*not found/);
  });

  it('rollback POLICY --to VERSION --skip-gates --reason: every node back at once (exit 0), the reason in the audit log', async () => {
    await expectRun(['rollout', 'start', 'zgc-only', '--to-version', '2', '--plan', fastPlan(), '--watch', '--interval', '300ms'], 0);
    await expectRun(['rollback', 'zgc-only', '--to', '1', '--skip-gates'], 2);
    const run = await expectRun(['rollback', 'zgc-only', '--to', '1', '--skip-gates', '--reason', 'v2 collapses too little', '--watch', '--interval', '300ms'], 0);
    expect(run.stdout).toMatch(/pending: rollback of zgc-only to version 1 created\n/);
    expect(run.stdout.trimEnd().split('\n').at(-1)).toMatch(/^ro-\S+ zgc-only v2 → v1: completed step 1\/1, 12 nodes touched$/);
    const id = /^(ro-\S+) /.exec(run.stdout.trimEnd().split('\n').at(-1) ?? '')?.[1] ?? '';
    const audit = json(await expectRun(['audit', 'list', '--target-type', 'rollout', '--target-id', id, '--action', 'rollout.rollback', '-o', 'json'], 0));
    expect(audit.entries).toHaveLength(1);
    expect(audit.entries[0].after).toMatchObject({ kind: 'rollback', toVersion: 1, gateSkip: { reason: 'v2 collapses too little' } });
    await waitFor('every node back on zgc-only@1', async () => json(await thpctl(['nodes', 'list', '-o', 'json'])).nodes.every((n: any) => n.acked?.version === 1 && n.acked?.policy === 'zgc-only'), 30_000, 500);
  });

  it('a bad policy fails its canary: rollout start --watch exits 1 with the verdict; status shows the failed gate', async () => {
    // The judge compares each series with its own level before the rollout (lookback 20 s):
    // give the simulated workloads that long on the current policy.
    const settle = 25_000 - (Date.now() - fleetSince);
    if (settle > 0) await new Promise((resolve) => setTimeout(resolve, settle));
    const plan = file(
      'gated.json',
      JSON.stringify({
        steps: [
          { name: 'canary', select: { count: 1 }, bake: '5s' },
          { name: 'fleet', select: { percent: 100 }, bake: '2s' },
        ],
        gates: STANDARD_GATES,
        judging: { interval: '2s', timeout: '90s', onInconclusive: 'pause', lookback: '20s' },
      }),
    );
    const run = await expectRun(['rollout', 'start', 'thp-everywhere', '--to-version', '1', '--plan', plan, '--watch', '--interval', '500ms', '--timeout', '150s'], 1);
    const last = run.stdout.trimEnd().split('\n').at(-1) ?? '';
    expect(last).toMatch(/^ro-\S+ thp-everywhere none → v1: rolled_back step 1\/2, \d+ nodes touched \(canary failed its gates: .*\)$/);
    expect(run.stdout).toMatch(/ judging → rolling_back: /);
    const id = /^(ro-\S+) /.exec(last)?.[1] ?? '';

    const status = await expectRun(['rollout', 'status', id], 1);
    expect(status.stdout).toMatch(/\nphase: {4}rolled_back step 1\/2 {3}\(revision \d+\)\nreason: {3}canary failed its gates/);
    expect(status.stdout).toMatch(/\nverdicts of step 1, attempt \d+ \(\d+s ago\): canary vs baseline\nMETRIC\s+VERDICT\s+CHANGE\s+INTERVAL\s+TOLERANCE\s+N CANARY\/BASELINE\s+TEST\n/);
    expect(status.stdout).toMatch(/\n\S+\s+fail\s+\+\d+\.\d%\s+\+\d+\.\d% \.\. \+\d+\.\d%\s+\d+\.\d%\s+\d+\/\d+\s+\S+\n/);
    // As JSON lines for scripts: one document, the final state, same exit code.
    const lines = (await expectRun(['rollout', 'status', id, '--watch', '-o', 'json'], 1)).stdout.trimEnd().split('\n');
    expect(lines).toHaveLength(1);
    const doc = JSON.parse(lines[0] ?? '');
    expect(doc.rollout.phase).toBe('rolled_back');
    expect(doc.judgments.some((j: any) => j.verdict === 'fail')).toBe(true);
  });

  it('audit list and verify; a tampered entry breaks the chain (exit 1)', async () => {
    const list = (await expectRun(['audit', 'list', '--limit', '5'], 0)).stdout.trimEnd().split('\n');
    expect(list[0]).toMatch(/^SEQ\s+TIME\s+ACTOR\s+ACTION\s+TARGET$/);
    expect(list.slice(1, 6)).toHaveLength(5);
    expect(list.at(-1)).toMatch(/^older entries: thpctl audit list --before \d+$/);
    const creates = json(await expectRun(['audit', 'list', '--action', 'policy.create', '-o', 'json'], 0));
    expect(creates.entries.map((e: any) => e.targetId).sort()).toEqual(['thp-everywhere', 'zgc-only']);
    expect((await expectRun(['audit', 'list', '--since', 'yesterday'], 2)).stderr).toContain('"yesterday" is neither an ISO 8601 time');

    const verified = await expectRun(['audit', 'verify'], 0);
    const anchor = /--anchor (\d+:[0-9a-f]{64})/.exec(verified.stdout)?.[1];
    expect(verified.stdout).toMatch(/^audit chain OK: \d+ entries, head #\d+ [0-9a-f]{12}\n/);
    expect(anchor).toBeDefined();
    expect((await expectRun(['audit', 'verify', '--anchor', anchor!], 0)).stdout).toMatch(/, anchor #\d+ present\n/);
    expect((await expectRun(['audit', 'verify', '--anchor', `${anchor!.split(':')[0]}:${'0'.repeat(64)}`], 1)).stdout).toMatch(/^audit chain verifies \(\d+ entries\) but entry #\d+ has hash [0-9a-f]{64}, not 0{64} \(the chain was rewritten\)\n$/);

    if (db.kind !== 'postgres') return; // tampering needs SQL access to the database the controller uses
    const url = db.url;
    // As an attacker with database access: switch the append-only trigger off, change an entry.
    const sql = (statement: string): string => execFileSync('psql', [url, '-v', 'ON_ERROR_STOP=1', '-qAt', '-c', statement], { encoding: 'utf8' });
    sql("ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only; UPDATE audit_log SET actor = 'mallory' WHERE seq = 3; ALTER TABLE audit_log ENABLE TRIGGER audit_log_append_only;");
    const broken = await expectRun(['audit', 'verify'], 1);
    expect(broken.stdout).toMatch(/^audit chain BROKEN at entry #3: /);
    expect(json(await expectRun(['audit', 'verify', '-o', 'json'], 1))).toMatchObject({ ok: false, firstBroken: { seq: 3 } });
  });
});
