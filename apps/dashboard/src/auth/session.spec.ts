import { describe, expect, it } from 'vitest';
import { clearToken, hasRole, loadToken, normalizeToken, saveToken, type TokenStorage } from './session.js';

class MapStorage implements TokenStorage {
  readonly map = new Map<string, string>();
  getItem(key: string): string | null {
    return this.map.get(key) ?? null;
  }
  setItem(key: string, value: string): void {
    this.map.set(key, value);
  }
  removeItem(key: string): void {
    this.map.delete(key);
  }
}

describe('the session token', () => {
  it('is saved, loaded and cleared', () => {
    const storage = new MapStorage();
    expect(loadToken(storage)).toBeNull();
    saveToken(storage, 'thp_abc');
    expect(loadToken(storage)).toBe('thp_abc');
    clearToken(storage);
    expect(loadToken(storage)).toBeNull();
    storage.setItem('thp-fleet.token', '   ');
    expect(loadToken(storage)).toBeNull();
  });

  it('is taken as pasted, with or without "Bearer", and refused when it cannot be a token', () => {
    expect(normalizeToken('  Bearer thp_abc \n')).toEqual({ token: 'thp_abc' });
    expect(normalizeToken('')).toEqual({ problem: 'Paste an API token (it starts with thp_).' });
    expect(normalizeToken('thp_a b')).toEqual({ problem: 'A token has no spaces: paste it exactly as it was shown.' });
  });

  it('ranks roles as the controller does', () => {
    expect(hasRole('viewer', 'viewer')).toBe(true);
    expect(hasRole('viewer', 'operator')).toBe(false);
    expect(hasRole('operator', 'operator')).toBe(true);
    expect(hasRole('operator', 'admin')).toBe(false);
    expect(hasRole('admin', 'operator')).toBe(true);
  });
});
