/* eslint-disable @typescript-eslint/no-unsafe-member-access -- REST response bodies are untyped JSON checked with expect() */
/**
 * Mutual TLS for the agent stream: the client certificate's CN is the node's identity. Keys
 * and certificates are made with the system's openssl for each run.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ControllerHandle } from '../app.js';
import { TestAgent, apiClient, eventually, startTestController, testConfig, testDatabase, type TestDatabaseHandle } from '../testing.test-util.js';

function openssl(args: string[], cwd: string): void {
  execFileSync('openssl', args, { cwd, stdio: 'pipe' });
}

/** A CA, a server certificate for 127.0.0.1 and client certificates with the given CNs. */
function makePki(clients: string[]): { dir: string; file: (name: string) => string } {
  const dir = mkdtempSync(join(tmpdir(), 'thp-pki-'));
  openssl(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2', '-subj', '/CN=thp-test-ca'], dir);
  writeFileSync(join(dir, 'server.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\n');
  openssl(['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=localhost'], dir);
  openssl(['x509', '-req', '-in', 'server.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'server.pem', '-days', '2', '-extfile', 'server.ext'], dir);
  for (const cn of clients) {
    openssl(['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${cn}.key`, '-out', `${cn}.csr`, '-subj', `/CN=${cn}`], dir);
    openssl(['x509', '-req', '-in', `${cn}.csr`, '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', `${cn}.pem`, '-days', '2'], dir);
  }
  return { dir, file: (name) => join(dir, name) };
}

describe('agent authentication by client certificate (mutual TLS)', () => {
  let db: TestDatabaseHandle;
  let controller: ControllerHandle;
  let pki: ReturnType<typeof makePki>;
  const agents: TestAgent[] = [];
  const credentialsFor = (cn: string) => grpc.credentials.createSsl(readFileSync(pki.file('ca.pem')), readFileSync(pki.file(`${cn}.key`)), readFileSync(pki.file(`${cn}.pem`)));

  beforeAll(async () => {
    pki = makePki(['node-tls-1', 'node-tls-2']);
    db = await testDatabase('postgres', 'mtls');
    controller = await startTestController(
      testConfig(db.database, { grpc: { host: '127.0.0.1', port: 0, maxMessageBytes: 4 << 20, tls: { certFile: pki.file('server.pem'), keyFile: pki.file('server.key'), clientCaFile: pki.file('ca.pem') } } }),
    );
  });
  afterAll(async () => {
    for (const agent of agents) agent.cancel();
    await controller?.close();
    await db?.drop();
    if (pki) rmSync(pki.dir, { recursive: true, force: true });
  });

  it('accepts a node whose certificate CN is its id, with no token', async () => {
    const agent = new TestAgent({ nodeId: 'node-tls-1', address: controller.grpcAddress, token: null, credentials: credentialsFor('node-tls-1') });
    agents.push(agent);
    await eventually(() => agent.received.length > 0, 5_000, 'Config over mTLS');
    await eventually(async () => (await apiClient(controller.httpUrl).get('/api/v1/nodes/node-tls-1')).body.connected === true, 5_000, 'connected');
  });

  it('refuses a Hello for another node id than the certificate names', async () => {
    const agent = new TestAgent({ nodeId: 'node-tls-2', helloNodeId: 'node-tls-1', address: controller.grpcAddress, token: null, credentials: credentialsFor('node-tls-2') });
    agents.push(agent);
    const status = await agent.closedStatus();
    expect(status.code).toBe(grpc.status.PERMISSION_DENIED);
    expect(status.details).toContain('authenticated as node "node-tls-2" (certificate)');
  });

  it('refuses a token for another node than the certificate', async () => {
    const agent = new TestAgent({ nodeId: 'node-tls-2', address: controller.grpcAddress, credentials: credentialsFor('node-tls-2'), helloNodeId: 'node-tls-2' });
    agents.push(agent);
    // The default token is for node-tls-2 and matches; a token for node-tls-1 must not.
    await eventually(() => agent.received.length > 0, 5_000, 'Config with matching cert and token');
    const mismatched = new TestAgent({ nodeId: 'node-tls-1', address: controller.grpcAddress, credentials: credentialsFor('node-tls-2'), helloNodeId: 'node-tls-2' });
    agents.push(mismatched);
    const status = await mismatched.closedStatus();
    expect(status.code).toBe(grpc.status.PERMISSION_DENIED);
    expect(status.details).toContain('the client certificate is for node "node-tls-2" but the token is for node "node-tls-1"');
  });

  it('refuses a client without a certificate at the TLS layer', async () => {
    const agent = new TestAgent({ nodeId: 'node-tls-1', address: controller.grpcAddress, credentials: grpc.credentials.createSsl(readFileSync(pki.file('ca.pem'))) });
    agents.push(agent);
    const status = await agent.closedStatus();
    expect(status.code).toBe(grpc.status.UNAVAILABLE);
  });
});
