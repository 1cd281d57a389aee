import { describe, expect, it } from 'vitest';
import { mintNodeToken, verifyNodeToken } from './node-token.js';

const SECRET = 's'.repeat(40);

describe('node tokens', () => {
  it('speak for exactly the node they were minted for', () => {
    const token = mintNodeToken('node-1.example.com', SECRET);
    expect(token.startsWith('node-1.example.com.')).toBe(true);
    expect(verifyNodeToken(token, SECRET)).toBe('node-1.example.com');
  });
  it('reject forgeries: another node id, another secret, truncation', () => {
    const token = mintNodeToken('node-1', SECRET);
    const mac = token.slice('node-1.'.length);
    expect(verifyNodeToken(`node-2.${mac}`, SECRET)).toBeUndefined();
    expect(verifyNodeToken(token, 't'.repeat(40))).toBeUndefined();
    expect(verifyNodeToken(token.slice(0, -2), SECRET)).toBeUndefined();
    expect(verifyNodeToken('no-dot', SECRET)).toBeUndefined();
    expect(verifyNodeToken('node-1.', SECRET)).toBeUndefined();
  });
});
