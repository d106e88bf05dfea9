/* event.h: the record the BPF sensor writes into its ring buffer, shared by the BPF
 * program (sensor.bpf.c), the C ring consumer (ring.c) and, by layout, the numpy dtype in
 * decode.py. Two sizes travel through the ring: a 40-byte header for events keyed by an
 * integer (pid, port pair) and header + path for file and exec events, so process and
 * network events do not pay for path space they never use.
 *
 * Any change here must be mirrored in decode.py (EVENT_DTYPE, SB_PATH_MAX, kinds).
 */
#ifndef SB_EVENT_H
#define SB_EVENT_H

/* Kinds: the same small integers as bench.kinds.Kind. */
#define SB_FILE_CREATE 1
#define SB_FILE_WRITE  2
#define SB_FILE_RENAME 3
#define SB_FILE_DELETE 4
#define SB_PROC_FORK   5
#define SB_PROC_EXEC   6
#define SB_PROC_EXIT   7
#define SB_NET_CONNECT 8
#define SB_NET_ACCEPT  9
#define SB_NET_SEND    10
#define SB_NKINDS      11  /* counters are indexed by kind; slot 0 unused */

/* Path / argv bytes carried by a path record; longer ones are cut (path_len says how much
 * arrived). 256 covers the workloads' paths with room while keeping records small. */
#define SB_PATH_MAX 256

struct sb_event {
	__u64 t_kernel;   /* bpf_ktime_get_ns(): CLOCK_MONOTONIC, as the harness uses */
	__u64 key;        /* proc: child/subject tgid; net: port_pair(client, server); file: 0 */
	__u64 cgid;       /* cgroup v2 id of the acting task (user-side "ours" check) */
	__u32 pid;        /* tgid of the acting process */
	__u32 tid;        /* thread id of the acting task */
	__s32 aux;        /* kind-specific: exit code, syscall return, f_mode bits */
	__u16 kind;
	__u16 path_len;   /* bytes of path that follow (no NUL); 0 in header-only records */
};

struct sb_event_path {
	struct sb_event h;
	char path[SB_PATH_MAX];
};

/* Loader-set constants (.rodata): see sensor.bpf.c. */
struct sb_config {
	__u64 target_cgid; /* 0: no in-kernel cgroup filter */
	__u32 self_tgid;   /* the sensor process, never reported */
	__u32 wakeup_bytes; /* 0: wake the consumer per record when it waits (libbpf default);
			     * else submit without a wake-up and force one once this much
			     * data is pending (wakeup=threshold, the default) */
	__u32 protect;     /* 1: count kill/ptrace/bpf() aimed at the sensor (tamper map) */
	__u32 _pad;
};

/* Content rules (the `rules` map, one entry), written by user space while the sensor
 * runs: the first `n` slots mute or report a kind. `n` and each slot come from content,
 * so the program bounds both before use (see muted() in sensor.bpf.c). */
#define SB_MAX_RULES 8
struct sb_rules {
	__u32 n;
	__u32 kind[SB_MAX_RULES];
	__u32 mute[SB_MAX_RULES];
};

/* Tampering aimed at the sensor, seen in the kernel (the `tamper` map, one slot per
 * kind of attempt): how many, by whom last, when last. */
#define SB_TAMPER_KILL   1   /* kill/tgkill with the sensor as target */
#define SB_TAMPER_PTRACE 2   /* ptrace of the sensor */
#define SB_TAMPER_BPF    3   /* bpf() by another process: a link or program fetched by id,
			      * a link detached */
#define SB_TAMPER_SLOTS  4
struct sb_tamper {
	__u64 count;
	__u64 last_t;
	__u32 last_pid;
	__u32 last_arg;    /* the signal, the ptrace request, the bpf command */
};

#endif
