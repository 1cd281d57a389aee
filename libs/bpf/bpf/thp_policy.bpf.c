// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * thp-fleet THP policy programs. One source, several objects (scripts/build.mjs):
 *
 *   (no THP_* define)       thp_policy.bpf.o      maps + SEC("syscall") thp_decide_ctx
 *   -DTHP_HOOK_ABI=7|8|12   thp_policy.v7.bpf.o   maps + struct_ops thp_get_order (+ .struct_ops map)
 *   -DTHP_PROBE             thp_policy.probe.bpf.o   maps + tp_btf/mmap_lock_acquire_returned
 *
 * Every object defines the same maps with LIBBPF_PIN_BY_NAME: whichever loads first creates
 * and pins them under the loader's pin root, the others reuse the pins. The decision itself
 * is thp_decide() below and nothing else; it mirrors briefs/semantics.md line by line (its
 * ancestor walk is memoized per CPU, exactly). docs/kernel.md describes the whole design.
 */
#include <linux/types.h>
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>

#include "thp_kernel.h"
#include "thp_layout.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* ---------------------------------------------------------------- maps */

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct thp_active);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} thp_active SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, THP_SLOTS);
	__type(key, __u32);
	__type(value, struct thp_slot);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} thp_slots SEC(".maps");

/* No prealloc: elements are RCU-freed, so a reader never sees a recycled element. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, THP_SLOTS * THP_MAX_CGROUPS);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct thp_cgroup_key);
	__type(value, __u32);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} thp_cgroups SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct thp_pressure);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} thp_pressure SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, THP_COUNTERS);
	__type(key, __u32);
	__type(value, __u64);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} thp_counters SEC(".maps");

/*
 * Never read by a program. Writing its single element makes the kernel run synchronize_rcu()
 * before the syscall returns (map-in-map updates wait for running non-sleepable programs,
 * kernel/bpf/syscall.c maybe_wait_bpf_programs). The loader writes it after a flip and
 * before it cleans the old slot, so no hook invocation can still be reading that slot.
 */
struct thp_rcu_inner {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
};

/* The value the loader stores into thp_rcu_sync: any live map matching thp_rcu_inner. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} thp_rcu_token SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, 1);
	__type(key, __u32);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
	__array(values, struct thp_rcu_inner);
} thp_rcu_sync SEC(".maps");

/* Per-CPU memo of walks (see thp_decide); scratch of each loaded object, not pinned. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1 << THP_MEMO_BITS);
	__type(key, __u32);
	__type(value, struct thp_memo);
} thp_memo SEC(".maps");

#ifdef THP_PROBE
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 4096);
	__type(key, __u64); /* leaf cgroup id */
	__type(value, struct thp_probe_entry);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} thp_probe_seen SEC(".maps");
#endif

/* ---------------------------------------------------------------- decision */

#define THP_READ_ONCE(x) (*(volatile typeof(x) *)&(x))

/*
 * Bit arithmetic without branches: the verifier walks every branch of every loop iteration,
 * and branchy bit scans multiply its states until the program is "too large". Debian's
 * clang 14 also crashes on __builtin_clz for -target bpf, so no clz either.
 */
static __always_inline __u32 thp_popcount(__u32 v)
{
	v = v - ((v >> 1) & 0x55555555u);
	v = (v & 0x33333333u) + ((v >> 2) & 0x33333333u);
	v = (v + (v >> 4)) & 0x0f0f0f0fu;
	return (v * 0x01010101u) >> 24;
}

/* Index of the highest set bit of a non-zero mask: smear it downwards, count the ones. */
static __always_inline __u32 thp_top_bit(__u32 mask)
{
	__u32 shift;

#pragma unroll
	for (shift = 1; shift < 32; shift <<= 1)
		mask |= mask >> shift;
	return thp_popcount(mask) - 1;
}

/* Index of the lowest set bit of a non-zero mask. */
static __always_inline __u32 thp_low_bit(__u32 mask)
{
	return thp_popcount((mask & -mask) - 1);
}

/*
 * The walk's result for one chain, remembered per CPU (thp_memo). Exact: an entry is used
 * only for the same slot, the same flip counter (every write that changes the active
 * slot's cgroups bumps it) and the same 16 ids. Programs are preemptible, so each entry is
 * a seqlock: gen is odd while one program rewrites it (taken with cmpxchg), and a reader
 * uses an entry only if gen was even and unchanged around its comparison.
 */
#define THP_MEMO_HASH 0x9e3779b97f4a7c15ull /* 2^64 / golden ratio: Fibonacci hashing */

static __always_inline struct thp_memo *thp_memo_entry(__u64 leaf)
{
	__u32 index = (__u32)((leaf * THP_MEMO_HASH) >> (64 - THP_MEMO_BITS));

	return bpf_map_lookup_elem(&thp_memo, &index);
}

/*
 * The decision contract (briefs/semantics.md, libs/policy decide()), on one slot of the
 * tables. chain holds MAX_CGROUP_DEPTH ids, leaf first; entries from depth on are never
 * walked (they are part of the memo key only); depth may exceed the walk bound. seq is
 * the flip counter the slot was chosen under (memo key).
 */
static __always_inline int thp_decide(const struct thp_slot *tables, __u32 slot, __u64 seq,
				      const __u64 *chain, __u32 depth, __u32 tva,
				      __u32 advice, __u32 requested, __u32 pressure)
{
	struct thp_cgroup_key key = { .slot = slot };
	__u32 walk_depth = depth < THP_MAX_CGROUP_DEPTH ? depth : THP_MAX_CGROUP_DEPTH;
	struct thp_memo *memo = thp_memo_entry(chain[0]);
	__u32 rule_set = 0;
	__u32 rule_count;
	__u64 gen = 1;
	__u32 i;

	if (memo) {
		__u64 diff;

		gen = THP_READ_ONCE(memo->gen);
		diff = (gen & 1) | (memo->seq ^ seq) | (memo->slot ^ slot) | (memo->depth ^ walk_depth);
#pragma unroll
		for (i = 0; i < THP_MAX_CGROUP_DEPTH; i++)
			diff |= memo->chain[i] ^ chain[i];
		rule_set = memo->rule_set;
		asm volatile("" ::: "memory");
		if (diff == 0 && THP_READ_ONCE(memo->gen) == gen)
			goto rules;
		rule_set = 0;
	}

	/* Nearest mapped cgroup, leaf first, at most MAX_CGROUP_DEPTH ids. */
	for (i = 0; i < THP_MAX_CGROUP_DEPTH; i++) {
		const __u32 *found;

		if (i >= walk_depth)
			break;
		key.cgroup_id = chain[i];
		found = bpf_map_lookup_elem(&thp_cgroups, &key);
		if (found) {
			rule_set = *found;
			break;
		}
	}

	if (memo && !(gen & 1) && __sync_val_compare_and_swap(&memo->gen, gen, gen + 1) == gen) {
		memo->seq = seq;
		memo->slot = slot;
		memo->depth = walk_depth;
		memo->rule_set = rule_set;
#pragma unroll
		for (i = 0; i < THP_MAX_CGROUP_DEPTH; i++)
			memo->chain[i] = chain[i];
		asm volatile("" ::: "memory");
		THP_READ_ONCE(memo->gen) = gen + 2;
	}

rules:
	/* Only bits of existing rules count (for r in 0 .. rules.length - 1). */
	rule_count = tables->rule_count;
	if (rule_count < THP_MAX_RULES)
		rule_set &= (1u << rule_count) - 1;

	/* tva > 31 or advice > 31 never match a rule: skip the loop, same result. */
	if (tva <= 31 && advice <= 31) {
		/* Set bits in ascending order: the first matching rule wins. */
		for (i = 0; i < THP_MAX_RULES && rule_set; i++) {
			__u32 r = thp_low_bit(rule_set) & (THP_MAX_RULES - 1);
			const struct thp_rule *rule = &tables->rules[r];
			__u32 allowed, gated, m;

			rule_set &= rule_set - 1;
			if (!((rule->ctx_mask >> tva) & 1) || !((rule->advice_mask >> advice) & 1))
				continue;
			/*
			 * pressure > threshold, unsigned, as a 0/all-ones mask (no branch);
			 * NO_PRESSURE_GATE is never exceeded.
			 */
			gated = (__u32)0 - (__u32)(((__u64)rule->pressure_threshold - pressure) >> 63);
			allowed = (rule->pressure_orders & gated) | (rule->allow_orders & ~gated);
			m = allowed & requested;
			return m ? (int)thp_top_bit(m) : THP_DECISION_DENY;
		}
	}

	switch (tables->default_action) {
	case THP_DEFAULT_UNCHANGED:
		return THP_DECISION_UNCHANGED;
	case THP_DEFAULT_ALLOW: {
		__u32 m = tables->default_orders & requested;

		return m ? (int)thp_top_bit(m) : THP_DECISION_DENY;
	}
	default: /* THP_DEFAULT_DENY; the loader never writes other values */
		return THP_DECISION_DENY;
	}
}

/*
 * thp_decide on the active slot, read consistently: the slot and the flip counter are
 * read before and after the decision; if they changed in between (a flip, after which the
 * loader cleans the old slot, or an in-place write, which bumps seq), decide again. The
 * hook needs this only for in-place writes: the loader waits for an RCU grace period
 * between a flip and the cleanup, so a slot a hook invocation reads stays intact. The
 * sleepable syscall program is not covered by RCU; for it the re-read is the guarantee,
 * bounded by THP_READ_ATTEMPTS (the last attempt's decision is returned). Returns the
 * attempts in *attempts. With no tables written yet (seq 0) the request is unchanged.
 */
static __always_inline int thp_decide_consistent(const __u64 *chain, __u32 depth, __u32 tva,
						 __u32 advice, __u32 requested,
						 __u32 pressure, __u32 *attempts)
{
	int decision = THP_DECISION_UNCHANGED;
	const struct thp_active *active;
	__u32 zero = 0;
	__u32 n;

	*attempts = 0;
	active = bpf_map_lookup_elem(&thp_active, &zero);
	if (!active)
		return THP_DECISION_UNCHANGED;

#pragma clang loop unroll(disable)
	for (n = 1; n <= THP_READ_ATTEMPTS; n++) {
		__u32 slot = THP_READ_ONCE(active->slot);
		__u64 seq = THP_READ_ONCE(active->seq);
		const struct thp_slot *tables;
		__u32 index = slot & 1;

		*attempts = n;
		if (seq == 0)
			return THP_DECISION_UNCHANGED;
		tables = bpf_map_lookup_elem(&thp_slots, &index);
		if (!tables)
			return THP_DECISION_UNCHANGED;
		decision = thp_decide(tables, index, seq, chain, depth, tva, advice, requested,
				      pressure);
		asm volatile("" ::: "memory");
		if (THP_READ_ONCE(active->slot) == slot && THP_READ_ONCE(active->seq) == seq)
			break;
	}
	return decision;
}

/*
 * The value thp_get_order returns for a decision under an ABI (libs/policy abi.ts
 * toHookReturn, kernel-interface.md 2.6 and 7.2): deny is 0 everywhere; unchanged is -1
 * where the ABI has it (v7, v12) and the highest requested order on v8.
 */
static __always_inline int thp_hook_return(int decision, __u32 requested, __u32 abi)
{
	if (decision == THP_DECISION_DENY)
		return 0;
	if (decision == THP_DECISION_UNCHANGED) {
		if (abi == THP_ABI_V8)
			return requested ? (int)thp_top_bit(requested) : 0;
		return -1;
	}
	return decision;
}

/* ---------------------------------------------------------------- cgroup of a task */

/*
 * The task's cgroup v2 ids, leaf first, up to MAX_CGROUP_DEPTH (the root included when the
 * chain is shorter). Walks task->cgroups->dfl_cgrp, then css.parent; ids are kn->id, the
 * value bpf_get_current_cgroup_id() and name_to_handle_at() report. The caller holds RCU.
 */
static __always_inline __u32 thp_task_chain(struct task_struct *task, __u64 *chain)
{
	struct cgroup *cgrp;
	struct css_set *cset;
	__u32 depth = 0;
	__u32 i;

	if (!task)
		return 0;
	cset = task->cgroups;
	if (!cset)
		return 0;
	cgrp = cset->dfl_cgrp;

	for (i = 0; i < THP_MAX_CGROUP_DEPTH; i++) {
		struct cgroup_subsys_state *parent;
		struct kernfs_node *kn;

		if (!cgrp)
			break;
		kn = cgrp->kn;
		if (!kn)
			break;
		chain[i] = kn->id;
		depth = i + 1;
		parent = cgrp->self.parent;
		if (!parent)
			break;
		cgrp = parent->cgroup;
	}
	return depth;
}

/* The owner task's chain of an mm; NULL mm or owner (kernel-interface.md 2.2) give depth 0. */
static __always_inline __attribute__((unused)) __u32 thp_mm_chain(struct mm_struct *mm, __u64 *chain)
{
	struct task_struct *owner;

	if (!mm)
		return 0;
	owner = mm->owner;
	if (!owner)
		return 0;
	return thp_task_chain(owner, chain);
}

#if defined(THP_HOOK_ABI) || defined(THP_PROBE)
static __always_inline void thp_count(__u32 index)
{
	__u64 *counter = bpf_map_lookup_elem(&thp_counters, &index);

	if (counter)
		*counter += 1;
}

static __always_inline __u32 thp_pressure_now(void)
{
	__u32 zero = 0;
	const struct thp_pressure *cell = bpf_map_lookup_elem(&thp_pressure, &zero);

	return cell ? cell->some_avg10 : 0;
}

/*
 * What a hook invocation does once it has the cgroup chain: pressure from the cell the
 * agent writes, the consistent decision, counters, and the ABI's return value.
 */
static __always_inline int thp_hook_decide(const __u64 *chain, __u32 depth, __u32 advice,
					   __u32 tva, unsigned long orders, __u32 abi,
					   int *decision_out)
{
	__u32 requested = (__u32)orders; /* orders never exceed PUD_ORDER 18 */
	__u32 attempts;
	int decision;

	thp_count(THP_CTR_CALLS);
	if (depth == 0)
		thp_count(THP_CTR_NO_CGROUP);
	decision = thp_decide_consistent(chain, depth, tva, advice, requested, thp_pressure_now(),
					 &attempts);
	if (attempts > 1)
		thp_count(THP_CTR_RETRY);
	if (decision == THP_DECISION_DENY)
		thp_count(THP_CTR_DENY);
	else if (decision == THP_DECISION_UNCHANGED)
		thp_count(THP_CTR_UNCHANGED);
	else
		thp_count(THP_CTR_ORDER_BASE + ((__u32)decision < THP_CTR_DENY ? (__u32)decision
									: THP_CTR_DENY - 1));
	*decision_out = decision;
	return thp_hook_return(decision, requested, abi);
}
#endif

#ifdef THP_HOOK_ABI
/* v8+ programs derive the advice from vm_flags as v7's kernel did (2.1). */
static __always_inline __attribute__((unused)) __u32 thp_advice_of(unsigned long vm_flags)
{
	if (vm_flags & THP_VM_HUGEPAGE)
		return BPF_THP_VM_HUGEPAGE;
	if (vm_flags & THP_VM_NOHUGEPAGE)
		return BPF_THP_VM_NOHUGEPAGE;
	return BPF_THP_VM_NONE;
}

/* The hook: cgroup chain of vma->vm_mm->owner (both NULL-checked, 2.2 and 3.4), decision. */
static __always_inline int thp_hook(struct vm_area_struct *vma, __u32 advice, __u32 tva,
				    unsigned long orders)
{
	__u64 chain[THP_MAX_CGROUP_DEPTH] = {};
	__u32 depth = thp_mm_chain(vma->vm_mm, chain);
	int decision;

	return thp_hook_decide(chain, depth, advice, tva, orders, THP_HOOK_ABI, &decision);
}
#endif

/* ---------------------------------------------------------------- programs */

#if !defined(THP_HOOK_ABI) && !defined(THP_PROBE)
/* bpf_rcu_read_lock/unlock (kfuncs, 6.2+): task->cgroups is RCU and this program sleeps. */
extern void bpf_rcu_read_lock(void) __ksym;
extern void bpf_rcu_read_unlock(void) __ksym;

/*
 * The same decision on a context struct, run with BPF_PROG_TEST_RUN (repeat and ctx_out
 * must be 0 for this program type; the result is written back into the context).
 * Returns 0, or 1 for an unknown ABI.
 */
SEC("syscall")
int thp_decide_ctx(struct thp_decide_ctx *ctx)
{
	__u64 chain[THP_MAX_CGROUP_DEPTH] = {};
	__u32 depth = ctx->depth;
	__u32 abi = ctx->abi;
	__u32 attempts;
	__u32 i;
	int decision;

	if (abi != THP_ABI_V7 && abi != THP_ABI_V8 && abi != THP_ABI_V12)
		return 1;

	if (ctx->flags & THP_CTX_CURRENT_TASK) {
		bpf_rcu_read_lock();
		depth = thp_task_chain(bpf_get_current_task_btf(), chain);
		bpf_rcu_read_unlock();
#pragma unroll
		for (i = 0; i < THP_MAX_CGROUP_DEPTH; i++)
			ctx->chain[i] = i < depth ? chain[i] : 0;
		ctx->depth = depth;
	} else {
		/*
		 * Context loads need constant offsets: copy the part the walk can reach. Ids
		 * past depth are not zeroed: the walk never reads them and the memo compares
		 * all 16, so they can only cost a memo miss, never change a result.
		 */
#pragma unroll
		for (i = 0; i < THP_MAX_CGROUP_DEPTH; i++)
			chain[i] = ctx->chain[i];
	}

	decision = thp_decide_consistent(chain, depth, ctx->tva, ctx->advice, ctx->requested,
					 ctx->pressure, &attempts);
	ctx->out_decision = decision;
	ctx->out_return = thp_hook_return(decision, ctx->requested, abi);
	ctx->out_attempts = attempts;
	return 0;
}

/*
 * Does nothing. The benchmark runs it to measure what run_time_ns counts besides a
 * program (one sched_clock() and the call), so the decision's own cost can be told apart.
 */
SEC("syscall")
int thp_calibrate(void *ctx)
{
	return 0;
}
#endif

#ifdef THP_HOOK_ABI
#if THP_HOOK_ABI == 7
SEC("struct_ops/thp_get_order")
int BPF_PROG(thp_get_order, struct vm_area_struct *vma, enum bpf_thp_vma_type vma_type,
	     enum thp_tva_type tva_type, unsigned long orders)
{
	return thp_hook(vma, (__u32)vma_type, (__u32)tva_type, orders);
}
#else
SEC("struct_ops/thp_get_order")
int BPF_PROG(thp_get_order, struct vm_area_struct *vma, enum thp_tva_type tva_type,
	     unsigned long orders)
{
	return thp_hook(vma, thp_advice_of(vma->vm_flags), (__u32)tva_type, orders);
}
#endif

/* Global instance (v12: pid 0 = global mode). The loader sets BPF_F_LINK before load. */
SEC(".struct_ops")
struct bpf_thp_ops thp_fleet_ops = {
	.thp_get_order = (void *)thp_get_order,
};
#endif

#ifdef THP_PROBE
/*
 * Cgroup probe for kernels without bpf_thp_ops (fentry is not permitted on every kernel,
 * tp_btf is): on every mmap_lock acquisition, resolve mm->owner's cgroup chain exactly as
 * the hook does and record, per leaf cgroup, the chain and what the policy would answer
 * for a PMD page fault in a VMA without madvise. It changes nothing. It proves on a stock
 * kernel that the hook's cgroup walk passes the verifier and yields the ids userspace sees.
 */
#define THP_PROBE_PMD_ORDER 9 /* x86-64 4K pages: PMD order 9 (kernel-interface.md 5.1) */

SEC("tp_btf/mmap_lock_acquire_returned")
int BPF_PROG(thp_probe, struct mm_struct *mm, _Bool write, _Bool success)
{
	struct thp_probe_entry *seen;
	struct thp_probe_entry entry = {};
	__u64 leaf;
	int decision;

	entry.depth = thp_mm_chain(mm, entry.chain);
	if (entry.depth == 0)
		return 0;
	entry.last_return = thp_hook_decide(entry.chain, entry.depth, BPF_THP_VM_NONE,
					    THP_TVA_PAGEFAULT, 1ul << THP_PROBE_PMD_ORDER,
					    THP_ABI_V12, &decision);
	entry.last_decision = decision;
	entry.last_pressure = thp_pressure_now();
	leaf = entry.chain[0];
	seen = bpf_map_lookup_elem(&thp_probe_seen, &leaf);
	entry.calls = seen ? seen->calls + 1 : 1;
	bpf_map_update_elem(&thp_probe_seen, &leaf, &entry, BPF_ANY);
	return 0;
}
#endif
