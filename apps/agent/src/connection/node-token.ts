/**
 * Node tokens, in the controller's format: `<nodeId>.<base64url HMAC-SHA256(secret, nodeId)>`,
 * sent as `authorization: Bearer <token>` metadata. A node may only speak for itself: the
 * controller checks that the token's node id is the Hello's node id.
 *
 * Minting tokens from the shared agent secret is a convenience for demos and the simulated
 * fleet (one process speaks for many nodes). In production each node gets its own token (or
 * a client certificate) and the secret stays with the controller.
 */
import { createHmac } from 'node:crypto';
import type { AgentAuth } from '../config/agent.config.js';

export function mintNodeToken(secret: string, nodeId: string): string {
  return `${nodeId}.${createHmac('sha256', secret).update(nodeId).digest('base64url')}`;
}

/** The bearer token this node presents, from the configured credentials. */
export function nodeToken(auth: AgentAuth, nodeId: string): string {
  switch (auth.kind) {
    case 'token':
      return auth.token;
    case 'secret':
      return mintNodeToken(auth.secret, nodeId);
  }
}
