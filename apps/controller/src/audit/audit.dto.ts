import { v } from '../common/validation.js';
import type { AuditEntry } from './audit.repository.js';

export const AUDIT_LIMIT = v.intString({ min: 1, max: 1_000 });
export const SEQ_PARAM = v.intString({ min: 1 });
export const TEXT_FILTER = v.string({ min: 1, max: 300 });

export function auditView(entry: AuditEntry): Record<string, unknown> {
  return {
    seq: entry.seq,
    at: entry.at.toISOString(),
    actor: entry.actor,
    action: entry.action,
    targetType: entry.targetType,
    targetId: entry.targetId,
    before: entry.before,
    after: entry.after,
    prevHash: entry.prevHash,
    hash: entry.hash,
  };
}

export const AUDIT_ENTRY_SCHEMA = {
  type: 'object',
  properties: {
    seq: { type: 'integer' },
    at: { type: 'string', format: 'date-time' },
    actor: { type: 'string' },
    action: { type: 'string' },
    targetType: { type: 'string' },
    targetId: { type: 'string' },
    before: { description: 'State before (null when created)' },
    after: { description: 'State after' },
    prevHash: { type: 'string' },
    hash: { type: 'string' },
  },
};
