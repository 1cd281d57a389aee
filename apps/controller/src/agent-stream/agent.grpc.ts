/**
 * gRPC handlers for thp.v1.AgentService: authenticate the stream (node token or client
 * certificate), insist on Hello first and on the Hello's node id being the authenticated one,
 * validate it, then hand messages to AgentStreamService. Translation only: no decisions here.
 */
import type * as grpc from '@grpc/grpc-js';
import { status as GrpcStatus } from '@grpc/grpc-js';
import type { AgentMessage, AgentService, ControllerMessage, Hello } from '@thp-fleet/proto';
import type { ServiceImpl } from '@thp-fleet/proto';
import { AppError, grpcStatusOf } from '../common/errors.js';
import { LABELS, NODE_ID, v } from '../common/validation.js';
import type { ErrorDetail } from '../common/errors.js';
import type { Logger } from '../common/logger.js';
import type { MetricsService } from '../metrics/metrics.service.js';
import { verifyNodeToken } from '../token/node-token.js';
import type { AgentStreamService, StreamHandle } from './agent-stream.service.js';

/** An agent must say Hello within this long after opening the stream. */
export const HELLO_TIMEOUT_MS = 10_000;

export interface AgentIdentity {
  readonly nodeId: string;
  readonly method: 'token' | 'certificate';
}

/** Who the stream speaks for: the client certificate's CN (mTLS) and/or a node token. */
export function authenticateAgent(metadata: grpc.Metadata, certificateCn: string | undefined, secret: string): AgentIdentity {
  const header = metadata.get('authorization')[0];
  let tokenNode: string | undefined;
  if (header !== undefined) {
    const text = typeof header === 'string' ? header : header.toString('utf8');
    const match = /^Bearer\s+(\S+)$/i.exec(text.trim());
    if (!match?.[1]) throw new AppError('unauthenticated', 'authorization metadata must be "Bearer <node token>"');
    tokenNode = verifyNodeToken(match[1], secret);
    if (tokenNode === undefined) throw new AppError('unauthenticated', 'invalid node token');
  }
  if (certificateCn !== undefined && tokenNode !== undefined && certificateCn !== tokenNode) {
    throw new AppError('permission_denied', `the client certificate is for node "${certificateCn}" but the token is for node "${tokenNode}"`);
  }
  if (certificateCn !== undefined) return { nodeId: certificateCn, method: 'certificate' };
  if (tokenNode !== undefined) return { nodeId: tokenNode, method: 'token' };
  throw new AppError('unauthenticated', 'no credentials: send "authorization: Bearer <node token>" metadata or a client certificate');
}

function certificateCn(call: grpc.ServerDuplexStream<AgentMessage, ControllerMessage>): string | undefined {
  const certificate = call.getAuthContext().sslPeerCertificate;
  const cn: unknown = certificate?.subject?.CN;
  if (Array.isArray(cn)) return cn.length === 1 && typeof cn[0] === 'string' ? cn[0] : undefined;
  return typeof cn === 'string' && cn !== '' ? cn : undefined;
}

const HELLO_SHAPE = v.object({ nodeId: NODE_ID, labels: LABELS, kernelRelease: v.string({ max: 256 }), agentVersion: v.string({ max: 128 }) });

/** Problems with a Hello, each with its field path. */
export function helloProblems(hello: Hello): ErrorDetail[] {
  const issues: ErrorDetail[] = [];
  HELLO_SHAPE.parse({ nodeId: hello.nodeId, labels: { ...hello.labels }, kernelRelease: hello.kernelRelease, agentVersion: hello.agentVersion }, 'hello', issues);
  if (hello.applied && hello.applied.policy !== '' && !/^[0-9a-f]{64}$/.test(hello.applied.specHash)) {
    issues.push({ path: 'hello.applied.specHash', message: 'must be a lowercase hex sha256' });
  }
  const capabilities = hello.capabilities;
  if (capabilities) {
    if (capabilities.hookDetail.length > 4_096) issues.push({ path: 'hello.capabilities.hookDetail', message: 'must be at most 4096 characters' });
    if (capabilities.backends.length > 8) issues.push({ path: 'hello.capabilities.backends', message: 'must have at most 8 entries' });
    if (capabilities.enabledMthpSizesKb.length > 64) issues.push({ path: 'hello.capabilities.enabledMthpSizesKb', message: 'must have at most 64 entries' });
    if (capabilities.sysfs && Object.keys(capabilities.sysfs.perSizeEnabled).length > 64) issues.push({ path: 'hello.capabilities.sysfs.perSizeEnabled', message: 'must have at most 64 entries' });
  }
  return issues;
}

export interface AgentGrpcDeps {
  readonly streams: AgentStreamService;
  readonly metrics: MetricsService;
  readonly log: Logger;
  /** The node-token secret (read at call time: it is set once the store is open). */
  secret(): string;
  readonly helloTimeoutMs?: number;
}

export function agentServiceImpl(deps: AgentGrpcDeps): ServiceImpl<(typeof AgentService)['method']> {
  const log = deps.log.child('grpc');
  return {
    connect: (call) => {
      let handle: StreamHandle | undefined;
      let ended = false;
      const helloTimeoutMs = deps.helloTimeoutMs ?? HELLO_TIMEOUT_MS;
      const helloTimer = setTimeout(() => fail(GrpcStatus.DEADLINE_EXCEEDED, `no Hello within ${helloTimeoutMs} ms`), helloTimeoutMs);
      helloTimer.unref();
      const fail = (code: GrpcStatus, details: string): void => {
        if (ended) return;
        ended = true;
        clearTimeout(helloTimer);
        deps.metrics.streamsRejected.inc({ code: GrpcStatus[code] ?? String(code) });
        handle?.closed();
        call.emit('error', { code, details });
      };
      const sink = {
        send: (message: ControllerMessage) => {
          if (!ended && !call.cancelled && call.writable) call.write(message);
        },
        sendEncoded: (bytes: Buffer) => {
          // The service definition's serializer passes Buffers through (grpc-server.ts).
          if (!ended && !call.cancelled && call.writable) call.write(bytes as unknown as ControllerMessage);
        },
        close: (code: number, details: string) => {
          if (ended) return;
          ended = true;
          call.emit('error', { code, details });
        },
      };

      let identity: AgentIdentity;
      try {
        identity = authenticateAgent(call.metadata, certificateCn(call), deps.secret());
      } catch (error) {
        const appError = error instanceof AppError ? error : new AppError('internal', 'authentication failed');
        fail(grpcStatusOf(appError.code), appError.message);
        return;
      }

      call.on('data', (message: AgentMessage) => {
        if (ended) return;
        if (handle) {
          handle.receive(message);
          return;
        }
        if (message.kind.case !== 'hello') {
          fail(GrpcStatus.INVALID_ARGUMENT, `the first message must be Hello, got ${message.kind.case ?? 'an empty message'}`);
          return;
        }
        const hello = message.kind.value;
        const problems = helloProblems(hello);
        if (problems.length > 0) {
          fail(GrpcStatus.INVALID_ARGUMENT, `invalid Hello: ${problems.map((p) => `${p.path}: ${p.message}`).join('; ')}`);
          return;
        }
        if (hello.nodeId !== identity.nodeId) {
          fail(GrpcStatus.PERMISSION_DENIED, `authenticated as node "${identity.nodeId}" (${identity.method}) but Hello says "${hello.nodeId}": a node may only speak for itself`);
          return;
        }
        clearTimeout(helloTimer);
        handle = deps.streams.open(hello, sink);
        log.debug('agent connected', { nodeId: hello.nodeId, via: identity.method, session: handle.sessionId });
      });
      const finish = (): void => {
        clearTimeout(helloTimer);
        handle?.closed();
      };
      call.on('end', () => {
        finish();
        if (!ended) {
          ended = true;
          call.end();
        }
      });
      call.on('cancelled', finish);
      call.on('close', finish);
      call.on('error', finish);
    },
  };
}
