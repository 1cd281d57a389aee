/**
 * API tokens with roles viewer < operator < admin. Only the sha256 of a token is stored; the
 * token itself is shown once, when it is created.
 */
import { createHash, randomBytes } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import { AppError } from '../common/errors.js';
import { CLOCK, STORE, type Clock } from '../common/tokens.js';
import type { Store } from '../store/database.js';
import type { Role } from '../store/schema.js';
import { AuditService } from '../audit/audit.service.js';
import { TokenRepository, type ApiToken } from './token.repository.js';
import { mintNodeToken } from './node-token.js';

export const ROLES: readonly Role[] = ['viewer', 'operator', 'admin'];
const RANK: Record<Role, number> = { viewer: 1, operator: 2, admin: 3 };

export function roleAtLeast(role: Role, required: Role): boolean {
  return RANK[role] >= RANK[required];
}

/** Who is calling: an API token, or the controller itself for automatic actions. */
export interface Principal {
  readonly tokenId: string;
  readonly name: string;
  readonly role: Role;
}

/** How a principal appears in the audit log. */
export function actorOf(principal: Principal): string {
  return `token:${principal.name}#${principal.tokenId}`;
}

export function hashToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

export function generateApiToken(): string {
  return `thp_${randomBytes(32).toString('base64url')}`;
}

function newTokenId(): string {
  return `tok_${randomBytes(6).toString('hex')}`;
}

/** Safe to show: the public form of a token record. */
export function describeToken(token: ApiToken): Record<string, unknown> {
  return { id: token.id, name: token.name, role: token.role, prefix: token.prefix, expiresAt: token.expiresAt?.toISOString() ?? null, revokedAt: token.revokedAt?.toISOString() ?? null };
}

@Injectable()
export class TokenService {
  private agentSecret: string | undefined;

  constructor(
    @Inject(STORE) private readonly store: Store,
    @Inject(CLOCK) private readonly clock: Clock,
    @Inject(TokenRepository) private readonly repository: TokenRepository,
    @Inject(AuditService) private readonly audit: AuditService,
  ) {}

  /** The node-token secret, set once at start (from THP_AGENT_SECRET or cluster_settings). */
  setAgentSecret(secret: string): void {
    this.agentSecret = secret;
  }

  get nodeTokenSecret(): string {
    if (this.agentSecret === undefined) throw new AppError('unavailable', 'node token secret not initialised');
    return this.agentSecret;
  }

  async authenticate(bearer: string | undefined): Promise<Principal> {
    if (bearer === undefined || bearer === '') throw new AppError('unauthenticated', 'missing API token: send "Authorization: Bearer thp_..."');
    const token = await this.repository.findActiveByHash(this.store.db, hashToken(bearer), this.clock.now());
    if (!token) throw new AppError('unauthenticated', 'unknown, revoked or expired API token');
    void this.repository.touch(this.store.db, token.id, this.clock.now()).catch(() => undefined);
    return { tokenId: token.id, name: token.name, role: token.role };
  }

  async create(input: { name: string; role: Role; expiresInSeconds?: number }, by: Principal | string): Promise<{ token: string; record: ApiToken }> {
    const secret = generateApiToken();
    const actor = typeof by === 'string' ? by : actorOf(by);
    const expiresAt = input.expiresInSeconds === undefined ? null : new Date(this.clock.now().getTime() + input.expiresInSeconds * 1_000);
    const record = await this.store.db.transaction().execute(async (tx) => {
      const created = await this.repository.insert(tx, { id: newTokenId(), name: input.name, role: input.role, tokenHash: hashToken(secret), prefix: secret.slice(0, 10), createdBy: actor, expiresAt });
      await this.audit.record(tx, { actor, action: 'token.create', targetType: 'token', targetId: created.id, before: null, after: describeToken(created) });
      return created;
    });
    return { token: secret, record };
  }

  async revoke(id: string, by: Principal): Promise<ApiToken> {
    const actor = actorOf(by);
    return this.store.db.transaction().execute(async (tx) => {
      const before = await this.repository.get(tx, id);
      if (!before) throw new AppError('not_found', `token ${id} not found`);
      if (before.revokedAt) throw new AppError('conflict', `token ${id} was already revoked at ${before.revokedAt.toISOString()}`);
      const after = await this.repository.revoke(tx, id, actor, this.clock.now());
      if (!after) throw new AppError('conflict', `token ${id} was revoked concurrently`);
      await this.audit.record(tx, { actor, action: 'token.revoke', targetType: 'token', targetId: id, before: describeToken(before), after: describeToken(after) });
      return after;
    });
  }

  list(): Promise<ApiToken[]> {
    return this.repository.list(this.store.db);
  }

  /**
   * The bootstrap admin token: THP_ADMIN_TOKEN when given (registered once); otherwise, when no
   * active admin token exists, a new one. Returns the token when this call created it from
   * nothing (so the caller prints it once), else null.
   */
  async ensureBootstrapAdmin(configured: string | null): Promise<string | null> {
    if (configured !== null) {
      await this.store.db.transaction().execute(async (tx) => {
        const inserted = await this.repository.insertIfAbsent(tx, { id: newTokenId(), name: 'bootstrap-admin', role: 'admin', tokenHash: hashToken(configured), prefix: configured.slice(0, 10), createdBy: 'controller' });
        if (inserted) await this.audit.record(tx, { actor: 'controller', action: 'token.bootstrap', targetType: 'token', targetId: 'bootstrap-admin', before: null, after: { source: 'THP_ADMIN_TOKEN', role: 'admin' } });
      });
      return null;
    }
    return this.store.db.transaction().execute(async (tx) => {
      // Serialise concurrent first starts of several replicas, so only one creates a token.
      await this.repository.lockBootstrap(tx);
      if ((await this.repository.countActiveAdmins(tx, this.clock.now())) > 0) return null;
      const secret = generateApiToken();
      const created = await this.repository.insert(tx, { id: newTokenId(), name: 'bootstrap-admin', role: 'admin', tokenHash: hashToken(secret), prefix: secret.slice(0, 10), createdBy: 'controller', expiresAt: null });
      await this.audit.record(tx, { actor: 'controller', action: 'token.bootstrap', targetType: 'token', targetId: created.id, before: null, after: describeToken(created) });
      return secret;
    });
  }

  /** A node token for `nodeId` (the node need not have connected yet); the minting is audited. */
  async mintNodeToken(nodeId: string, by: Principal): Promise<string> {
    const token = mintNodeToken(nodeId, this.nodeTokenSecret);
    await this.store.db.transaction().execute(async (tx) => {
      await this.audit.record(tx, { actor: actorOf(by), action: 'node.token.mint', targetType: 'node', targetId: nodeId, before: null, after: { nodeId } });
    });
    return token;
  }
}
