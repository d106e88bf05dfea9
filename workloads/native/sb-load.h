/* sb-load: the native engine of the workloads (file, process, network).
 *
 * The same operations, kinds and keys as the Python workloads (workloads/file.py,
 * process.py, network.py), issued by N threads, each on its own slice of the key space,
 * on the same open-loop schedule (workloads/pacing.py, same seed, same intended times) or
 * closed loop. Every operation is recorded in a shared-memory ledger (ledger.c) that the
 * harness maps with numpy once the workload has exited (bench/core/native_ledger.py).
 *
 * Op numbering. Thread t of N issues the operations i = j*N + t (j = 0, 1, ...: its own
 * count): in open loop op i of the one schedule goes to thread i % N; in closed loop each
 * thread runs on until the deadline. A workload's per-op rule uses j (file: step j % 4 of
 * file (j / 4) * N + t; network: TCP when j is even), so threads=1 is exactly the Python
 * workload's numbering.
 */
#ifndef SB_LOAD_H
#define SB_LOAD_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define SB_MAX_THREADS 64

/* bench/core/kinds.py */
enum kind {
	K_FILE_CREATE = 1, K_FILE_WRITE = 2, K_FILE_RENAME = 3, K_FILE_DELETE = 4,
	K_PROC_FORK = 5, K_PROC_EXEC = 6, K_PROC_EXIT = 7,
	K_NET_CONNECT = 8, K_NET_ACCEPT = 9, K_NET_SEND = 10,
};

static inline int64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts); /* the harness's clock: perf_counter_ns */
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* ---- ledger.c: one row per expected event, in bench/core/ledger.py's COLUMNS order -- */
struct row {
	int64_t op, kind, key, t_intended, t_issue, t_done;
};

/* A writer's own part of the ledger: no writer touches another's, so recording takes no
 * lock and no atomic. */
struct slice {
	struct row *rows;
	char *names;      /* name_bytes per row (file paths), NULL for workloads without */
	int64_t n, cap;
	int full;         /* ran out of room: the writer stops */
};

struct ledger {
	int fd;                   /* the memfd the harness passed */
	char *base;
	size_t size;
	int64_t cap;              /* rows per slice */
	int nslices;
	size_t name_bytes;        /* per row: the path after name_skip bytes (the directory) */
	size_t name_skip;
	size_t names_off;
	struct slice slices[SB_MAX_THREADS + 1];
	int tap_fd;               /* the synthetic backend's side channel, -1 without */
	atomic_long tap_errors;
};

int ledger_open(struct ledger *l, int fd, int nslices, int64_t cap, size_t name_bytes,
		size_t name_skip, int tap_fd);
/* Allocate the memory of each slice's first `rows` rows now, not on the first write. */
void ledger_prefault(struct ledger *l, int64_t rows);
void ledger_tap(struct ledger *l, int64_t op, int kind, int64_t key, int64_t t_issue,
		const char *path, size_t plen);

/* Record one expected event (the path, for file kinds, as the syscall was given it). */
static inline void record(struct ledger *l, struct slice *s, int64_t op, int kind, int64_t key,
			  const char *path, size_t plen, int64_t t_int, int64_t t0, int64_t t1)
{
	if (s->n >= s->cap) {
		s->full = 1;
		return;
	}
	struct row *r = &s->rows[s->n];
	r->op = op;
	r->kind = kind;
	r->key = key;
	r->t_intended = t_int;
	r->t_issue = t0;
	r->t_done = t1;
	if (s->names && plen > l->name_skip) {
		size_t len = plen - l->name_skip;
		__builtin_memcpy(s->names + s->n * l->name_bytes, path + l->name_skip,
				 len < l->name_bytes ? len : l->name_bytes - 1);
	}
	s->n++;
	if (l->tap_fd >= 0)
		ledger_tap(l, op, kind, key, t0, path, plen);
}

/* ---- pacing.c: workloads/pacing.py's schedules ------------------------------------ */
struct mt {
	uint32_t s[624];
	int i;
};
void mt_seed(struct mt *m, uint64_t seed);  /* random.Random(seed), seed >= 0 */
double mt_random(struct mt *m);             /* random.Random().random() */

/* Arrivals: Poisson or uniform gaps, or bursts (Poisson): off_ms at the base rate, then
 * on_ms at peak ops/s, over and over (workloads/pacing.py's Burst). */
struct arrivals {
	int poisson, burst;
	double on_ms, off_ms, peak;
	char text[128];
};
int parse_arrivals(const char *text, struct arrivals *a);

struct pacer {
	int closed;
	int64_t deadline;             /* closed loop */
	int64_t n, i;                 /* open loop: ops in the schedule, next to draw */
	double t_next, period;
	int poisson;
	int burst;                    /* bursts: until t_next reaches end, not n ops */
	double t0, cycle, off, peak_period, end;
	struct mt mt;
	int t, nthreads;
	int64_t j;                    /* this thread's own count */
};
void pacer_open(struct pacer *p, int t, int nthreads, double rate, double duration,
		const struct arrivals *a, uint64_t seed, int64_t t0);
void pacer_closed(struct pacer *p, int t, int nthreads, int64_t deadline);
/* The next operation of this thread: its op id, its own count j and intended time;
 * 0 when the schedule (or the time) is over. */
int pacer_next(struct pacer *p, int64_t *op, int64_t *j, int64_t *t_int);
int64_t schedule_ops(double rate, double duration);
int64_t schedule_len(double rate, double duration, const struct arrivals *a, uint64_t seed);
/* Sleep until t (CLOCK_MONOTONIC ns), spinning the last few microseconds; returns early
 * (0) when *stop is set. */
int sleep_until(int64_t t, const atomic_int *stop);

/* ---- the run ---------------------------------------------------------------------- */
enum { PROTO_BOTH, PROTO_TCP, PROTO_UDP };

struct config {
	char workload[16];
	double rate;                  /* 0: closed loop ("max") */
	char rate_text[32];
	double duration;
	char marker[64];
	char workdir[4096];
	struct arrivals arrivals;
	uint64_t seed;
	int threads;
	int pin;
	long lifetime_us;
	int protocols;                /* network: PROTO_BOTH, PROTO_TCP or PROTO_UDP */
	char child[4096];
	int tap_fd, ledger_fd;
	char home_cgroup[4096];
	char cgroup[4096];
	char settings[4096];          /* the workload's settings, JSON, for the summary */
};

struct worker {
	int t;
	pthread_t th;
	struct run *run;
	struct slice *slice;
	int64_t ops, errors, t_last;
	/* file */
	int fd;
	/* network */
	int listener, receiver;
	uint16_t tcp_port, udp_port;
	int udp_next, udp_lo, udp_n;
	/* scratch */
	char path[4096 + 128];
	size_t prefix_len;
};

struct workload;

struct run {
	struct config cfg;
	struct ledger led;
	const struct workload *w;
	struct worker workers[SB_MAX_THREADS];
	atomic_int stop;              /* SIGTERM or the harness gone: end early */
	int64_t t0;                   /* first intended time / closed-loop start */
	void *state;                  /* the workload's own shared state */
	int exact_exit_time;          /* process: -1 when the workload has no such notion */
};

struct workload {
	const char *name;
	size_t (*name_bytes)(const struct run *r);     /* ledger name width, 0: no paths */
	int rows_per_op;                               /* at most, for the ledger's size */
	int extra_slices;                              /* writers besides the N threads */
	int (*setup)(struct run *r);                   /* shared state, before threads */
	int (*thread_setup)(struct worker *w);
	void (*op)(struct worker *w, int64_t op, int64_t j, int64_t t_int);
	void (*poll)(struct worker *w);                /* bookkeeping in idle time */
	void (*thread_teardown)(struct worker *w);
	void (*finish)(struct run *r);                 /* after the last op, before "done" */
	void (*teardown)(struct run *r);               /* must not fail */
};

extern const struct workload file_workload, process_workload, network_workload;

/* Whether the run is to end early: SIGTERM, SIGINT or SIGHUP arrived (sb-load.c). */
int stopping(struct run *r);
void die(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));

#endif
