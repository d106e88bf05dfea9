/* cost.h: what cost.bpf.c (the injected-cost calibration program) shares with its loader,
 * bench/backends/ebpf/cost.py, which mirrors it by layout (CONFIG_FMT and the slot
 * numbers there): change both together.
 */
#ifndef SB_COST_H
#define SB_COST_H

/* Loader-set constants (.rodata, the only variable there). */
struct sb_cost_config {
	__u64 target_cgid; /* cgroup v2 id of the workload: nobody else pays */
	__u64 ns;          /* nanoseconds to busy-wait per hooked syscall */
};

/* Slots of the per-CPU `counts` array. */
#define SB_COST_RUNS   0 /* runs inside the target cgroup */
#define SB_COST_NS     1 /* ns actually spun, summed */
#define SB_COST_CAPPED 2 /* runs that hit the loop cap before the deadline */
#define SB_COST_NSLOTS 3

/* Upper bound on spin iterations (the most bpf_loop allows): at a few tens of ns per
 * iteration, a huge ns stops after a fraction of a second instead of hanging a syscall. */
#define SB_COST_MAX_LOOPS (1 << 23)

#endif
