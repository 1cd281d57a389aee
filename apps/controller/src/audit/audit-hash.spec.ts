import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { GENESIS_HASH, auditHash, canonicalJson } from './audit-hash.js';

describe('audit hash', () => {
  it('renders canonical JSON with sorted keys at every depth', () => {
    expect(canonicalJson({ b: 1, a: { d: [2, { z: null, y: 'x' }], c: true } })).toBe('{"a":{"c":true,"d":[2,{"y":"x","z":null}]},"b":1}');
    expect(canonicalJson({ a: undefined, b: 1 })).toBe('{"b":1}');
  });

  it('is sha256 over the canonical row including the previous hash', () => {
    const row = { seq: 1, at: new Date('2026-11-25T00:00:00.000Z'), actor: 'a', action: 'x', targetType: 't', targetId: 'i', before: null, after: { k: 1 }, prevHash: GENESIS_HASH };
    const expected = createHash('sha256')
      .update(`{"action":"x","actor":"a","after":{"k":1},"at":"2026-11-25T00:00:00.000Z","before":null,"prevHash":"${GENESIS_HASH}","seq":1,"targetId":"i","targetType":"t"}`)
      .digest('hex');
    expect(auditHash(row)).toBe(expected);
    expect(auditHash({ ...row, prevHash: 'f'.repeat(64) })).not.toBe(expected);
    expect(auditHash({ ...row, after: { k: 2 } })).not.toBe(expected);
  });
});
