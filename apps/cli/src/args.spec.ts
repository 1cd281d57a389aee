import { InvalidArgumentError } from 'commander';
import { describe, expect, it } from 'vitest';
import { duration, interval, labelSelector, nodeStates, nonNegativeInt, parseDuration, policyName, positiveInt, reason, rolloutId, sinceValue } from './args.js';

const rejects = (fn: () => unknown): string => {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidArgumentError);
    return (error as Error).message;
  }
  throw new Error('expected InvalidArgumentError');
};

describe('argument parsers', () => {
  it('whole numbers', () => {
    expect(positiveInt('3')).toBe(3);
    expect(rejects(() => positiveInt('0'))).toMatch(/out of range/);
    expect(rejects(() => positiveInt('1.5'))).toMatch(/not a whole number >= 1/);
    expect(rejects(() => positiveInt('-2'))).toMatch(/not a whole number/);
    expect(rejects(() => positiveInt('99999999999'))).toMatch(/out of range/);
    expect(nonNegativeInt('0')).toBe(0);
    expect(rejects(() => nonNegativeInt('x'))).toMatch(/not a whole number >= 0/);
  });

  it('durations', () => {
    expect([parseDuration('500ms'), parseDuration('2s'), parseDuration('1.5m'), parseDuration('1h'), parseDuration('1d'), parseDuration('250')]).toEqual([500, 2000, 90_000, 3_600_000, 86_400_000, 250]);
    expect(parseDuration('soon')).toBeUndefined();
    expect(duration('5m')).toBe(300_000);
    expect(rejects(() => duration('5 minutes'))).toMatch(/not a duration/);
    expect(rejects(() => interval('50ms'))).toMatch(/too short/);
  });

  it('label selectors and node states', () => {
    expect(labelSelector('zone=a, kernel=6.18-bpf-thp-v8')).toBe('zone=a,kernel=6.18-bpf-thp-v8');
    expect(labelSelector('example.com/tier=')).toBe('example.com/tier=');
    expect(rejects(() => labelSelector('zone'))).toMatch(/"zone" is not key=value/);
    expect(rejects(() => labelSelector('zo ne=a'))).toMatch(/not a label key/);
    expect(rejects(() => labelSelector('zone=a b'))).toMatch(/not a label value/);
    expect(nodeStates('drifted,stale')).toBe('drifted,stale');
    expect(rejects(() => nodeStates('drift,stale,gone'))).toBe('"drift", "gone" are not node states: use in-sync, drifted, pending, nacked, stale, incompatible, unassigned.');
  });

  it('names, ids, reasons, times', () => {
    expect(policyName('zgc-only')).toBe('zgc-only');
    expect(rejects(() => policyName('ZGC'))).toMatch(/not a policy name/);
    expect(rejects(() => policyName('-x'))).toMatch(/not a policy name/);
    expect(rolloutId('ro-lq2x9k-1a2b3c4d')).toBe('ro-lq2x9k-1a2b3c4d');
    expect(rejects(() => rolloutId('ro_1'))).toMatch(/not a rollout id/);
    expect(reason('  canary looks bad ')).toBe('canary looks bad');
    expect(rejects(() => reason('  '))).toMatch(/reason is empty/);
    expect(rejects(() => reason('x'.repeat(1001)))).toMatch(/at most 1000/);
    expect(sinceValue('15m')).toBe('15m');
    expect(sinceValue('2026-11-25T10:00:00Z')).toBe('2026-11-25T10:00:00Z');
    expect(rejects(() => sinceValue('yesterday'))).toMatch(/neither an ISO 8601 time/);
  });
});
