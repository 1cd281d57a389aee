import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { afterAll } from 'vitest';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, DEFAULTS, loadConfig, parseByteSize, parseDuration } from './config.js';

const made: string[] = [];
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'thp-config-'));
  made.push(dir);
  return dir;
}
afterAll(() => {
  for (const dir of made) rmSync(dir, { recursive: true, force: true });
});

function problems(env: Record<string, string>): { variable: string; message: string }[] {
  try {
    loadConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) return [...error.problems];
    throw error;
  }
  return [];
}

describe('loadConfig', () => {
  it('defaults to embedded PGlite and loopback listeners', () => {
    const config = loadConfig({});
    expect(config.database).toEqual({ kind: 'pglite', dataDir: expect.stringMatching(/\.data\/controller$/) as unknown });
    expect(config.http).toMatchObject({ host: '127.0.0.1', port: 8080 });
    expect(config.grpc).toMatchObject({ host: '127.0.0.1', port: 8081, tls: null });
    expect(config.adminToken).toBeNull();
    expect(config.agentSecret).toBeNull();
    expect(config.intervals.staleAfterMs).toBe(DEFAULTS.staleAfterMs);
  });

  it('reads every variable', () => {
    const dir = tempDir();
    for (const name of ['cert.pem', 'key.pem', 'ca.pem']) writeFileSync(join(dir, name), 'x');
    const config = loadConfig({
      DATABASE_URL: 'postgres://u:p@db:5432/thp',
      THP_DB_POOL_SIZE: '20',
      THP_HTTP_HOST: '0.0.0.0',
      THP_HTTP_PORT: '9000',
      THP_GRPC_HOST: '::',
      THP_GRPC_PORT: '0',
      THP_GRPC_TLS_CERT: join(dir, 'cert.pem'),
      THP_GRPC_TLS_KEY: join(dir, 'key.pem'),
      THP_GRPC_TLS_CLIENT_CA: join(dir, 'ca.pem'),
      THP_REPLICA_ID: 'replica-a',
      THP_ADMIN_TOKEN: `thp_${'x'.repeat(40)}`,
      THP_AGENT_SECRET: 's'.repeat(40),
      THP_DASHBOARD_DIR: '/srv/dashboard',
      THP_HEARTBEAT_INTERVAL: '5s',
      THP_STALE_AFTER: '1m',
      THP_METRICS_INTERVAL: '250ms',
      THP_METRIC_RETENTION: '2d',
      THP_HTTP_BODY_LIMIT: '2mb',
      THP_LOG_LEVEL: 'debug',
    });
    expect(config.database).toEqual({ kind: 'postgres', url: 'postgres://u:p@db:5432/thp', poolSize: 20 });
    expect(config.grpc.tls).toEqual({ certFile: join(dir, 'cert.pem'), keyFile: join(dir, 'key.pem'), clientCaFile: join(dir, 'ca.pem') });
    expect(config.intervals).toMatchObject({ heartbeatMs: 5_000, staleAfterMs: 60_000, metricsIntervalMs: 250, metricRetentionMs: 2 * 86_400_000 });
    expect(config.http.bodyLimitBytes).toBe(2 * 1024 * 1024);
    expect(config.dashboardDir).toBe('/srv/dashboard');
    expect(config.logLevel).toBe('debug');
  });

  it('lists every bad variable at once, by name', () => {
    const found = problems({
      DATABASE_URL: 'mysql://nope',
      THP_HTTP_PORT: '70000',
      THP_GRPC_PORT: 'eighty',
      THP_ADMIN_TOKEN: 'short',
      THP_AGENT_SECRET: 'tiny',
      THP_GRPC_TLS_CERT: '/does/not/exist.pem',
      THP_HEARTBEAT_INTERVAL: 'soon',
      THP_LOG_LEVEL: 'loud',
      THP_REPLICA_ID: 'has spaces',
    });
    expect(found.map((p) => p.variable).sort()).toEqual(
      ['DATABASE_URL', 'THP_ADMIN_TOKEN', 'THP_AGENT_SECRET', 'THP_GRPC_PORT', 'THP_GRPC_TLS_CERT', 'THP_GRPC_TLS_KEY', 'THP_HEARTBEAT_INTERVAL', 'THP_HTTP_PORT', 'THP_LOG_LEVEL', 'THP_REPLICA_ID'].sort(),
    );
    expect(found.find((p) => p.variable === 'THP_HTTP_PORT')?.message).toContain('70000');
  });

  it('rejects a stale timeout that one lost heartbeat would trip', () => {
    expect(problems({ THP_HEARTBEAT_INTERVAL: '10s', THP_STALE_AFTER: '15s' })).toEqual([{ variable: 'THP_STALE_AFTER', message: expect.stringContaining('twice') as unknown }]);
  });

  it('needs a server certificate for mutual TLS', () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'ca.pem'), 'x');
    expect(problems({ THP_GRPC_TLS_CLIENT_CA: join(dir, 'ca.pem') }).map((p) => p.variable)).toEqual(['THP_GRPC_TLS_CLIENT_CA']);
  });

  it('parses durations and sizes', () => {
    expect(parseDuration('250ms')).toBe(250);
    expect(parseDuration('1.5s')).toBe(1_500);
    expect(parseDuration('7d')).toBe(7 * 86_400_000);
    expect(parseDuration('42')).toBe(42);
    expect(parseDuration('5 minutes')).toBeUndefined();
    expect(parseByteSize('512kb')).toBe(512 * 1024);
    expect(parseByteSize('1MB')).toBe(1024 * 1024);
    expect(parseByteSize('lots')).toBeUndefined();
  });
});
