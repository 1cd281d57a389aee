import { describe, expect, it } from 'vitest';
import type { MetricSampleView } from '../api/types.js';
import { align, bucketMean, byCgroup, deltaRate, formatBytes, formatNumber, formatPercent, mean, typicalInterval } from './series.model.js';

const sample = (ts: string, value: number, cgroup = ''): MetricSampleView => ({ ts, name: 'm', cgroup, kind: 'gauge', value });

describe('series from metric samples', () => {
  it('splits samples by cgroup, in time order, in unix seconds, dropping unreadable ones', () => {
    const groups = byCgroup([
      sample('2026-01-01T00:00:02Z', 2),
      sample('2026-01-01T00:00:01Z', 1),
      sample('2026-01-01T00:00:01Z', 7, '/a'),
      sample('garbage', 3),
      sample('2026-01-01T00:00:03Z', Number.NaN),
    ]);
    const t0 = Date.parse('2026-01-01T00:00:00Z') / 1000;
    expect(groups.get('')).toEqual([
      { t: t0 + 1, v: 1 },
      { t: t0 + 2, v: 2 },
    ]);
    expect(groups.get('/a')).toEqual([{ t: t0 + 1, v: 7 }]);
  });

  it('turns per-interval counter increases into per-second rates over the interval that produced them', () => {
    // Reports every 10 s, then a 30 s gap (disconnected) whose report covers the whole gap.
    expect(
      deltaRate([
        { t: 0, v: 5 },
        { t: 10, v: 20 },
        { t: 20, v: 0 },
        { t: 50, v: 90 },
      ]),
    ).toEqual([
      { t: 10, v: 2 },
      { t: 20, v: 0 },
      { t: 50, v: 3 },
    ]);
  });

  it('gives no rate for the first sample, for samples at the same time, or for a negative increase', () => {
    expect(deltaRate([{ t: 0, v: 5 }])).toEqual([]);
    expect(
      deltaRate([
        { t: 0, v: 1 },
        { t: 0, v: 1 },
        { t: 5, v: -3 },
        { t: 10, v: 10 },
      ]),
    ).toEqual([{ t: 10, v: 2 }]);
  });

  it('aligns series on the union of their times with nulls where a series has no point', () => {
    expect(
      align([
        { label: 'a', points: [{ t: 1, v: 10 }, { t: 3, v: 30 }] },
        { label: 'b', points: [{ t: 2, v: 20 }, { t: 3, v: 31 }] },
      ]),
    ).toEqual({
      xs: [1, 2, 3],
      series: [
        { label: 'a', values: [10, null, 30] },
        { label: 'b', values: [null, 20, 31] },
      ],
    });
  });

  it('averages points into buckets, at the bucket centres', () => {
    expect(
      bucketMean(
        [
          { t: 0, v: 1 },
          { t: 4, v: 3 },
          { t: 10, v: 10 },
          { t: 29, v: 6 },
        ],
        10,
      ),
    ).toEqual([
      { t: 5, v: 2 },
      { t: 15, v: 10 },
      { t: 25, v: 6 },
    ]);
    expect(bucketMean([{ t: 0, v: 1 }], 0)).toEqual([]);
  });

  it('finds the typical sample spacing (median gap, at least 1 s)', () => {
    expect(
      typicalInterval([
        [
          { t: 0, v: 0 },
          { t: 10, v: 0 },
          { t: 20, v: 0 },
          { t: 100, v: 0 },
        ],
      ]),
    ).toBe(10);
    expect(typicalInterval([])).toBe(15);
    expect(mean([1, 2, 6])).toBe(3);
    expect(mean([])).toBeNull();
  });
});

describe('number formats', () => {
  it('shortens large numbers to three significant digits and keeps small ones readable', () => {
    expect(formatNumber(1_234_567)).toBe('1.23M');
    expect(formatNumber(12_345)).toBe('12.3k');
    expect(formatNumber(1_234)).toBe('1230');
    expect(formatNumber(9_999)).toBe('10000');
    expect(formatNumber(0.01234)).toBe('0.0123');
    expect(formatNumber(0.00001234)).toBe('1.2e-5');
    expect(formatNumber(0)).toBe('0');
    expect(formatNumber(null)).toBe('–');
    expect(formatNumber(Number.POSITIVE_INFINITY)).toBe('–');
  });
  it('writes memory in binary units and changes as signed percentages', () => {
    expect(formatBytes(512 * 1024 * 1024)).toBe('512 MiB');
    expect(formatBytes(1.5 * 1024 ** 3)).toBe('1.5 GiB');
    expect(formatBytes(-2048)).toBe('-2 KiB');
    expect(formatPercent(0.123)).toBe('+12.3 %');
    expect(formatPercent(-0.05)).toBe('-5.0 %');
    expect(formatPercent(null)).toBe('–');
  });
});
