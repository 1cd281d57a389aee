/**
 * The signed-in session: the API token lives in sessionStorage (gone when the tab closes, never
 * shared with other tabs or written to disk by the app); the role is always read from the API
 * (`GET /api/v1/whoami`), never from anything the browser could edit.
 */
import type { Role } from '../api/types.js';

const TOKEN_KEY = 'thp-fleet.token';

/** Minimal Storage surface (sessionStorage in the browser; a Map-backed one in tests). */
export interface TokenStorage {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
  removeItem(key: string): void;
}

export function loadToken(storage: TokenStorage): string | null {
  const token = storage.getItem(TOKEN_KEY);
  return token === null || token.trim() === '' ? null : token;
}

export function saveToken(storage: TokenStorage, token: string): void {
  storage.setItem(TOKEN_KEY, token);
}

export function clearToken(storage: TokenStorage): void {
  storage.removeItem(TOKEN_KEY);
}

/** A token as pasted: trimmed, an optional "Bearer " dropped; undefined plus a reason when unusable. */
export function normalizeToken(input: string): { token: string } | { problem: string } {
  const token = input.trim().replace(/^Bearer\s+/i, '');
  if (token === '') return { problem: 'Paste an API token (it starts with thp_).' };
  if (/\s/.test(token)) return { problem: 'A token has no spaces: paste it exactly as it was shown.' };
  return { token };
}

const RANK: Record<Role, number> = { viewer: 0, operator: 1, admin: 2 };

/** Whether `role` may do what needs `required` (viewer < operator < admin, as the controller checks). */
export function hasRole(role: Role, required: Role): boolean {
  return RANK[role] >= RANK[required];
}
