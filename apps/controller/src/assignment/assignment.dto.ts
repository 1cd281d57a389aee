import { LABELS, NODE_ID, POLICY_NAME, v } from '../common/validation.js';

/** POST /assignments: one desired state for many nodes, by ids or by label selector. */
export const BULK_ASSIGNMENT_BODY = v.object(
  {
    policy: v.nullable(POLICY_NAME),
    version: v.optional(v.int({ min: 1, max: 2_147_483_647 })),
    nodeIds: v.optional(v.array(NODE_ID, { min: 1, max: 100_000, unique: true })),
    selector: v.optional(v.object({ labels: LABELS })),
    reason: v.optional(v.string({ max: 500 })),
  },
  'Exactly one of nodeIds or selector. policy null = none (Revoke).',
);

export const BULK_RESULT_SCHEMA = {
  type: 'object',
  properties: {
    matched: { type: 'integer' },
    changed: { type: 'array', items: { type: 'string' } },
    unchanged: { type: 'array', items: { type: 'string' } },
    quarantined: { type: 'array', items: { type: 'string' }, description: 'Nodes that NACKed this version: recorded, never sent' },
  },
};
