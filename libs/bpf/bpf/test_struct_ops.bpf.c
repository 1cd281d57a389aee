// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Test fixture, not shipped: the one struct_ops type every 6.x kernel has,
 * tcp_congestion_ops, so that the addon's struct_ops path (BPF_F_LINK map, attach,
 * link pin, bpf_link__update_map, detach) runs against a real kernel where bpf_thp_ops
 * does not exist. Two maps with the same algorithm name: a link update from one to the
 * other is what the kernel accepts (tcp_update_congestion_control checks the name).
 * The algorithm is never selected by a socket; it only has to register.
 */
#include <linux/types.h>
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

char LICENSE[] SEC("license") = "GPL";

struct sock;

/* Only names matter: libbpf matches members against the kernel's struct by name. */
struct tcp_congestion_ops {
	__u32 (*ssthresh)(struct sock *sk);
	void (*cong_avoid)(struct sock *sk, __u32 ack, __u32 acked);
	__u32 (*undo_cwnd)(struct sock *sk);
	char name[16];
};

SEC("struct_ops/thpf_ssthresh")
__u32 BPF_PROG(thpf_ssthresh, struct sock *sk)
{
	return 2;
}

SEC("struct_ops/thpf_cong_avoid")
void BPF_PROG(thpf_cong_avoid, struct sock *sk, __u32 ack, __u32 acked)
{
}

SEC("struct_ops/thpf_undo_cwnd_a")
__u32 BPF_PROG(thpf_undo_cwnd_a, struct sock *sk)
{
	return 2;
}

SEC("struct_ops/thpf_undo_cwnd_b")
__u32 BPF_PROG(thpf_undo_cwnd_b, struct sock *sk)
{
	return 4;
}

SEC(".struct_ops")
struct tcp_congestion_ops thpf_ca_a = {
	.ssthresh = (void *)thpf_ssthresh,
	.cong_avoid = (void *)thpf_cong_avoid,
	.undo_cwnd = (void *)thpf_undo_cwnd_a,
	.name = "thpf_test_ca",
};

SEC(".struct_ops")
struct tcp_congestion_ops thpf_ca_b = {
	.ssthresh = (void *)thpf_ssthresh,
	.cong_avoid = (void *)thpf_cong_avoid,
	.undo_cwnd = (void *)thpf_undo_cwnd_b,
	.name = "thpf_test_ca",
};
