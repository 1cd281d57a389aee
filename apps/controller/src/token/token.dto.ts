import { v } from '../common/validation.js';
import type { ApiToken } from './token.repository.js';

export const CREATE_TOKEN_BODY = v.object({
  name: v.string({ min: 1, max: 100, pattern: /^[A-Za-z0-9][A-Za-z0-9 ._@-]*$/, patternHint: 'letters, digits, space, ".", "_", "@", "-"', description: 'Who or what uses the token' }),
  role: v.oneOf(['viewer', 'operator', 'admin'] as const, 'viewer reads; operator also changes policies and assignments; admin also manages tokens'),
  expiresInSeconds: v.optional(v.int({ min: 60, max: 10 * 365 * 86_400 })),
});

export const TOKEN_ID_PARAM = v.string({ min: 1, max: 64, pattern: /^tok_[0-9a-f]+$/, patternHint: 'a token id such as tok_0123456789ab' });

export function tokenView(token: ApiToken): Record<string, unknown> {
  return {
    id: token.id,
    name: token.name,
    role: token.role,
    prefix: token.prefix,
    createdAt: token.createdAt.toISOString(),
    createdBy: token.createdBy,
    expiresAt: token.expiresAt?.toISOString() ?? null,
    revokedAt: token.revokedAt?.toISOString() ?? null,
    revokedBy: token.revokedBy,
    lastUsedAt: token.lastUsedAt?.toISOString() ?? null,
  };
}

export const TOKEN_SCHEMA = {
  type: 'object',
  properties: {
    id: { type: 'string' },
    name: { type: 'string' },
    role: { type: 'string', enum: ['viewer', 'operator', 'admin'] },
    prefix: { type: 'string', description: 'First characters of the token, to recognise it' },
    createdAt: { type: 'string', format: 'date-time' },
    createdBy: { type: 'string' },
    expiresAt: { type: 'string', format: 'date-time', nullable: true },
    revokedAt: { type: 'string', format: 'date-time', nullable: true },
    lastUsedAt: { type: 'string', format: 'date-time', nullable: true },
  },
};
