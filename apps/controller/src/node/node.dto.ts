import { AppError } from '../common/errors.js';
import { NODE_ID, POLICY_NAME, v } from '../common/validation.js';
import { parseDuration } from '../config/config.js';
import { NODE_STATES, type NodeState } from './node-state.js';

export const NODE_ID_PARAM = NODE_ID;
export const LIMIT_PARAM = v.intString({ min: 1, max: 10_000 });
export const SAMPLE_LIMIT_PARAM = v.intString({ min: 1, max: 50_000 });
export const METRIC_NAME_PARAM = v.string({ min: 1, max: 200 });

/** PUT /nodes/{id}/assignment: a policy version, or `{"policy": null}` for none. */
export const ASSIGNMENT_BODY = v.object(
  {
    policy: v.nullable(POLICY_NAME),
    version: v.optional(v.int({ min: 1, max: 2_147_483_647 })),
    expectedRevision: v.optional(v.int({ min: 0, max: 2_147_483_647, description: 'Optimistic concurrency (or send If-Match: "rev-N")' })),
    reason: v.optional(v.string({ max: 500 })),
  },
  'The desired policy version of the node (policy null = none: the node gets a Revoke)',
);

/** `state=drifted,pending` */
export function parseStates(text: string | undefined): NodeState[] | undefined {
  if (text === undefined || text === '') return undefined;
  const states = text.split(',').map((s) => s.trim());
  const bad = states.filter((s) => !(NODE_STATES as readonly string[]).includes(s));
  if (bad.length > 0) throw new AppError('invalid_argument', `unknown node state ${bad.join(', ')}`, bad.map((s) => ({ path: 'query.state', message: `"${s}" is not one of ${NODE_STATES.join(', ')}` })));
  return states as NodeState[];
}

/** `since=2026-11-25T10:00:00Z` or `since=15m` (that long ago). */
export function parseSince(text: string | undefined, now: Date, fallbackMs: number): Date {
  if (text === undefined || text === '') return new Date(now.getTime() - fallbackMs);
  const relative = parseDuration(text);
  if (relative !== undefined) return new Date(now.getTime() - relative);
  const absolute = new Date(text);
  if (Number.isNaN(absolute.getTime()) || !/^\d{4}-\d{2}-\d{2}/.test(text)) {
    throw new AppError('invalid_argument', 'since must be an ISO 8601 time or a duration such as 15m', [{ path: 'query.since', message: `unparseable: ${text}` }]);
  }
  return absolute;
}

export const NODE_SCHEMA = {
  type: 'object',
  properties: {
    id: { type: 'string' },
    labels: { type: 'object', additionalProperties: { type: 'string' } },
    state: { type: 'string', enum: [...NODE_STATES] },
    drift: { type: 'array', items: { type: 'string' } },
    incompatibility: { type: 'string', nullable: true },
    connected: { type: 'boolean' },
    stale: { type: 'boolean' },
    lastSeen: { type: 'string', format: 'date-time' },
    desired: { type: 'object', nullable: true, description: 'What the operator or a rollout wants (policy, version, specHash, rolloutId, revision)' },
    intent: { type: 'object', nullable: true, description: 'What the controller last sent (with nonce)' },
    acked: { type: 'object', nullable: true, description: 'What the node acknowledged' },
    observed: { type: 'object', nullable: true, description: 'What the node reports it runs (enforcement, map hash, sysfs)' },
    quarantined: { type: 'boolean', description: 'The node NACKed its desired version; it will not be re-sent' },
    lastNack: { type: 'object', nullable: true, description: 'The most recent NACK with its stage and reason' },
    capabilities: { type: 'object' },
  },
};
