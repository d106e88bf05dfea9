// SPDX-License-Identifier: GPL-2.0
/* bad_update.bpf.c: the malformed content update, in kernel code (bad-update scenario).
 *
 * A "new version" of a sensor program that trusts its content the way the 2024 driver
 * did: it takes an index from a content map and reads a table at that index without
 * checking it against the table's size. In a kernel driver that read runs, and reads
 * past the end; here the verifier refuses the program at load time ("invalid access to
 * map value" / unbounded memory access), so it never runs and the programs already
 * attached stay as they are. It is built to be refused: if it ever loads, the scenario
 * says so.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include "event.h"

char LICENSE[] SEC("license") = "GPL";

struct table {
	__u64 slot[SB_NKINDS];
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct sb_rules);
} content SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct table);
} counters SEC(".maps");

SEC("tp/syscalls/sys_enter_openat")
int sb_bad_update(void *ctx)
{
	__u32 zero = 0;
	struct sb_rules *r = bpf_map_lookup_elem(&content, &zero);
	struct table *t = bpf_map_lookup_elem(&counters, &zero);

	if (!r || !t)
		return 0;
	/* r->kind[0] comes from content: no check that it is < SB_NKINDS */
	t->slot[r->kind[0]] += 1;
	return 0;
}
