import { describe, expect, it } from 'vitest';
import { ago, inline, plural, policyRef, printable, renderTable, shortDuration, shortHash, timestamp, truncate } from './table.js';

describe('renderTable', () => {
  it('aligns columns two spaces apart, headers in capitals, numbers right-aligned, no trailing blanks', () => {
    const lines = renderTable(
      [{ header: 'node' }, { header: 'count', align: 'right' }, { header: 'note' }],
      [
        ['sim-001', '3', ''],
        ['a', '120', 'x'],
      ],
    );
    expect(lines).toEqual(['NODE     COUNT  NOTE', 'sim-001      3', 'a          120  x']);
  });

  it('cuts long cells at max with an ellipsis and pads short rows', () => {
    const lines = renderTable([{ header: 'a', max: 5 }, { header: 'b' }], [['abcdefgh'], ['ab', 'z']]);
    expect(lines).toEqual(['A      B', 'abcd…', 'ab     z']);
  });

  it('neutralises control characters from the server (no terminal escapes)', () => {
    const [, row] = renderTable([{ header: 'label' }], [['evil\u001b[2J\nline']]);
    expect(row).toBe('evil?[2J line');
    expect(printable('a\tb\u0007c\u009bd')).toBe('a b?c?d');
  });

  it('refuses rows wider than the columns (a bug of the caller)', () => {
    expect(() => renderTable([{ header: 'a' }], [['1', '2']])).toThrow(/2 cells for 1 columns/);
  });
});

describe('formatters', () => {
  const now = Date.parse('2026-11-25T12:00:00Z');

  it('ago: past and future in two units at most', () => {
    expect(ago('2026-11-25T11:59:55Z', now)).toBe('5s ago');
    expect(ago('2026-11-25T11:56:40Z', now)).toBe('3m20s ago');
    expect(ago('2026-11-25T10:00:00Z', now)).toBe('2h ago');
    expect(ago('2026-11-21T12:00:00Z', now)).toBe('4d ago');
    expect(ago('2026-11-25T12:00:20Z', now)).toBe('in 20s');
    expect(ago(null, now)).toBe('-');
    expect(ago('not a time', now)).toBe('not a time');
  });

  it('shortDuration', () => {
    expect([0, 999, 45_000, 180_000, 200_000, 7_200_000, 7_500_000, 3 * 86_400_000].map(shortDuration)).toEqual(['0s', '0s', '45s', '3m', '3m20s', '2h', '2h05m', '3d']);
    expect(shortDuration(-5)).toBe('0s');
  });

  it('policyRef, shortHash, timestamp, inline, truncate, plural', () => {
    expect(policyRef({ policy: 'zgc-only', version: 3 })).toBe('zgc-only@3');
    expect(policyRef({ policy: null, version: null })).toBe('-');
    expect(policyRef(null)).toBe('-');
    expect(shortHash('3c4637942705f9198cee')).toBe('3c4637942705');
    expect(shortHash(null)).toBe('-');
    expect(timestamp('2026-11-25T10:00:03.123Z')).toBe('2026-11-25 10:00:03Z');
    expect(inline({ a: [1, 2] })).toBe('{"a":[1,2]}');
    expect(inline('x'.repeat(100), 10)).toBe('xxxxxxxxx…');
    expect(truncate('abc', 3)).toBe('abc');
    expect(truncate('abc', 0)).toBe('');
    expect(plural(1, 'node')).toBe('1 node');
    expect(plural(3, 'node')).toBe('3 nodes');
  });
});
