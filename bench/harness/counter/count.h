/* count.h: what count.bpf.c (the counted truth) shares with its loader,
 * bench/harness/counter/__init__.py, which mirrors it by layout (CONFIG_FMT and the slot
 * numbers there): change both together.
 */
#ifndef SB_COUNT_H
#define SB_COUNT_H

/* Loader-set constants (.rodata, the only variable there). */
struct sb_count_config {
	__u64 target_cgid; /* cgroup v2 id of the workload's cgroup: only its tasks count */
};

/* Slots of the per-CPU `counts` array: the kinds, numbered as bench.core.kinds.Kind. */
#define SB_C_FILE_CREATE 1
#define SB_C_FILE_WRITE  2
#define SB_C_FILE_RENAME 3
#define SB_C_FILE_DELETE 4
#define SB_C_PROC_FORK   5
#define SB_C_PROC_EXEC   6
#define SB_C_PROC_EXIT   7
#define SB_C_NET_CONNECT 8
#define SB_C_NET_ACCEPT  9
#define SB_C_NET_SEND    10
#define SB_C_NKINDS      11 /* slot 0 unused */
/* Not a kind: an exit that found no pending enter (its LRU entry was evicted), so the
 * count may be short; the loader reports it. */
#define SB_C_UNPAIRED    11
#define SB_C_NSLOTS      12

#endif
