import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { judgeCanary, judgeMetric, type MetricVerdict } from './judge.js';
import { createRng, sample } from './prng.test-util.js';
import { DESIGN_MIXTURE_WEIGHT } from './sequential.js';
import { JudgeInputError, metricSpecIssues, resolveMetricSpec, type JudgeTest, type MetricSpec } from './spec.js';

const latency = (test: JudgeTest, extra: Partial<MetricSpec> = {}): MetricSpec => ({
  name: 'p99 fault latency',
  direction: 'increase-is-bad',
  tolerance: 0.1,
  critical: true,
  test,
  ...extra,
});
const tests: JudgeTest[] = ['sequential', 'mann-whitney'];

function logNormalSample(seed: number, n: number, scale = 1, sigma = 0.3): number[] {
  const rng = createRng(seed);
  return sample(n, () => rng.logNormal(Math.log(10), sigma) * scale);
}

describe.each(tests)('judgeMetric with the %s test', (test) => {
  it('fails a regression well beyond tolerance and explains it in plain words', () => {
    const v = judgeMetric(latency(test), logNormalSample(1, 200, 1.38), logNormalSample(2, 200));
    expect(v.verdict).toBe('fail');
    expect(v.test).toBe(test);
    expect(v.effect!.relativeChange!).toBeGreaterThan(0.25);
    expect(v.effect!.relativeInterval!.lower!).toBeGreaterThan(0.1);
    expect(v.explanation).toMatch(/^canary p99 fault latency is \d+% higher than baseline/);
    expect(v.explanation).toContain('beyond the 10% tolerance for an increase');
    expect(v.explanation).toContain(': fail.');
    expect(v.explanation).toContain('90% ');
  });

  it('passes only when the data show the change is within tolerance, not merely "not significant"', () => {
    // Few noisy samples, no change: nothing significant, but nothing shown either.
    const few = judgeMetric(latency(test), logNormalSample(3, 12, 1, 0.6), logNormalSample(4, 12, 1, 0.6));
    expect(few.verdict).toBe('inconclusive');
    expect(few.explanation).toContain('straddles the 10% tolerance');
    // Many samples, no change: the interval now lies below the tolerance.
    const many = judgeMetric(latency(test), logNormalSample(5, 1500, 1, 0.6), logNormalSample(6, 1500, 1, 0.6));
    expect(many.verdict).toBe('pass');
    expect(many.effect!.relativeInterval!.upper!).toBeLessThan(0.1);
    expect(many.explanation).toContain('within the 10% tolerance for an increase with 95% confidence: pass');
  });

  it('judges decrease-is-bad metrics in the other direction', () => {
    const throughput: MetricSpec = { name: 'throughput', direction: 'decrease-is-bad', tolerance: 0.05, critical: false, test };
    const dropped = judgeMetric(throughput, logNormalSample(7, 300, 0.7), logNormalSample(8, 300));
    expect(dropped.verdict).toBe('fail');
    expect(dropped.explanation).toContain('lower than baseline');
    expect(dropped.explanation).toContain('tolerance for a decrease');
    const raised = judgeMetric(throughput, logNormalSample(9, 300, 1.3), logNormalSample(10, 300));
    expect(raised.verdict).toBe('pass');
  });

  it('drops non-finite values, counts them, and says so', () => {
    const canary = [...logNormalSample(11, 50), NaN, Infinity, -Infinity];
    const v = judgeMetric(latency(test), canary, logNormalSample(12, 50));
    expect(v.canary).toMatchObject({ count: 50, dropped: 3 });
    expect(v.explanation).toContain('3 non-finite values dropped');
  });

  it('gives no-data below minSamples on either side', () => {
    const v = judgeMetric(latency(test, { minSamples: 20 }), logNormalSample(13, 19), logNormalSample(14, 100));
    expect(v.verdict).toBe('no-data');
    expect(v.effect).toBeNull();
    expect(v.evidence).toBeNull();
    expect(v.explanation).toBe('no data to judge p99 fault latency: 19 canary and 100 baseline samples, and at least 20 are needed on each side.');
    expect(judgeMetric(latency(test), [], []).verdict).toBe('no-data');
  });

  it('handles a baseline centred on zero (idle PSI): any clear rise fails, no relative change is claimed', () => {
    const psi: MetricSpec = { name: 'memory PSI some avg10', direction: 'increase-is-bad', tolerance: 0.1, critical: true, test };
    const rng = createRng(15);
    const baseline = sample(60, () => 0);
    const canary = sample(60, () => 2 + rng.uniform());
    const v = judgeMetric(psi, canary, baseline);
    expect(v.verdict).toBe('fail');
    expect(v.effect!.relativeChange).toBeNull();
    const idle = judgeMetric(psi, sample(60, () => 0), baseline);
    expect(idle.verdict).toBe('pass');
  });

  it('is deterministic and survives a JSON round trip unchanged (fast-check)', () => {
    const value = fc.oneof(fc.double(), fc.integer({ min: -5, max: 5 }), fc.double({ min: 0, max: 100, noNaN: true }));
    fc.assert(
      fc.property(fc.array(value, { maxLength: 40 }), fc.array(value, { maxLength: 40 }), fc.constantFrom(...tests), (canary, baseline, t) => {
        const verdict = judgeMetric(latency(t, { minSamples: 2 }), canary, baseline);
        expect(JSON.parse(JSON.stringify(verdict))).toEqual(verdict);
        expect(judgeMetric(latency(t, { minSamples: 2 }), canary, baseline)).toEqual(verdict);
      }),
      { numRuns: 300 },
    );
  });
});

describe('judgeMetric properties (fast-check)', () => {
  const values = fc.array(fc.double({ min: -1e6, max: 1e6, noNaN: true }), { minLength: 10, maxLength: 60 });
  const directions = fc.constantFrom('increase-is-bad' as const, 'decrease-is-bad' as const);

  it('never throws on arbitrary numbers, NaN, infinities or empty input; no-data exactly when too few finite values', () => {
    fc.assert(
      fc.property(fc.array(fc.double(), { maxLength: 30 }), fc.array(fc.double(), { maxLength: 30 }), fc.constantFrom(...tests), directions, (canary, baseline, test, direction) => {
        const spec = latency(test, { direction, tolerance: 0.05, minSamples: 5 });
        const v = judgeMetric(spec, canary, baseline);
        expect(['pass', 'fail', 'inconclusive', 'no-data']).toContain(v.verdict);
        const finiteCount = (xs: number[]): number => xs.filter(Number.isFinite).length;
        expect(v.verdict === 'no-data').toBe(finiteCount(canary) < 5 || finiteCount(baseline) < 5);
        expect(v.explanation.length).toBeGreaterThan(20);
      }),
      { numRuns: 500 },
    );
  });

  it('swapping canary and baseline together with the direction gives the same verdict (tolerance 0)', () => {
    fc.assert(
      fc.property(values, values, fc.constantFrom(...tests), (a, b, test) => {
        const up = judgeMetric(latency(test, { tolerance: 0, direction: 'increase-is-bad' }), a, b);
        const down = judgeMetric(latency(test, { tolerance: 0, direction: 'decrease-is-bad' }), b, a);
        expect(down.verdict).toBe(up.verdict);
        expect(down.effect!.hodgesLehmannShift).toBe(up.effect!.hodgesLehmannShift === null ? null : -up.effect!.hodgesLehmannShift + 0);
      }),
      { numRuns: 200 },
    );
  });

  it('shifting the canary far in the bad direction fails', () => {
    fc.assert(
      fc.property(values, fc.double({ min: 0, max: 0.5, noNaN: true }), fc.constantFrom(...tests), directions, (baseline, tolerance, test, direction) => {
        const range = Math.max(...baseline) - Math.min(...baseline);
        const largest = Math.max(...baseline.map(Math.abs));
        const shift = 10 * (range + tolerance * largest + 1);
        const canary = baseline.map((x) => x + (direction === 'increase-is-bad' ? shift : -shift));
        const v = judgeMetric(latency(test, { direction, tolerance }), canary, baseline);
        expect(v.verdict).toBe('fail');
      }),
      { numRuns: 200 },
    );
  });

  it('identical canary and baseline data never fail', () => {
    fc.assert(
      fc.property(values, fc.double({ min: 0, max: 0.5, noNaN: true }), fc.constantFrom(...tests), directions, (data, tolerance, test, direction) => {
        const v = judgeMetric(latency(test, { direction, tolerance }), [...data].reverse(), data);
        expect(v.verdict).not.toBe('fail');
      }),
      { numRuns: 200 },
    );
  });
});

describe.each(tests)('identical distributions rarely fail (%s, seeded simulation)', (test) => {
  it('false fails at most alpha over 400 independent canaries', () => {
    const runs = 400;
    let fails = 0;
    for (let r = 0; r < runs; r++) {
      const v = judgeMetric(latency(test, { tolerance: 0 }), logNormalSample(50_000 + 2 * r, 80, 1, 0.5), logNormalSample(50_001 + 2 * r, 80, 1, 0.5));
      if (v.verdict === 'fail') fails++;
    }
    // tolerance 0 puts the truth on the boundary: the one-sided error is at most alpha = 0.05.
    expect(fails / runs).toBeLessThanOrEqual(0.05 + 3 * Math.sqrt((0.05 * 0.95) / runs));
  });
});

describe('spec validation', () => {
  it('reports every problem with its path', () => {
    const bad = { name: '', direction: 'up', tolerance: -1, critical: 'yes', test: 't-test', alpha: 0.7, minSamples: 1.5, extra: 1 };
    try {
      judgeMetric(bad as unknown as MetricSpec, [], []);
      expect.unreachable('an invalid spec must throw');
    } catch (error) {
      expect(error).toBeInstanceOf(JudgeInputError);
      const paths = (error as JudgeInputError).issues.map((i) => i.path).sort();
      expect(paths).toEqual(['spec.alpha', 'spec.critical', 'spec.direction', 'spec.extra', 'spec.minSamples', 'spec.name', 'spec.test', 'spec.tolerance']);
      expect((error as Error).message).toContain('spec.tolerance: must be a finite number >= 0');
    }
  });

  it('rejects a tolerance of 100 % or more for a decrease-is-bad metric', () => {
    expect(() => judgeMetric({ name: 'rps', direction: 'decrease-is-bad', tolerance: 1, critical: false }, [], [])).toThrow(/spec.tolerance: must be < 1/);
  });

  it('rejects data that is not an array', () => {
    expect(() => judgeMetric(latency('sequential'), 'nope' as unknown as number[], {} as unknown as number[])).toThrow(/canary: must be an array of numbers; baseline: must be an array/);
  });

  it('fills in the defaults: sequential test, alpha 0.05, 10 samples', () => {
    const v = judgeMetric({ name: 'rss', direction: 'increase-is-bad', tolerance: 0.05, critical: false }, [], []);
    expect(v).toMatchObject({ test: 'sequential', alpha: 0.05, minSamples: 10 });
  });

  it('defaults the design change to twice the tolerance, none for a tolerance of 0, and accepts null or a larger value', () => {
    expect(resolveMetricSpec({ name: 'rss', direction: 'increase-is-bad', tolerance: 0.05, critical: false }).designChange).toBe(0.1);
    expect(resolveMetricSpec({ name: 'rps', direction: 'decrease-is-bad', tolerance: 0.2, critical: false }).designChange).toBe(0.4);
    expect(resolveMetricSpec({ name: 'psi', direction: 'increase-is-bad', tolerance: 0, critical: false }).designChange).toBeNull();
    expect(resolveMetricSpec({ name: 'rss', direction: 'increase-is-bad', tolerance: 0.05, critical: false, designChange: null }).designChange).toBeNull();
    expect(resolveMetricSpec({ name: 'rss', direction: 'increase-is-bad', tolerance: 0.05, critical: false, designChange: 0.3 }).designChange).toBe(0.3);
    expect(resolveMetricSpec({ name: 'psi', direction: 'increase-is-bad', tolerance: 0, critical: false, designChange: 0.2 }).designChange).toBe(0.2);
  });

  it('rejects a design change that is not a number beyond the tolerance, with its path', () => {
    const spec = { name: 'rss', direction: 'increase-is-bad', tolerance: 0.1, critical: false } as const;
    expect(metricSpecIssues({ ...spec, designChange: 0.1 })).toEqual([
      { path: 'spec.designChange', message: 'must be greater than the tolerance (0.1): it is the regression the sequential test should catch fastest' },
    ]);
    expect(metricSpecIssues({ ...spec, designChange: '20%' })).toEqual([
      { path: 'spec.designChange', message: 'must be a finite number greater than the tolerance (relative: 0.1 is 10 %), or null' },
    ]);
    expect(metricSpecIssues({ ...spec, designChange: Infinity })).toHaveLength(1);
    expect(() => judgeCanary([{ name: 'a', direction: 'increase-is-bad', tolerance: 0.1, critical: true }, { ...spec, designChange: 0.05 }], {})).toThrow(
      /specs\[1\]\.designChange: must be greater than the tolerance/,
    );
  });

  it('stores the design change, its standardized drift and the mixture weight in the evidence', () => {
    const canary = logNormalSample(70, 100, 1.05);
    const baseline = logNormalSample(71, 100);
    const tuned = judgeMetric(latency('sequential'), canary, baseline);
    const evidence = tuned.evidence;
    if (evidence?.test !== 'sequential') throw new Error('expected sequential evidence');
    expect(evidence.designChange).toBe(0.2);
    expect(evidence.designWeight).toBe(DESIGN_MIXTURE_WEIGHT);
    // (0.2 - 0.1)·|mean_b| / √(s²_c + 1.1²·s²_b) from the samples themselves.
    const moments = (xs: number[]): { mean: number; variance: number } => {
      const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
      return { mean, variance: xs.reduce((a, b) => a + (b - mean) ** 2, 0) / (xs.length - 1) };
    };
    const c = moments(canary);
    const b = moments(baseline);
    expect(evidence.designEffect!).toBeCloseTo((0.1 * b.mean) / Math.sqrt(c.variance + 1.21 * b.variance), 9);
    const untuned = judgeMetric(latency('sequential', { designChange: null }), canary, baseline).evidence;
    if (untuned?.test !== 'sequential') throw new Error('expected sequential evidence');
    expect(untuned).toMatchObject({ designChange: null, designEffect: null, designWeight: 0 });
    expect(JSON.parse(JSON.stringify(tuned))).toEqual(tuned);
  });
});

describe('judgeCanary', () => {
  const spec = (name: string, critical: boolean): MetricSpec => ({ name, direction: 'increase-is-bad', tolerance: 0.1, critical });
  const same = (seed: number): { canary: number[]; baseline: number[] } => ({ canary: logNormalSample(seed, 1500, 1, 0.2), baseline: logNormalSample(seed + 1, 1500, 1, 0.2) });
  const worse = (seed: number): { canary: number[]; baseline: number[] } => ({ canary: logNormalSample(seed, 300, 1.5), baseline: logNormalSample(seed + 1, 300) });
  const unclear = (seed: number): { canary: number[]; baseline: number[] } => ({ canary: logNormalSample(seed, 15, 1, 0.6), baseline: logNormalSample(seed + 1, 15, 1, 0.6) });

  it('passes when every metric passes', () => {
    const v = judgeCanary([spec('latency', true), spec('rss', false)], { latency: same(100), rss: same(200) });
    expect(v.verdict).toBe('pass');
    expect(v.passed).toEqual(['latency', 'rss']);
    expect(v.explanation).toBe('pass: latency, rss within tolerance.');
  });

  it('fails on any failing metric, naming critical ones first', () => {
    const v = judgeCanary([spec('rss', false), spec('latency', true)], { latency: worse(300), rss: worse(400) });
    expect(v.verdict).toBe('fail');
    expect(v.failedCritical).toEqual(['latency']);
    expect(v.failed).toEqual(['latency', 'rss']);
    expect(v.explanation).toBe('fail: critical metric latency failed; also rss failed.');
    const nonCritical = judgeCanary([spec('rss', false), spec('latency', true)], { latency: same(500), rss: worse(600) });
    expect(nonCritical.verdict).toBe('fail');
    expect(nonCritical.failedCritical).toEqual([]);
  });

  it('is inconclusive while a metric is undecided or a critical metric has no data', () => {
    const undecided = judgeCanary([spec('latency', true), spec('rss', false)], { latency: same(700), rss: unclear(800) });
    expect(undecided.verdict).toBe('inconclusive');
    expect(undecided.inconclusive).toEqual(['rss']);
    const missingCritical = judgeCanary([spec('latency', true), spec('rss', false)], { rss: same(900) });
    expect(missingCritical.verdict).toBe('inconclusive');
    expect(missingCritical.explanation).toBe('inconclusive: critical metric latency has no data.');
  });

  it('skips a non-critical metric without data, and says so', () => {
    const v = judgeCanary([spec('latency', true), spec('psi', false)], { latency: same(1000), psi: { canary: [], baseline: [1, 2] } });
    expect(v.verdict).toBe('pass');
    expect(v.noData).toEqual(['psi']);
    expect(v.explanation).toBe('pass: latency within tolerance (psi skipped: no data, not critical).');
  });

  it('is no-data when no metric has data', () => {
    const v = judgeCanary([spec('latency', true), spec('rss', false)], {});
    expect(v.verdict).toBe('no-data');
    expect(v.metrics.map((m: MetricVerdict) => m.verdict)).toEqual(['no-data', 'no-data']);
  });

  it('rejects duplicate names, bad specs and malformed data with every path', () => {
    try {
      judgeCanary([spec('latency', true), spec('latency', false), { ...spec('rss', false), tolerance: NaN }], { latency: { canary: 'x', baseline: [] } as unknown as { canary: number[]; baseline: number[] } });
      expect.unreachable('invalid input must throw');
    } catch (error) {
      expect(error).toBeInstanceOf(JudgeInputError);
      expect((error as JudgeInputError).issues.map((i) => i.path)).toEqual(['specs[1].name', 'specs[2].tolerance', 'data["latency"].canary', 'data["latency"].canary']);
    }
    expect(() => judgeCanary([], {})).toThrow(/specs: must be a non-empty array/);
  });

  it('produces a plain object that survives JSON unchanged', () => {
    const v = judgeCanary([spec('latency', true), spec('rss', false)], { latency: worse(1100), rss: { canary: [0, 0, 0], baseline: [] } });
    expect(JSON.parse(JSON.stringify(v))).toEqual(v);
  });
});
