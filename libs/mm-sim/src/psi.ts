/**
 * Memory pressure stall information, per cgroup and for the node, computed like
 * kernel/sched/psi.c: stall time is accumulated over 2 s periods and folded into exponential
 * moving averages with the kernel's EXP_10s/EXP_60s/EXP_300s factors.
 *
 * The simulator does not track individual tasks: a workload reports its total memstall time
 * in a tick and its number of threads. Assuming stalls are spread independently over the
 * threads, the share of time with at least one thread stalled is 1 - (1 - s)^T and the share
 * with all of them stalled is s^T, where s is the per-thread stalled share. A parent's "some"
 * combines its children as independent (1 - Π(1 - some)), its "full" as Π full.
 */
import {
  PSI_EXP_10S as PSI_EXP_10S_,
  PSI_EXP_300S as PSI_EXP_300S_,
  PSI_EXP_60S as PSI_EXP_60S_,
  PSI_PERIOD_MS as PSI_PERIOD_MS_,
} from './constants.js';
import {
  MAX_CGROUPS as MAX_CGROUPS_,
} from './cgroups.js';

// Module-local copies: loaders that emulate ESM live bindings with getters make imported constants slow in hot loops.
const PSI_EXP_10S = PSI_EXP_10S_;
const PSI_EXP_300S = PSI_EXP_300S_;
const PSI_EXP_60S = PSI_EXP_60S_;
const PSI_PERIOD_MS = PSI_PERIOD_MS_;
const MAX_CGROUPS = MAX_CGROUPS_;

export interface PsiLine {
  /** Percent, like /proc/pressure/memory. */
  readonly avg10: number;
  readonly avg60: number;
  readonly avg300: number;
  /** Total stall time in µs. */
  readonly total: number;
}
export interface PsiSnapshot {
  readonly some: PsiLine;
  readonly full: PsiLine;
}

export class PsiTracker {
  /** Per-tick fractions, rebuilt each tick: product of (1 - some) and of full over contributors. */
  private readonly tickNotSome = new Float64Array(MAX_CGROUPS);
  private readonly tickFull = new Float64Array(MAX_CGROUPS);
  private readonly tickHas = new Uint8Array(MAX_CGROUPS);
  private readonly periodSome = new Float64Array(MAX_CGROUPS);
  private readonly periodFull = new Float64Array(MAX_CGROUPS);
  private readonly avg = new Float64Array(MAX_CGROUPS * 6);
  private readonly total = new Float64Array(MAX_CGROUPS * 2);
  private periodElapsedMs = 0;

  constructor(private readonly parentOf: Int32Array) {}

  beginTick(): void {
    this.tickNotSome.fill(1);
    this.tickFull.fill(1);
    this.tickHas.fill(0);
  }

  /** A group of `threads` tasks in cgroup `slot` stalled `stallUs` in total during a tick of `tickUs`. */
  addTasks(slot: number, threads: number, stallUs: number, tickUs: number): void {
    const s = Math.min(1, Math.max(0, stallUs / (Math.max(1, threads) * tickUs)));
    const some = 1 - Math.pow(1 - s, Math.max(1, threads));
    const full = Math.pow(s, Math.max(1, threads));
    for (let c = slot; c >= 0; c = this.parentOf[c]!) {
      this.tickNotSome[c] = this.tickNotSome[c]! * (1 - some);
      this.tickFull[c] = this.tickHas[c] === 1 ? this.tickFull[c]! * full : full;
      this.tickHas[c] = 1;
    }
  }

  /** Closes a tick of `tickMs`, folding finished 2 s periods into the averages. */
  endTick(tickMs: number): void {
    const tickUs = tickMs * 1000;
    for (let c = 0; c < MAX_CGROUPS; c++) {
      if (this.tickHas[c] === 0) continue;
      const someUs = (1 - this.tickNotSome[c]!) * tickUs;
      const fullUs = this.tickFull[c]! * tickUs;
      this.periodSome[c] = this.periodSome[c]! + someUs;
      this.periodFull[c] = this.periodFull[c]! + fullUs;
      this.total[c * 2] = this.total[c * 2]! + someUs;
      this.total[c * 2 + 1] = this.total[c * 2 + 1]! + fullUs;
    }
    this.periodElapsedMs += tickMs;
    if (this.periodElapsedMs < PSI_PERIOD_MS) return;
    const periods = this.periodElapsedMs / PSI_PERIOD_MS;
    const e10 = Math.pow(PSI_EXP_10S, periods);
    const e60 = Math.pow(PSI_EXP_60S, periods);
    const e300 = Math.pow(PSI_EXP_300S, periods);
    const spanUs = this.periodElapsedMs * 1000;
    for (let c = 0; c < MAX_CGROUPS; c++) {
      const k = c * 6;
      const someSample = (100 * this.periodSome[c]!) / spanUs;
      const fullSample = (100 * this.periodFull[c]!) / spanUs;
      this.avg[k] = this.avg[k]! * e10 + someSample * (1 - e10);
      this.avg[k + 1] = this.avg[k + 1]! * e60 + someSample * (1 - e60);
      this.avg[k + 2] = this.avg[k + 2]! * e300 + someSample * (1 - e300);
      this.avg[k + 3] = this.avg[k + 3]! * e10 + fullSample * (1 - e10);
      this.avg[k + 4] = this.avg[k + 4]! * e60 + fullSample * (1 - e60);
      this.avg[k + 5] = this.avg[k + 5]! * e300 + fullSample * (1 - e300);
    }
    this.periodSome.fill(0);
    this.periodFull.fill(0);
    this.periodElapsedMs = 0;
  }

  /** Memory "some avg10" of a slot in hundredths of a percent, as the hook's pressure input. */
  someAvg10Hundredths(slot: number): number {
    return Math.round(this.avg[slot * 6]! * 100) >>> 0;
  }

  reset(slot: number): void {
    this.avg.fill(0, slot * 6, slot * 6 + 6);
    this.total[slot * 2] = 0;
    this.total[slot * 2 + 1] = 0;
    this.periodSome[slot] = 0;
    this.periodFull[slot] = 0;
  }

  snapshot(slot: number): PsiSnapshot {
    const k = slot * 6;
    const r = (x: number): number => Math.round(x * 100) / 100;
    return {
      some: { avg10: r(this.avg[k]!), avg60: r(this.avg[k + 1]!), avg300: r(this.avg[k + 2]!), total: Math.round(this.total[slot * 2]!) },
      full: { avg10: r(this.avg[k + 3]!), avg60: r(this.avg[k + 4]!), avg300: r(this.avg[k + 5]!), total: Math.round(this.total[slot * 2 + 1]!) },
    };
  }
}
