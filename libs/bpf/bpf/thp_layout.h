/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The wire between userspace and the thp-fleet BPF programs: map value layouts, the
 * syscall-program context and the decision constants. src/layout.ts mirrors every struct
 * here byte for byte; layout.spec.ts reads this object's BTF and fails on any drift.
 *
 * Decision constants and bounds are the contract of libs/policy/src/types.ts
 * (briefs/semantics.md): DECISION_DENY = -2, DECISION_UNCHANGED = -1, MAX_RULES = 32,
 * MAX_CGROUP_DEPTH = 16, NO_PRESSURE_GATE = 0xffffffff.
 */
#ifndef THP_LAYOUT_H
#define THP_LAYOUT_H

/* Bumped whenever a struct below changes; stored in thp_active.layout_version. */
#define THP_LAYOUT_VERSION 1

#define THP_MAX_RULES 32        /* one bit per rule in a u32 rule set (types.ts MAX_RULES) */
#define THP_MAX_CGROUP_DEPTH 16 /* ancestors walked, leaf included (types.ts MAX_CGROUP_DEPTH) */
#define THP_NO_PRESSURE_GATE 0xffffffffu

#define THP_DECISION_UNCHANGED (-1)
#define THP_DECISION_DENY (-2)

/* DefaultAction in types.ts. */
#define THP_DEFAULT_DENY 0
#define THP_DEFAULT_ALLOW 1
#define THP_DEFAULT_UNCHANGED 2

/* Hook ABI profiles (kernel-interface.md 2.6 and 7.1), numbered after the series revision. */
#define THP_ABI_V7 7
#define THP_ABI_V8 8
#define THP_ABI_V12 12

/* Two generations of tables: the active one and the one being written. */
#define THP_SLOTS 2
/* cgroup ids per slot; the hash map holds THP_SLOTS times this many entries at most. */
#define THP_MAX_CGROUPS 65536
/* Attempts at a consistent read before a decision is returned as is (see thp_decide_consistent). */
#define THP_READ_ATTEMPTS 4
/* Capacity of the chain in the syscall context: twice the walked depth, so the bound is tested. */
#define THP_CTX_CHAIN_CAPACITY 32

/* thp_active[0]: which slot the programs read. One map write flips it. */
struct thp_active {
	__u32 slot;           /* 0 or 1 */
	__u32 layout_version; /* THP_LAYOUT_VERSION of the writer */
	__u64 seq;            /* incremented on every flip; 0 = no tables written yet */
	__u32 abi;            /* THP_ABI_* the loader targets; read by userspace only */
	__u32 reserved;
};

struct thp_rule {
	__u32 ctx_mask;           /* bit = TvaType */
	__u32 advice_mask;        /* bit = VmaAdvice */
	__u32 allow_orders;       /* orders mask when pressure <= threshold */
	__u32 pressure_threshold; /* memory PSI some avg10, hundredths of a percent */
	__u32 pressure_orders;    /* orders mask when pressure > threshold */
};

/* thp_slots[slot]: one generation of the tables, header and rules in a single value. */
struct thp_slot {
	__u64 generation;     /* KernelTables.generation */
	__u32 default_action; /* THP_DEFAULT_* */
	__u32 default_orders;
	__u32 rule_count;     /* rules[0 .. rule_count-1] are valid */
	__u32 reserved;
	struct thp_rule rules[THP_MAX_RULES];
};

/* Key of thp_cgroups: the same cgroup id has one entry per slot. Value: __u32 rule set. */
struct thp_cgroup_key {
	__u64 cgroup_id;
	__u32 slot;
	__u32 reserved;
};

/* Per-CPU memo of ancestor walks (thp_memo), 1 << THP_MEMO_BITS entries per CPU. */
#define THP_MEMO_BITS 6
struct thp_memo {
	__u64 gen;      /* seqlock: odd while an entry is rewritten */
	__u64 seq;      /* thp_active.seq the walk ran under */
	__u32 slot;
	__u32 depth;    /* min(depth, THP_MAX_CGROUP_DEPTH) */
	__u32 rule_set; /* the walk's result */
	__u32 reserved;
	__u64 chain[THP_MAX_CGROUP_DEPTH]; /* as the caller passed them, past depth included */
};

/* thp_pressure[0]: written by the agent from /proc/pressure/memory. */
struct thp_pressure {
	__u32 some_avg10; /* hundredths of a percent, 20.00 % = 2000 */
	__u32 reserved;
	__u64 updated_ns; /* CLOCK_MONOTONIC of the write, for staleness checks */
};

/* ctx.flags */
#define THP_CTX_CURRENT_TASK 1u /* ignore chain/depth: resolve them from the calling task */

/*
 * Context of the SEC("syscall") program. BPF_PROG_TEST_RUN copies it in, the program
 * writes out_* (and, with THP_CTX_CURRENT_TASK, chain/depth) and the kernel copies it back.
 */
struct thp_decide_ctx {
	__u64 chain[THP_CTX_CHAIN_CAPACITY]; /* cgroup ids, leaf first */
	__u32 depth;                         /* valid entries in chain (may exceed the walk bound) */
	__u32 tva;                           /* TvaType */
	__u32 advice;                        /* VmaAdvice */
	__u32 requested;                     /* requested orders mask */
	__u32 pressure;                      /* memory PSI some avg10, hundredths of a percent */
	__u32 abi;                           /* THP_ABI_* for out_return */
	__u32 flags;                         /* THP_CTX_* */
	__s32 out_decision;                  /* Decision: order, THP_DECISION_DENY or _UNCHANGED */
	__s32 out_return;                    /* what the hook would return under abi */
	__u32 out_attempts;                  /* consistent-read attempts used (1 normally) */
};

/* Per-CPU counters kept by the hook programs (thp_counters). */
#define THP_CTR_ORDER_BASE 0 /* 0..18: decided order k */
#define THP_CTR_DENY 19
#define THP_CTR_UNCHANGED 20
#define THP_CTR_NO_CGROUP 21 /* no mm, owner or cgroup: decided on the default */
#define THP_CTR_RETRY 22     /* a table flip overlapped the decision; it was re-read */
#define THP_CTR_CALLS 23
#define THP_COUNTERS 24

/* Probe program: per leaf cgroup, the chain it resolved and the PMD-fault answer (thp_probe_seen). */
struct thp_probe_entry {
	__u64 calls;
	__s32 last_decision;
	__s32 last_return; /* under v12 */
	__u32 last_pressure;
	__u32 depth;
	__u64 chain[THP_MAX_CGROUP_DEPTH];
};

#endif /* THP_LAYOUT_H */
