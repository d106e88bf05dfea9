// SPDX-License-Identifier: GPL-2.0
/* cost.bpf.c: a known per-operation cost, for calibrating the harness's overhead number.
 *
 * One tracepoint program, attached by the loader to sys_enter_<name> of each syscall that
 * starts a workload operation. In the workload's cgroup it busy-waits cost_cfg.ns on the
 * monotonic clock, as a sensor doing work on the syscall path would; everywhere else it
 * returns at once. What it really spun is counted, so the injected cost is known exactly.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include "cost.h"

char LICENSE[] SEC("license") = "GPL";

/* Written by the loader before load. */
const volatile struct sb_cost_config cost_cfg = {};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, SB_COST_NSLOTS);
	__type(key, __u32);
	__type(value, __u64);
} counts SEC(".maps");

static __always_inline void add(__u32 slot, __u64 v)
{
	__u64 *c = bpf_map_lookup_elem(&counts, &slot);
	if (c)
		*c += v;
}

/* bpf_loop callback: 1 ends the loop, once the deadline has passed. */
static long spin(__u64 i, void *deadline)
{
	return bpf_ktime_get_ns() >= *(__u64 *)deadline;
}

/* No attach target in the section name: the loader attaches it once per syscall. */
SEC("tracepoint")
int sb_cost(void *ctx)
{
	if (bpf_get_current_cgroup_id() != cost_cfg.target_cgid)
		return 0;
	__u64 t0 = bpf_ktime_get_ns();
	__u64 deadline = t0 + cost_cfg.ns;
	/* bpf_loop rather than an open loop: the verifier needs a bound it can see, and
	 * SB_COST_MAX_LOOPS is it. */
	bpf_loop(SB_COST_MAX_LOOPS, spin, &deadline, 0);
	__u64 t1 = bpf_ktime_get_ns();
	add(SB_COST_RUNS, 1);
	add(SB_COST_NS, t1 - t0);
	if (t1 < deadline)
		add(SB_COST_CAPPED, 1);
	return 0;
}
