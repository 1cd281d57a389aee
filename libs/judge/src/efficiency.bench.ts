// Judge efficiency benchmark (issue 7): how often each judge raises a false alarm and how
// many samples it needs to decide, over simulated canaries. Run with `nx run judge:bench`
// (tsx src/efficiency.bench.ts [--trials N] [--sigma S]). Prints a markdown table.
//
// Simulation: latency samples (say p99 per node per reporting window) are log-normal with
// median 10 ms and log-sd SIGMA (0.25: a coefficient of variation of 25 %), independent. The
// canary's samples are the baseline distribution scaled by (1 + regression). Both arms get
// BATCH new samples per look. Spec: increase-is-bad, tolerance 5 %, alpha 0.05.
//  - sequential: judged after every batch until pass or fail, or the cap of CAP_FACTOR times
//    the fixed horizon (then counted as undecided, at the cap);
//  - Mann-Whitney: judged once at a fixed n per arm, the smallest multiple of BATCH whose
//    probability of failing a 10 % regression is >= 80 % (calibrated on separate seeds).
//  - oracle SPRT (reference only, not a judge): Wald's SPRT on log-ratios that knows SIGMA and
//    tests exactly "+5 %" against "+10 %" with alpha 5 % and beta 20 %, the fixed design's error
//    rates. By Wald & Wolfowitz (1948) no test with those error rates has a smaller expected
//    sample size at +10 %, so its row bounds what any sequential judge can achieve there.
// A false alarm is a fail when the true change is within tolerance (no change or 5 %).
import { judgeMetric, type MetricSpec, type Verdict } from './index.js';
import { createRng } from './prng.test-util.js';

const host = globalThis as { console?: { log(...args: unknown[]): void }; process?: { argv: string[] } };
const print = (line = ''): void => host.console?.log(line);
const args = host.process?.argv ?? [];
const argValue = (name: string, fallback: number): number => {
  const i = args.indexOf(name);
  const value = i >= 0 ? Number(args[i + 1]) : NaN;
  return Number.isFinite(value) ? value : fallback;
};

const TRIALS = argValue('--trials', 1000);
const CALIBRATION_TRIALS = argValue('--calibration-trials', 1000);
const SIGMA = argValue('--sigma', 0.25);
const MEDIAN_MS = 10;
const BATCH = 10;
const CAP_FACTOR = 4;
const TOLERANCE = 0.05;
const ALPHA = 0.05;
const DESIGN_REGRESSION = 0.1;
const TARGET_POWER = 0.8;
const SCENARIOS = [0, 0.05, 0.1, 0.2];

const baseSpec = { name: 'p99 latency', direction: 'increase-is-bad', tolerance: TOLERANCE, critical: true, alpha: ALPHA } as const;
const sequentialSpec: MetricSpec = { ...baseSpec, test: 'sequential' };
const mannWhitneySpec: MetricSpec = { ...baseSpec, test: 'mann-whitney' };

/** One simulated canary: two independent streams, so a prefix of n samples is the same data for every n. */
function streams(seed: number, regression: number): { canary: (n: number) => number[]; baseline: (n: number) => number[] } {
  const canaryRng = createRng(seed * 2 + 1);
  const baselineRng = createRng(seed * 2 + 2);
  const canary: number[] = [];
  const baseline: number[] = [];
  const mu = Math.log(MEDIAN_MS);
  return {
    canary: (n) => {
      while (canary.length < n) canary.push(canaryRng.logNormal(mu, SIGMA) * (1 + regression));
      return canary.slice(0, n);
    },
    baseline: (n) => {
      while (baseline.length < n) baseline.push(baselineRng.logNormal(mu, SIGMA));
      return baseline.slice(0, n);
    },
  };
}

function runFixed(seed: number, regression: number, n: number): Verdict {
  const s = streams(seed, regression);
  return judgeMetric(mannWhitneySpec, s.canary(n), s.baseline(n)).verdict;
}

function runSequential(seed: number, regression: number, cap: number): { verdict: Verdict; samples: number } {
  const s = streams(seed, regression);
  for (let n = BATCH; n <= cap; n += BATCH) {
    const verdict = judgeMetric(sequentialSpec, s.canary(n), s.baseline(n)).verdict;
    if (verdict === 'pass' || verdict === 'fail') return { verdict, samples: n };
  }
  return { verdict: 'inconclusive', samples: cap };
}

function runOracle(seed: number, regression: number, cap: number): { verdict: Verdict; samples: number } {
  const s = streams(seed, regression);
  const theta0 = Math.log(1 + TOLERANCE);
  const theta1 = Math.log(1 + DESIGN_REGRESSION);
  const upper = Math.log((1 - (1 - TARGET_POWER)) / ALPHA);
  const lower = Math.log((1 - TARGET_POWER) / (1 - ALPHA));
  const canary = s.canary(cap);
  const baseline = s.baseline(cap);
  let llr = 0;
  for (let n = 1; n <= cap; n++) {
    // Pair differences of logs are N(theta, 2·SIGMA²).
    const d = Math.log(canary[n - 1]!) - Math.log(baseline[n - 1]!);
    llr += ((theta1 - theta0) / (2 * SIGMA * SIGMA)) * (d - (theta0 + theta1) / 2);
    if (n % BATCH !== 0) continue;
    if (llr >= upper) return { verdict: 'fail', samples: n };
    if (llr <= lower) return { verdict: 'pass', samples: n };
  }
  return { verdict: 'inconclusive', samples: cap };
}

const CALIBRATION_SEED = 1_000_000;
const EVALUATION_SEED = 0;

function failRate(n: number): number {
  let fails = 0;
  for (let t = 0; t < CALIBRATION_TRIALS; t++) if (runFixed(CALIBRATION_SEED + t, DESIGN_REGRESSION, n) === 'fail') fails++;
  return fails / CALIBRATION_TRIALS;
}

/** Smallest multiple of BATCH with fail rate >= TARGET_POWER at the design regression (common random numbers). */
function calibrateFixedHorizon(): { n: number; power: number } {
  let high = 8 * BATCH;
  while (failRate(high) < TARGET_POWER) high *= 2;
  let low = BATCH; // invariant: failRate(low) < target (or low is the floor), failRate(high) >= target
  while (high - low > BATCH) {
    const mid = Math.round((low + high) / 2 / BATCH) * BATCH;
    if (mid === low || mid === high) break;
    if (failRate(mid) >= TARGET_POWER) high = mid;
    else low = mid;
  }
  return { n: high, power: failRate(high) };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

const pct = (count: number, total: number): string => `${((100 * count) / total).toFixed(1)}%`;

interface Row {
  regression: number;
  judge: string;
  fail: number;
  pass: number;
  undecided: number;
  medianSamples: number;
  meanSamples: number;
  medianDecided: number | null;
}

function sequentialRow(regression: number, judge: string, run: (seed: number) => { verdict: Verdict; samples: number }): Row {
  const samples: number[] = [];
  const decided: number[] = [];
  let fail = 0;
  let pass = 0;
  for (let t = 0; t < TRIALS; t++) {
    const r = run(EVALUATION_SEED + t);
    if (r.verdict === 'fail') fail++;
    else if (r.verdict === 'pass') pass++;
    samples.push(r.samples);
    if (r.verdict === 'fail' || r.verdict === 'pass') decided.push(r.samples);
  }
  return {
    regression,
    judge,
    fail,
    pass,
    undecided: TRIALS - fail - pass,
    medianSamples: median(samples),
    meanSamples: samples.reduce((a, b) => a + b, 0) / samples.length,
    medianDecided: decided.length > 0 ? median(decided) : null,
  };
}

function main(): void {
  const started = Date.now();
  const fixed = calibrateFixedHorizon();
  const cap = CAP_FACTOR * fixed.n;
  const rows: Row[] = [];
  for (const regression of SCENARIOS) {
    let fail = 0;
    let pass = 0;
    for (let t = 0; t < TRIALS; t++) {
      const v = runFixed(EVALUATION_SEED + t, regression, fixed.n);
      if (v === 'fail') fail++;
      else if (v === 'pass') pass++;
    }
    rows.push({ regression, judge: `Mann-Whitney, fixed n=${fixed.n}`, fail, pass, undecided: TRIALS - fail - pass, medianSamples: fixed.n, meanSamples: fixed.n, medianDecided: fixed.n });

    rows.push(sequentialRow(regression, 'sequential (every batch)', (seed) => runSequential(seed, regression, cap)));
    rows.push(sequentialRow(regression, 'oracle SPRT (reference)', (seed) => runOracle(seed, regression, cap)));
  }

  print(`Judge efficiency: ${TRIALS} trials per scenario; log-normal latency (median ${MEDIAN_MS} ms, log-sd ${SIGMA}); canary = baseline x (1 + regression);`);
  print(`tolerance ${TOLERANCE * 100}% (increase-is-bad), alpha ${ALPHA}; ${BATCH} samples per arm per look; sequential capped at ${cap} per arm (${CAP_FACTOR}x fixed n).`);
  print(`Fixed horizon: n=${fixed.n} per arm gives P(fail | +${DESIGN_REGRESSION * 100}%) = ${(fixed.power * 100).toFixed(1)}% on ${CALIBRATION_TRIALS} calibration trials.`);
  print();
  print('| regression | judge | fail | pass | undecided | median samples/arm | mean samples/arm | median samples/arm, decided runs |');
  print('|---|---|---|---|---|---|---|---|');
  for (const r of rows) {
    const capped = !r.judge.startsWith('Mann') && r.medianSamples >= cap ? ' (cap)' : '';
    print(
      `| ${r.regression === 0 ? 'none' : `+${r.regression * 100}%`} | ${r.judge} | ${pct(r.fail, TRIALS)} | ${pct(r.pass, TRIALS)} | ${pct(r.undecided, TRIALS)} | ${r.medianSamples}${capped} | ${r.meanSamples.toFixed(0)} | ${r.medianDecided ?? '-'} |`,
    );
  }
  print();
  const find = (regression: number, judge: 'sequential' | 'Mann' | 'oracle'): Row => rows.find((r) => r.regression === regression && r.judge.startsWith(judge))!;
  const seqNull = find(0, 'sequential');
  const mwNull = find(0, 'Mann');
  const seqAtBoundary = find(TOLERANCE, 'sequential');
  const ratio = find(DESIGN_REGRESSION, 'sequential').medianSamples / fixed.n;
  const oracle = find(DESIGN_REGRESSION, 'oracle');
  print(`False alarms (fail with no change): sequential ${pct(seqNull.fail, TRIALS)}, Mann-Whitney ${pct(mwNull.fail, TRIALS)} (target <= 5%: ${seqNull.fail / TRIALS <= 0.05 && mwNull.fail / TRIALS <= 0.05 ? 'met' : 'NOT met'}).`);
  print(`Fails at exactly the tolerance (+${TOLERANCE * 100}%, a true change that does not count): sequential ${pct(seqAtBoundary.fail, TRIALS)}.`);
  print(`At +${DESIGN_REGRESSION * 100}%: sequential median ${find(DESIGN_REGRESSION, 'sequential').medianSamples} vs fixed ${fixed.n} samples per arm = ${(ratio * 100).toFixed(0)}% (target <= 50%: ${ratio <= 0.5 ? 'met' : 'NOT met'}).`);
  print(`Oracle SPRT at +${DESIGN_REGRESSION * 100}% (best possible with these error rates): median ${oracle.medianSamples}, mean ${oracle.meanSamples.toFixed(0)} = ${((100 * oracle.meanSamples) / fixed.n).toFixed(0)}% of fixed n.`);
  const twice = find(2 * DESIGN_REGRESSION, 'sequential');
  print(`At +${2 * DESIGN_REGRESSION * 100}%: sequential median ${twice.medianSamples} = ${((100 * twice.medianSamples) / fixed.n).toFixed(0)}% of fixed n.`);
  print(`(${((Date.now() - started) / 1000).toFixed(0)} s)`);
}

main();
