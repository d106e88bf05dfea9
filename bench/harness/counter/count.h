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
/* Not a kind: an exit that found another syscall's pending enter (this one's exit, or
 * the other's, was missed), so a count may be short; the loader reports it. */
#define SB_C_UNPAIRED    11
/* Not a kind: a process the full `pids` set had no room for. */
#define SB_C_PIDS_FULL   12
#define SB_C_NSLOTS      13
#define SB_C_MAX_PIDS    65536

/* The numbers of the syscalls counted, for the raw_syscalls dispatch (a raw tracepoint
 * gets the number, not the name; a BPF build does not see the host's asm headers).
 * Syscalls an architecture lacks are negative and distinct: no syscall has them.
 * Kept apart from the eBPF sensor's syscalls.h on purpose: a wrong number there must not
 * make the truth that sensor is checked against wrong the same way. */
#if defined(__TARGET_ARCH_x86)
#define SB_C_NR_write      1
#define SB_C_NR_open       2
#define SB_C_NR_close      3
#define SB_C_NR_connect    42
#define SB_C_NR_accept     43
#define SB_C_NR_sendto     44
#define SB_C_NR_rename     82
#define SB_C_NR_creat      85
#define SB_C_NR_unlink     87
#define SB_C_NR_openat     257
#define SB_C_NR_unlinkat   263
#define SB_C_NR_renameat   264
#define SB_C_NR_accept4    288
#define SB_C_NR_renameat2  316
#define SB_C_NR_openat2    437
#define SB_C_NR_pwrite64   18
#define SB_C_NR_writev     20
#define SB_C_NR_sendfile   40
#define SB_C_NR_splice     275
#define SB_C_NR_pwritev    296
#define SB_C_NR_copy_file_range 326
#define SB_C_NR_pwritev2   328
#elif defined(__TARGET_ARCH_arm64)
#define SB_C_NR_write      64
#define SB_C_NR_open       -1
#define SB_C_NR_close      57
#define SB_C_NR_connect    203
#define SB_C_NR_accept     202
#define SB_C_NR_sendto     206
#define SB_C_NR_rename     -2
#define SB_C_NR_creat      -3
#define SB_C_NR_unlink     -4
#define SB_C_NR_openat     56
#define SB_C_NR_unlinkat   35
#define SB_C_NR_renameat   38
#define SB_C_NR_accept4    242
#define SB_C_NR_renameat2  276
#define SB_C_NR_openat2    437
#define SB_C_NR_pwrite64   68
#define SB_C_NR_writev     66
#define SB_C_NR_sendfile   71
#define SB_C_NR_splice     76
#define SB_C_NR_pwritev    70
#define SB_C_NR_copy_file_range 285
#define SB_C_NR_pwritev2   287
#else
#error "count.h: no syscall numbers for this architecture"
#endif

#endif
