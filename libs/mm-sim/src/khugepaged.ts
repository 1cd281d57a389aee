/**
 * khugepaged (mm/khugepaged.c): one global kernel thread that wakes every
 * scan_sleep_millisecs, scans pages_to_scan PTE slots of address space round-robin over the
 * registered mms (progress += HPAGE_PMD_NR per PMD range examined, +1 per ineligible VMA), and
 * collapses ranges with at least one referenced page and at most max_ptes_none empty PTEs into
 * a PMD THP. After a failed huge page allocation it sleeps alloc_sleep_millisecs. In 6.18 it
 * collapses to PMD size only (kif 5.4). The hook is consulted with TVA_KHUGEPAGED for every
 * VMA visited and again before each collapse (hugepage_vma_revalidate, kif 2.7).
 */
import {
  PMD_ORDER as PMD_ORDER_,
  TvaType as TvaType_,
} from '@thp-fleet/policy';
import {
  COLLAPSE_BASE_US as COLLAPSE_BASE_US_,
  COLLAPSE_COPY_US_PER_PAGE as COLLAPSE_COPY_US_PER_PAGE_,
  PAGEBLOCK_PAGES as PAGEBLOCK_PAGES_,
} from './constants.js';
import {
  V as V_,
} from './counters.js';
import type { Kernel, Task } from './kernel.js';
import { hugepagePmdEnabled as hugepagePmdEnabled_ } from './sysfs.js';
import {
  Region as Region_,
  VmaKind as VmaKind_,
  type Vma,
} from './vma.js';

// Module-local copies: loaders that emulate ESM live bindings with getters make imported constants slow in hot loops.
const hugepagePmdEnabled = hugepagePmdEnabled_;
const TvaType = TvaType_;
type TvaType = TvaType_;
const Region = Region_;
const VmaKind = VmaKind_;
type VmaKind = VmaKind_;
const PMD_ORDER = PMD_ORDER_;
const COLLAPSE_BASE_US = COLLAPSE_BASE_US_;
const COLLAPSE_COPY_US_PER_PAGE = COLLAPSE_COPY_US_PER_PAGE_;
const PAGEBLOCK_PAGES = PAGEBLOCK_PAGES_;
const V = V_;

const PMD_BIT = 1 << PMD_ORDER;

export class Khugepaged {
  nextWakeMs = 0;
  wakes = 0;
  fullScans = 0;
  pagesCollapsed = 0;
  private taskCursor = 0;
  private vmaCursor = 0;
  private regionCursor = 0;
  private vmaAllowed = false;
  private lastWakeMs = -1;

  /** Runs every wake due by `nowMs`. */
  run(k: Kernel, nowMs: number): void {
    let guard = 0;
    while (nowMs >= this.nextWakeMs && guard++ < 1000) {
      const s = k.sysfs.khugepaged;
      const wakeAt = this.nextWakeMs;
      if (!hugepagePmdEnabled(k.masks)) {
        // khugepaged is stopped; it restarts when PMD THP is enabled again.
        this.nextWakeMs = nowMs + Math.max(1, s.scan_sleep_millisecs);
        return;
      }
      this.wakes++;
      this.lastWakeMs = wakeAt;
      const allocFailed = this.scan(k, s.pages_to_scan, s.max_ptes_none);
      const sleep = allocFailed ? s.alloc_sleep_millisecs : s.scan_sleep_millisecs;
      this.nextWakeMs = wakeAt + Math.max(1, sleep);
    }
  }

  /** One khugepaged_do_scan pass. Returns true if a huge page allocation failed. */
  private scan(k: Kernel, pages: number, maxPtesNone: number): boolean {
    let progress = 0;
    const tasks = k.tasks;
    // The sim stops a wake after a whole round over the mms that found no PMD range to
    // examine (the kernel would keep cycling over ineligible VMAs without effect).
    let regionProgress = false;
    let emptyRounds = 0;
    k.cur = -1;
    while (progress < pages) {
      if (tasks.length === 0) return false;
      if (this.taskCursor >= tasks.length) {
        this.taskCursor = 0;
        this.fullScans++;
        if (!regionProgress && ++emptyRounds >= 1) return false;
        regionProgress = false;
      }
      const t = tasks[this.taskCursor];
      if (t === null || t === undefined || this.vmaCursor >= t.vmas.length) {
        this.nextTask();
        continue;
      }
      const v = t.vmas[this.vmaCursor]!;
      if (this.regionCursor === 0) {
        this.vmaAllowed = this.eligible(k, t, v);
        if (!this.vmaAllowed) {
          progress++;
          this.nextVma();
          continue;
        }
      }
      if (this.regionCursor >= v.nRegions) {
        this.nextVma();
        continue;
      }
      const r = this.regionCursor++;
      if (!v.pmdSuitable(r)) continue;
      progress += PAGEBLOCK_PAGES;
      regionProgress = true;
      const state = v.regState[r]!;
      // SCAN_PMD_MAPPED and SCAN_PMD_NULL/NONE: nothing to collapse.
      if (state === Region.Pmd || state === Region.None) continue;
      const none = PAGEBLOCK_PAGES - v.regPresent[r]!;
      if (none > maxPtesNone) {
        k.vm[V.thp_scan_exceed_none_pte] = k.vm[V.thp_scan_exceed_none_pte]! + 1;
        continue;
      }
      // Referenced check: at least one young page (the workload accesses this VMA).
      if (!v.accessed || v.regTouched[r] === 0) continue;
      // hugepage_vma_revalidate: the policy is asked again before collapsing.
      if (!this.eligible(k, t, v)) continue;
      const present = v.regPresent[r]!;
      const result = k.collapse(t, v, r, TvaType.Khugepaged);
      if (result < 0) return true;
      if (result > 0) {
        this.pagesCollapsed++;
        // The process is blocked on mmap_lock while the range is copied (mech 1E).
        t.addStall(COLLAPSE_BASE_US + COLLAPSE_COPY_US_PER_PAGE * present + k.lastCollapseAllocUs);
      }
    }
    return false;
  }

  private eligible(k: Kernel, t: Task, v: Vma): boolean {
    if (v.kind === VmaKind.Shmem) return (k.allowableShmem(t, v, TvaType.Khugepaged) & PMD_BIT) !== 0;
    return k.allowableAnon(t, v, TvaType.Khugepaged, PMD_BIT) !== 0;
  }

  private nextVma(): void {
    this.vmaCursor++;
    this.regionCursor = 0;
  }

  private nextTask(): void {
    this.taskCursor++;
    this.vmaCursor = 0;
    this.regionCursor = 0;
  }

  /** Time of the last wake (ms), -1 before the first. */
  get lastWake(): number {
    return this.lastWakeMs;
  }
}
