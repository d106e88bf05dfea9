// SPDX-License-Identifier: GPL-2.0
/* probe.bpf.c: one empty program per optional hook type, loaded one at a time to learn
 * whether this kernel accepts it (fentry/fexit need BPF trampolines and BTF-typed tracing
 * programs; BPF-LSM also needs "bpf" in the active LSM list). Nothing is ever attached. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

char LICENSE[] SEC("license") = "GPL";

SEC("fentry/do_unlinkat")
int BPF_PROG(probe_fentry)
{
	return 0;
}

SEC("lsm/file_open")
int BPF_PROG(probe_lsm, struct file *file)
{
	return 0;
}

SEC("tp_btf/sched_process_exec")
int BPF_PROG(probe_tp_btf)
{
	return 0;
}
