import { describe, expect, it } from 'vitest';
import { formatLevel, formatPercentMagnitude, formatSignedPercent, formatStatistic, formatValue } from './format.js';

describe('explanation formatting', () => {
  it('percentages keep two significant digits below 10 % and none above', () => {
    expect(formatPercentMagnitude(0.38)).toBe('38%');
    expect(formatPercentMagnitude(-0.024)).toBe('2.4%');
    expect(formatPercentMagnitude(0.0031)).toBe('0.31%');
    expect(formatPercentMagnitude(0.05)).toBe('5%');
    expect(formatPercentMagnitude(0)).toBe('0%');
    expect(formatSignedPercent(-0.012)).toBe('-1.2%');
    expect(formatSignedPercent(0.55)).toBe('+55%');
  });

  it('values to three significant digits, tiny and huge ones in exponent form', () => {
    expect(formatValue(13.847)).toBe('13.8');
    expect(formatValue(0.000123456)).toBe('0.000123');
    expect(formatValue(1234567)).toBe('1230000');
    expect(formatValue(1e-9)).toBe('1.00e-9');
    expect(formatValue(0)).toBe('0');
  });

  it('statistics and levels', () => {
    expect(formatStatistic(0.0001208)).toBe('1.21e-4');
    expect(formatStatistic(0.1272)).toBe('0.127');
    expect(formatStatistic(20)).toBe('20');
    expect(formatStatistic(Infinity)).toBe('infinite');
    expect(formatLevel(0.9)).toBe('90%');
    expect(formatLevel(0.952)).toBe('95.2%');
  });
});
