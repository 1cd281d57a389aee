/**
 * The audit trail: every mutation records actor, time, before and after in the same
 * transaction as the change, hash-chained so that any edited, removed or reordered row is
 * found by `verify()`.
 */
import { Inject, Injectable } from '@nestjs/common';
import { STORE } from '../common/tokens.js';
import type { Db, Store } from '../store/database.js';
import { EventsService } from '../events/events.service.js';
import { GENESIS_HASH, auditHash } from './audit-hash.js';
import { AuditRepository, type AuditEntry, type AuditFilter, type NewAuditEntry } from './audit.repository.js';

export interface ChainVerification {
  readonly ok: boolean;
  /** Rows checked (all of them when ok). */
  readonly checked: number;
  readonly headSeq: number | null;
  readonly headHash: string | null;
  /** The first broken link, when not ok. */
  readonly firstBroken?: { readonly seq: number; readonly reason: string; readonly expected: string; readonly actual: string };
}

const VERIFY_PAGE = 1_000;

@Injectable()
export class AuditService {
  constructor(
    @Inject(STORE) private readonly store: Store,
    @Inject(AuditRepository) private readonly repository: AuditRepository,
    @Inject(EventsService) private readonly events: EventsService,
  ) {}

  /** Record a change inside its transaction. */
  async record(tx: Db, entry: NewAuditEntry): Promise<AuditEntry> {
    const written = await this.repository.append(tx, entry);
    await this.events.publish(tx, {
      type: 'audit',
      data: { seq: written.seq, action: written.action, actor: written.actor, targetType: written.targetType, targetId: written.targetId },
    });
    return written;
  }

  list(filter: AuditFilter): Promise<AuditEntry[]> {
    return this.repository.list(this.store.db, filter);
  }

  /** Walk the chain from the first row; report the first link that does not hold. */
  async verify(): Promise<ChainVerification> {
    let previousHash = GENESIS_HASH;
    let expectedSeq = 1;
    let checked = 0;
    let head: AuditEntry | undefined;
    for (;;) {
      const page = await this.repository.pageFrom(this.store.db, expectedSeq - 1, VERIFY_PAGE);
      if (page.length === 0) break;
      for (const row of page) {
        const broken = (reason: string, expected: string, actual: string): ChainVerification => ({
          ok: false,
          checked,
          headSeq: head?.seq ?? null,
          headHash: head?.hash ?? null,
          firstBroken: { seq: row.seq, reason, expected, actual },
        });
        if (row.seq !== expectedSeq) return broken(`rows missing before seq ${row.seq}`, String(expectedSeq), String(row.seq));
        if (row.prevHash !== previousHash) return broken('prev_hash does not match the hash of the previous row', previousHash, row.prevHash);
        const recomputed = auditHash(row);
        if (recomputed !== row.hash) return broken('row content does not match its hash (the row was changed)', recomputed, row.hash);
        previousHash = row.hash;
        expectedSeq = row.seq + 1;
        checked += 1;
        head = row;
      }
    }
    return { ok: true, checked, headSeq: head?.seq ?? null, headHash: head?.hash ?? null };
  }
}
