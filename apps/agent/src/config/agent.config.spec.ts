import { describe, expect, it } from 'vitest';
import { GRPC_CONNECTION_BACKOFF, parseAgentConfig, type ConfigProbe } from './agent.config.js';
import { formatDuration, parseDuration } from './duration.js';

const files: Record<string, string> = {
  '/etc/thp/ca.pem': 'CA',
  '/etc/thp/cert.pem': 'CERT',
  '/etc/thp/key.pem': 'KEY',
  '/etc/thp/token': 'node-a.c2lnbmF0dXJl\n',
  '/etc/thp/baseline.yaml': 'apiVersion: thp.fleet/v1\n',
};
const probe: ConfigProbe = {
  hostname: () => 'host-1',
  readFile: (path) => {
    const content = files[path];
    if (content === undefined) throw new Error(`ENOENT: no such file or directory, open '${path}'`);
    return Buffer.from(content);
  },
};
const SECRET = { THP_AGENT_SECRET: 'a-secret-of-enough-length' };

function ok(argv: string[], env: Record<string, string> = SECRET) {
  const result = parseAgentConfig(argv, env, probe);
  if (result.ok !== true) throw new Error(`expected a config, got ${JSON.stringify(result)}`);
  return result.config;
}
function errors(argv: string[], env: Record<string, string> = SECRET): readonly string[] {
  const result = parseAgentConfig(argv, env, probe);
  if (result.ok !== false) throw new Error(`expected errors, got ${JSON.stringify(result)}`);
  return result.errors;
}

describe('parseAgentConfig', () => {
  it('fills defaults: host name as node id, auto backend, gRPC backoff, 10 s metrics', () => {
    const c = ok(['--controller', '127.0.0.1:8081']);
    expect(c).toMatchObject({
      controller: '127.0.0.1:8081',
      nodeId: 'host-1',
      backend: 'auto',
      stateDir: '/var/lib/thp-agent',
      metricsIntervalMs: 10_000,
      heartbeatIntervalMs: 5_000,
      pressureIntervalMs: 1_000,
      timeScale: 1,
      simNodes: 0,
      // Simulated nodes boot with THP off; a policy's node section turns it on.
      simThp: 'never',
      simMix: 'varied',
      sysfsRoot: '/sys/kernel/mm/transparent_hugepage',
      cgroupRoot: undefined,
      pinRoot: '/sys/fs/bpf/thp-fleet',
      leaseTtlMs: undefined,
      tls: undefined,
      auth: { kind: 'secret', secret: 'a-secret-of-enough-length' },
    });
    expect(c.backoff).toEqual(GRPC_CONNECTION_BACKOFF);
    expect(GRPC_CONNECTION_BACKOFF).toEqual({ initialMs: 1000, multiplier: 1.6, jitter: 0.2, maxMs: 120_000 });
  });

  it('reads the environment, and a flag wins over its variable', () => {
    const c = ok(['--backend', 'sim', '--metrics-interval', '2s'], {
      ...SECRET,
      THP_AGENT_CONTROLLER: 'ctl.example:443',
      THP_AGENT_BACKEND: 'bpf',
      THP_AGENT_METRICS_INTERVAL: '30s',
      THP_AGENT_NODE_ID: 'node-a',
      THP_AGENT_LABELS: 'zone=a,hw=c6',
      THP_AGENT_TIME_SCALE: '60',
    });
    expect(c).toMatchObject({ controller: 'ctl.example:443', backend: 'sim', metricsIntervalMs: 2000, nodeId: 'node-a', timeScale: 60, labels: { zone: 'a', hw: 'c6' } });
  });

  it('merges --labels and repeated --label, the later one winning', () => {
    const c = ok(['--controller', 'h:1', '--labels', 'zone=a,kernel=6.18', '--label', 'zone=b', '--label', 'example.com/team=mm']);
    expect(c.labels).toEqual({ zone: 'b', kernel: '6.18', 'example.com/team': 'mm' });
  });

  it('reads TLS material and the token file at start', () => {
    const c = ok(['--controller', 'h:1', '--node-id', 'node-a', '--tls-ca', '/etc/thp/ca.pem', '--tls-cert', '/etc/thp/cert.pem', '--tls-key', '/etc/thp/key.pem', '--token-file', '/etc/thp/token'], {});
    expect(c.tls?.ca?.toString()).toBe('CA');
    expect(c.tls?.cert?.toString()).toBe('CERT');
    expect(c.tls?.key?.toString()).toBe('KEY');
    expect(c.auth).toEqual({ kind: 'token', token: 'node-a.c2lnbmF0dXJl' });
  });

  it('lists every bad setting at once, each naming its flag or variable', () => {
    const list = errors(
      [
        '--controller', 'no-port',
        '--backend', 'ebpf',
        '--metrics-interval', 'soon',
        '--heartbeat-interval', '1ms',
        '--time-scale', '-3',
        '--sim-nodes', '2.5',
        '--sim-mix', 'web',
        '--label', 'novalue',
        '--tls-cert', '/etc/thp/cert.pem',
        '--tls-ca', '/missing/ca.pem',
        '--state-dir', 'relative/dir',
        '--lease-ttl', '10m',
        '--backoff-jitter', '1.5',
        '--bogus', 'x',
        'stray',
      ],
      { THP_AGENT_SECRET: 'short' },
    );
    const expected = [
      /^unexpected argument "stray"$/,
      // An unknown flag's value cannot be told from a stray argument: both are reported.
      /^unexpected argument "x"$/,
      /^--bogus: unknown flag/,
      /^--controller: "no-port" is not host:port$/,
      /^--backend: "ebpf" is not one of bpf, sim, auto$/,
      /^--metrics-interval: "soon" is not a duration/,
      /^--heartbeat-interval: 1ms is outside 100ms\.\.10m$/,
      /^--time-scale: -3 is outside/,
      /^--sim-nodes: "2.5" is not an integer$/,
      /^--sim-mix: "web" is not one of varied, standard, jvm-heavy, kv-heavy$/,
      /^--label: "novalue" is not k=v$/,
      /^--tls-cert and --tls-key: give both/,
      /^--tls-ca: cannot read "\/missing\/ca.pem": ENOENT/,
      /^--state-dir: "relative\/dir" must be an absolute path$/,
      /^--lease-ttl: the fail-safe lease needs --baseline-policy/,
      /^--backoff-jitter: 1.5 is outside 0\.\.1$/,
      /^\$THP_AGENT_SECRET: shorter than 16 characters$/,
    ];
    for (const pattern of expected) expect(list.some((e) => pattern.test(e)), `${pattern} in\n${list.join('\n')}`).toBe(true);
    expect(list).toHaveLength(expected.length);
  });

  it('requires a controller and credentials', () => {
    expect(errors([], {})).toEqual([
      '--controller / $THP_AGENT_CONTROLLER: required (the controller gRPC address host:port)',
      'no credentials: set $THP_AGENT_TOKEN, --token-file or $THP_AGENT_SECRET',
    ]);
  });

  it('rejects a token for another node and a token with --sim-nodes', () => {
    expect(errors(['--controller', 'h:1', '--node-id', 'node-b'], { THP_AGENT_TOKEN: 'node-a.sig' })).toEqual(['$THP_AGENT_TOKEN: the token is for node "node-a", this node is "node-b"']);
    expect(errors(['--controller', 'h:1', '--sim-nodes', '3', '--node-id', 'node-a'], { THP_AGENT_TOKEN: 'node-a.sig' })[0]).toMatch(/each simulated node needs its own token/);
  });

  it('simulated fleets: sim backend only, id prefix defaults to "sim"', () => {
    expect(ok(['--controller', 'h:1', '--sim-nodes', '100', '--time-scale', '60']).nodeId).toBe('sim');
    expect(ok(['--controller', 'h:1', '--sim-nodes', '100', '--sim-mix', 'standard']).simMix).toBe('standard');
    expect(ok(['--controller', 'h:1', '--sim-nodes', '100'], { ...SECRET, THP_AGENT_SIM_MIX: 'kv-heavy' }).simMix).toBe('kv-heavy');
    expect(errors(['--controller', 'h:1', '--sim-nodes', '2', '--backend', 'bpf'])).toEqual([
      '--backend bpf with --sim-nodes: simulated nodes use the sim backend (use --backend sim or auto)',
    ]);
  });

  it('takes the lease TTL with its baseline policy, and refuses either alone', () => {
    const c = ok(['--controller', 'h:1', '--lease-ttl', '90s', '--baseline-policy', '/etc/thp/baseline.yaml']);
    expect(c.leaseTtlMs).toBe(90_000);
    expect(c.baselinePolicyText).toContain('thp.fleet/v1');
    expect(errors(['--controller', 'h:1', '--baseline-policy', '/etc/thp/baseline.yaml'])).toEqual(['--baseline-policy without --lease-ttl: the baseline is only used when the lease ends']);
  });

  it('backoff overrides for tests, and max must not be below initial', () => {
    expect(ok(['--controller', 'h:1', '--backoff-initial', '50ms', '--backoff-max', '400ms', '--backoff-multiplier', '2', '--backoff-jitter', '0']).backoff).toEqual({
      initialMs: 50,
      maxMs: 400,
      multiplier: 2,
      jitter: 0,
    });
    expect(errors(['--controller', 'h:1', '--backoff-initial', '5s', '--backoff-max', '1s'])).toEqual(['--backoff-max 1s is shorter than --backoff-initial 5s']);
  });

  it('a flag without its value is an error, not a silent default', () => {
    expect(errors(['--controller'])).toContain('--controller: needs a value');
  });

  it('--help returns the usage text with every flag', () => {
    const result = parseAgentConfig(['--help'], {}, probe);
    expect(result.ok).toBe('help');
    if (result.ok !== 'help') return;
    for (const flag of ['--controller', '--sim-nodes', '--time-scale', '--lease-ttl', '--baseline-policy', '--pin-root', '$THP_AGENT_SECRET']) expect(result.text).toContain(flag);
  });
});

describe('durations', () => {
  it('parses units and bare milliseconds', () => {
    expect(parseDuration('250ms')).toEqual({ ok: true, ms: 250 });
    expect(parseDuration('1.5s')).toEqual({ ok: true, ms: 1500 });
    expect(parseDuration('2m')).toEqual({ ok: true, ms: 120_000 });
    expect(parseDuration('1h')).toEqual({ ok: true, ms: 3_600_000 });
    expect(parseDuration('700')).toEqual({ ok: true, ms: 700 });
    expect(parseDuration('-1s').ok).toBe(false);
    expect(parseDuration('10 parsecs').ok).toBe(false);
  });
  it('formats back', () => {
    expect([formatDuration(120_000), formatDuration(1500), formatDuration(20), formatDuration(7_200_000)]).toEqual(['2m', '1.5s', '20ms', '2h']);
  });
});
