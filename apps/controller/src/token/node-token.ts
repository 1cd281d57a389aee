/**
 * Node tokens: `<nodeId>.<base64url HMAC-SHA256(secret, nodeId)>`. Stateless, so any replica
 * verifies them with the shared secret; a token speaks for exactly one node id. Rotating the
 * secret (THP_AGENT_SECRET) invalidates every node token at once.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

function mac(secret: string, nodeId: string): Buffer {
  return createHmac('sha256', secret).update(nodeId, 'utf8').digest();
}

export function mintNodeToken(nodeId: string, secret: string): string {
  return `${nodeId}.${mac(secret, nodeId).toString('base64url')}`;
}

/** The node id the token speaks for, or undefined when it is malformed or forged. */
export function verifyNodeToken(token: string, secret: string): string | undefined {
  const dot = token.lastIndexOf('.');
  if (dot <= 0 || dot === token.length - 1) return undefined;
  const nodeId = token.slice(0, dot);
  const given = Buffer.from(token.slice(dot + 1), 'base64url');
  const expected = mac(secret, nodeId);
  if (given.length !== expected.length) return undefined;
  return timingSafeEqual(given, expected) ? nodeId : undefined;
}
