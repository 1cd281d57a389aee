/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The few kernel types the programs touch, declared with preserve_access_index so that
 * libbpf relocates every field offset against the running kernel's BTF (CO-RE). No
 * vmlinux.h: the object builds on any machine and adapts at load time.
 *
 * The bpf_thp_ops declarations are ours because no released kernel has them: they follow
 * the patch series quoted in reference/kernel-interface.md section 2 (v7: 2.1, v8: 2.3,
 * v12: 2.5). Only names matter to libbpf and the kernel (members are matched by name).
 */
#ifndef THP_KERNEL_H
#define THP_KERNEL_H

struct kernfs_node {
	__u64 id; /* the cgroup id of a cgroup's directory (what bpf_get_current_cgroup_id returns) */
} __attribute__((preserve_access_index));

struct cgroup;

struct cgroup_subsys_state {
	struct cgroup *cgroup;
	struct cgroup_subsys_state *parent; /* NULL at the root */
} __attribute__((preserve_access_index));

struct cgroup {
	struct cgroup_subsys_state self;
	int level;
	struct kernfs_node *kn;
} __attribute__((preserve_access_index));

struct css_set {
	struct cgroup *dfl_cgrp; /* the task's cgroup in the v2 hierarchy */
} __attribute__((preserve_access_index));

struct task_struct {
	int pid;
	struct css_set *cgroups; /* __rcu */
} __attribute__((preserve_access_index));

struct mm_struct {
	struct task_struct *owner; /* CONFIG_MEMCG; RCU, may be NULL (kernel-interface.md 2.2) */
} __attribute__((preserve_access_index));

struct vm_area_struct {
	struct mm_struct *vm_mm; /* trusted or NULL in the series (kernel-interface.md 2.2) */
	unsigned long vm_flags;
} __attribute__((preserve_access_index));

/* include/linux/mm.h: VM_HUGEPAGE BIT(29), VM_NOHUGEPAGE BIT(30) (stable since 2.6.38). */
#define THP_VM_HUGEPAGE 0x20000000ul
#define THP_VM_NOHUGEPAGE 0x40000000ul

/*
 * enum tva_type: mainline 6.18 has 0..3 (kernel-interface.md 0.4); the series adds 4
 * (TVA_SWAP in v7, TVA_SWAP_PAGEFAULT from v8). Values only: the kernel passes integers.
 */
enum thp_tva_type {
	THP_TVA_SMAPS = 0,
	THP_TVA_PAGEFAULT = 1,
	THP_TVA_KHUGEPAGED = 2,
	THP_TVA_FORCED_COLLAPSE = 3,
	THP_TVA_SWAP_PAGEFAULT = 4,
};

/* v7 only: enum bpf_thp_vma_type (kernel-interface.md 2.1); equal to VmaAdvice. */
enum bpf_thp_vma_type {
	BPF_THP_VM_NONE = 0,
	BPF_THP_VM_HUGEPAGE = 1,
	BPF_THP_VM_NOHUGEPAGE = 2,
};

#if defined(THP_HOOK_ABI)
#if THP_HOOK_ABI == 7
/* v7 (2.1): global, one instance, thp_get_order(vma, vma_type, tva_type, orders). */
struct bpf_thp_ops {
	int (*thp_get_order)(struct vm_area_struct *vma, enum bpf_thp_vma_type vma_type,
			     enum thp_tva_type tva_type, unsigned long orders);
};
#elif THP_HOOK_ABI == 8
/* v8..v11 (2.3, 2.4): vma_type dropped; the kernel does orders &= BIT(ret). */
struct bpf_thp_ops {
	int (*thp_get_order)(struct vm_area_struct *vma, enum thp_tva_type type,
			     unsigned long orders);
};
#elif THP_HOOK_ABI == 12
/* v12 (2.5): pid member first (0 = global mode); private mm_list is kernel-side only. */
struct bpf_thp_ops {
	int pid;
	int (*thp_get_order)(struct vm_area_struct *vma, enum thp_tva_type type,
			     unsigned long orders);
};
#else
#error "THP_HOOK_ABI must be 7, 8 or 12"
#endif
#endif

#endif /* THP_KERNEL_H */
