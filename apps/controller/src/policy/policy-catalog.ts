/**
 * Read-through cache of policy versions for the hot paths (snapshots, node state). Versions
 * are immutable, so an entry never goes stale; the cache is bounded by count.
 */
import { Inject, Injectable } from '@nestjs/common';
import { parseCanonical, type ThpPolicy } from '@thp-fleet/policy';
import { STORE } from '../common/tokens.js';
import type { Store } from '../store/database.js';
import { PolicyRepository, type DeliverableVersion } from './policy.repository.js';

export interface CatalogEntry extends DeliverableVersion {
  /** The parsed policy, or undefined if the stored canonical form no longer validates. */
  readonly parsed: ThpPolicy | undefined;
}

export const versionKey = (policy: string, version: number): string => `${policy}@${version}`;

const MAX_ENTRIES = 2_000;

@Injectable()
export class PolicyCatalog {
  private readonly entries = new Map<string, CatalogEntry>();

  constructor(
    @Inject(STORE) private readonly store: Store,
    @Inject(PolicyRepository) private readonly repository: PolicyRepository,
  ) {}

  async getMany(keys: readonly { policy: string; version: number }[]): Promise<Map<string, CatalogEntry>> {
    const out = new Map<string, CatalogEntry>();
    const missing = new Map<string, { policy: string; version: number }>();
    for (const key of keys) {
      const id = versionKey(key.policy, key.version);
      if (out.has(id)) continue;
      const hit = this.entries.get(id);
      if (hit) out.set(id, hit);
      else missing.set(id, { policy: key.policy, version: key.version });
    }
    if (missing.size > 0) {
      for (const found of await this.repository.getDeliverable(this.store.db, [...missing.values()])) {
        const result = parseCanonical(found.canonical);
        const entry: CatalogEntry = { ...found, parsed: result.ok ? result.policy : undefined };
        this.remember(versionKey(found.policy, found.version), entry);
        out.set(versionKey(found.policy, found.version), entry);
      }
    }
    return out;
  }

  async get(policy: string, version: number): Promise<CatalogEntry | undefined> {
    return (await this.getMany([{ policy, version }])).get(versionKey(policy, version));
  }

  /** A cached entry without I/O (undefined when not loaded yet). */
  peek(policy: string, version: number): CatalogEntry | undefined {
    return this.entries.get(versionKey(policy, version));
  }

  private remember(key: string, entry: CatalogEntry): void {
    if (this.entries.size >= MAX_ENTRIES) {
      const oldest = this.entries.keys().next().value;
      if (oldest !== undefined) this.entries.delete(oldest);
    }
    this.entries.set(key, entry);
  }
}
