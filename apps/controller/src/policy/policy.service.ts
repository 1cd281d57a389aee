/**
 * Policies and their immutable numbered versions. Validation, canonical form, hash and diff
 * come from @thp-fleet/policy; this service decides numbering, concurrency and auditing.
 */
import { Inject, Injectable } from '@nestjs/common';
import { canonicalize, diffPolicies, parseCanonical, parsePolicy, policyHash, type DiffEntry, type PolicyIssue, type ThpPolicy } from '@thp-fleet/policy';
import { AppError, type ErrorDetail } from '../common/errors.js';
import { CLOCK, STORE, type Clock } from '../common/tokens.js';
import type { Store } from '../store/database.js';
import { AuditService } from '../audit/audit.service.js';
import { EventsService } from '../events/events.service.js';
import { PolicyRepository, type PolicyRecord, type PolicyVersionContent, type PolicyVersionRecord } from './policy.repository.js';

export type SourceFormat = 'yaml' | 'json';

export interface ValidationOutcome {
  readonly ok: boolean;
  readonly errors: readonly PolicyIssue[];
  readonly warnings: readonly PolicyIssue[];
  /** Present when ok. */
  readonly name?: string;
  readonly specHash?: string;
  readonly canonical?: string;
}

export interface VersionWritten {
  readonly policy: PolicyRecord;
  readonly version: PolicyVersionRecord;
  /** False when the text had the same canonical form as the latest version (nothing written). */
  readonly created: boolean;
  readonly warnings: readonly PolicyIssue[];
}

function issueDetail(issue: PolicyIssue): ErrorDetail {
  return { path: issue.path, message: issue.message, ...(issue.line !== undefined ? { line: issue.line } : {}), ...(issue.column !== undefined ? { column: issue.column } : {}) };
}

/** A policy document that fails validation: 422 with every error, its path and position. */
function invalidPolicy(errors: readonly PolicyIssue[]): AppError {
  return new AppError('validation_failed', `the policy has ${errors.length} error${errors.length === 1 ? '' : 's'}`, errors.map(issueDetail));
}

function parsed(text: string): { policy: ThpPolicy; warnings: readonly PolicyIssue[] } {
  const result = parsePolicy(text);
  if (!result.ok) throw invalidPolicy(result.errors);
  return { policy: result.policy, warnings: result.warnings };
}

/** Summary of what changed between two versions, for the audit entry. */
function auditDiff(entries: readonly DiffEntry[]): unknown {
  return entries.slice(0, 50).map((entry) => ({ path: entry.path, kind: entry.kind, before: entry.before, after: entry.after }));
}

@Injectable()
export class PolicyService {
  constructor(
    @Inject(STORE) private readonly store: Store,
    @Inject(CLOCK) private readonly clock: Clock,
    @Inject(PolicyRepository) private readonly repository: PolicyRepository,
    @Inject(AuditService) private readonly audit: AuditService,
    @Inject(EventsService) private readonly events: EventsService,
  ) {}

  /** Validate without saving: every error and warning with its path (and line/column). */
  validate(text: string): ValidationOutcome {
    const result = parsePolicy(text);
    if (!result.ok) return { ok: false, errors: result.errors, warnings: result.warnings };
    return { ok: true, errors: [], warnings: result.warnings, name: result.policy.metadata.name, specHash: policyHash(result.policy), canonical: canonicalize(result.policy) };
  }

  /** Create a policy from its first version; the name is the document's metadata.name. */
  async create(text: string, format: SourceFormat, options: { message: string }, actor: string): Promise<VersionWritten> {
    const { policy, warnings } = parsed(text);
    const name = policy.metadata.name;
    const canonical = canonicalize(policy);
    const specHash = policyHash(policy);
    const at = this.clock.now();
    return this.store.db.transaction().execute(async (tx) => {
      const created = await this.repository.insertPolicy(tx, { name, description: policy.metadata.description ?? '', createdBy: actor, at });
      if (!created) throw new AppError('already_exists', `policy ${name} already exists: add a version with POST /api/v1/policies/${name}/versions`, [{ path: 'metadata.name', message: 'already exists' }]);
      const version = await this.repository.insertVersion(tx, { policy: name, version: 1, specHash, canonical, source: text, sourceFormat: format, message: options.message, author: actor, at });
      const record = await this.repository.setLatest(tx, name, 1, policy.metadata.description ?? '', at);
      await this.audit.record(tx, { actor, action: 'policy.create', targetType: 'policy', targetId: name, before: null, after: { name, version: 1, specHash, message: options.message } });
      await this.events.publish(tx, { type: 'policy', data: { policy: name, version: 1, action: 'created' } });
      return { policy: record, version, created: true, warnings };
    });
  }

  /**
   * Add a version. `expectedVersion` is the latest version the author edited (If-Match): a
   * stale one is a 409, never a silent overwrite. Submitting the latest version's meaning
   * again writes nothing and returns it (`created: false`), so `apply` is idempotent.
   */
  async addVersion(name: string, text: string, format: SourceFormat, options: { expectedVersion: number; message: string }, actor: string): Promise<VersionWritten> {
    const { policy, warnings } = parsed(text);
    if (policy.metadata.name !== name) {
      throw new AppError('validation_failed', `metadata.name is "${policy.metadata.name}" but the URL names policy "${name}"`, [{ path: 'metadata.name', message: `must be "${name}"` }]);
    }
    const canonical = canonicalize(policy);
    const specHash = policyHash(policy);
    const at = this.clock.now();
    return this.store.db.transaction().execute(async (tx) => {
      const current = await this.repository.lockPolicy(tx, name);
      if (!current) throw new AppError('not_found', `policy ${name} not found`);
      if (current.latestVersion !== options.expectedVersion) {
        throw new AppError('conflict', `policy ${name} is at version ${current.latestVersion}, not ${options.expectedVersion}: reload it and apply your change again`, [
          { path: 'expectedVersion', message: `stale: latest is ${current.latestVersion}` },
        ]);
      }
      const latest = await this.repository.getVersion(tx, name, current.latestVersion);
      if (latest && latest.specHash === specHash) return { policy: current, version: latest, created: false, warnings };
      const number = current.latestVersion + 1;
      const version = await this.repository.insertVersion(tx, { policy: name, version: number, specHash, canonical, source: text, sourceFormat: format, message: options.message, author: actor, at });
      const record = await this.repository.setLatest(tx, name, number, policy.metadata.description ?? '', at);
      const changes = latest ? this.diffCanonical(latest.canonical, canonical) : [];
      await this.audit.record(tx, {
        actor,
        action: 'policy.version.create',
        targetType: 'policy',
        targetId: name,
        before: latest ? { version: latest.version, specHash: latest.specHash } : null,
        after: { version: number, specHash, message: options.message, changes: auditDiff(changes) },
      });
      await this.events.publish(tx, { type: 'policy', data: { policy: name, version: number, action: 'version-added' } });
      return { policy: record, version, created: true, warnings };
    });
  }

  list(): Promise<PolicyRecord[]> {
    return this.repository.listPolicies(this.store.db);
  }

  async get(name: string): Promise<{ policy: PolicyRecord; versions: PolicyVersionRecord[] }> {
    const policy = await this.repository.getPolicy(this.store.db, name);
    if (!policy) throw new AppError('not_found', `policy ${name} not found`);
    return { policy, versions: await this.repository.listVersions(this.store.db, name) };
  }

  async getVersion(name: string, version: number): Promise<PolicyVersionContent> {
    const found = await this.repository.getVersion(this.store.db, name, version);
    if (!found) {
      const policy = await this.repository.getPolicy(this.store.db, name);
      throw new AppError('not_found', policy ? `policy ${name} has no version ${version} (latest is ${policy.latestVersion})` : `policy ${name} not found`);
    }
    return found;
  }

  /** Structural diff of two stored versions (canonical forms: meaning-preserving edits do not show). */
  async diff(name: string, from: number, to: number): Promise<DiffEntry[]> {
    const [a, b] = await Promise.all([this.getVersion(name, from), this.getVersion(name, to)]);
    return this.diffCanonical(a.canonical, b.canonical);
  }

  private diffCanonical(before: string, after: string): DiffEntry[] {
    const a = parseCanonical(before);
    const b = parseCanonical(after);
    if (!a.ok || !b.ok) throw new AppError('internal', 'a stored policy version no longer parses as canonical; the policy library changed incompatibly');
    return diffPolicies(a.policy, b.policy);
  }
}
