/* sb-load: the native workload engine (see sb-load.h for the op numbering).
 *
 * `python -m workloads` execs this program in its own process (same pid, same
 * parent-death signal) with the cell's settings on stdin, one "key value" a line; it
 * joins the cell's cgroup once set up;
 * then it speaks the same protocol as the Python engine: "start" when the schedule
 * starts, "done" when the last operation is done (children reaped included), the ledger
 * (here: rows in the memfd the harness passed as ledger_fd) and a one-line JSON summary
 * last. SIGTERM, SIGINT, SIGHUP (and the harness's death, which PR_SET_PDEATHSIG turns
 * into a SIGTERM) stop the threads, kill the children and exit 143 without a summary.
 *
 * `sb-load --ledger-bench N` records N file rows into a ledger and prints the cost per row
 * (and, apart, what taking the ledger's memory cost per row);
 * `sb-load --schedule ...` prints the open-loop schedule (see schedule()).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "sb-load.h"

#define CLOSED_RATE_BOUND 1e6 /* ops/s a thread could ever do: sizes the closed-loop ledger */
#define POLL_GAP_NS 60000     /* as workloads/pacing.py: bookkeeping when idle this long */

static sigset_t stop_signals;
static pthread_barrier_t ready, go;
static atomic_int running;

void die(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("sb-load: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	exit(1);
}

int stopping(struct run *r)
{
	struct timespec zero = { 0, 0 };
	if (sigtimedwait(&stop_signals, NULL, &zero) > 0)
		atomic_store(&r->stop, 1);
	return atomic_load(&r->stop);
}

/* ---- settings: "key value" lines on stdin ---------------------------------------- */
static void copy(char *dst, size_t size, const char *v, const char *key)
{
	if (strlen(v) >= size)
		die("%s too long", key);
	strcpy(dst, v);
}

static void read_config(struct config *c)
{
	static char buf[65536];
	size_t n = fread(buf, 1, sizeof(buf) - 1, stdin);
	buf[n] = 0;
	*c = (struct config){ .threads = 1, .tap_fd = -1, .ledger_fd = -1 };
	parse_arrivals("poisson", &c->arrivals);
	strcpy(c->settings, "{}");
	for (char *line = strtok(buf, "\n"); line; line = strtok(NULL, "\n")) {
		char *v = strchr(line, ' ');
		if (!v)
			die("bad settings line %s", line);
		*v++ = 0;
		if (!strcmp(line, "workload"))
			copy(c->workload, sizeof(c->workload), v, line);
		else if (!strcmp(line, "rate")) {
			copy(c->rate_text, sizeof(c->rate_text), v, line);
			c->rate = strcmp(v, "max") ? strtod(v, NULL) : 0;
		} else if (!strcmp(line, "duration"))
			c->duration = strtod(v, NULL);
		else if (!strcmp(line, "marker"))
			copy(c->marker, sizeof(c->marker), v, line);
		else if (!strcmp(line, "workdir"))
			copy(c->workdir, sizeof(c->workdir), v, line);
		else if (!strcmp(line, "arrivals")) {
			if (parse_arrivals(v, &c->arrivals))
				die("bad arrivals %s", v);
		}
		else if (!strcmp(line, "seed"))
			c->seed = strtoull(v, NULL, 10);
		else if (!strcmp(line, "threads"))
			c->threads = atoi(v);
		else if (!strcmp(line, "pin"))
			c->pin = atoi(v);
		else if (!strcmp(line, "lifetime_us"))
			c->lifetime_us = atol(v);
		else if (!strcmp(line, "protocols")) {
			if (!strcmp(v, "both"))
				c->protocols = PROTO_BOTH;
			else if (!strcmp(v, "tcp"))
				c->protocols = PROTO_TCP;
			else if (!strcmp(v, "udp"))
				c->protocols = PROTO_UDP;
			else
				die("bad protocols %s", v);
		} else if (!strcmp(line, "child"))
			copy(c->child, sizeof(c->child), v, line);
		else if (!strcmp(line, "tap_fd"))
			c->tap_fd = atoi(v);
		else if (!strcmp(line, "ledger_fd"))
			c->ledger_fd = atoi(v);
		else if (!strcmp(line, "home_cgroup"))
			copy(c->home_cgroup, sizeof(c->home_cgroup), v, line);
		else if (!strcmp(line, "cgroup"))
			copy(c->cgroup, sizeof(c->cgroup), v, line);
		else if (!strcmp(line, "settings"))
			copy(c->settings, sizeof(c->settings), v, line);
		else
			die("unknown setting %s", line);
	}
	if (c->threads < 1 || c->threads > SB_MAX_THREADS)
		die("threads must be 1..%d", SB_MAX_THREADS);
	if (c->duration <= 0 || c->rate < 0 || !c->marker[0] || !c->workdir[0] || c->ledger_fd < 0)
		die("duration, rate, marker, workdir and ledger_fd are required");
}

/* ---- threads ---------------------------------------------------------------------- */
static void pin(int t)
{
	cpu_set_t allowed, one;
	if (sched_getaffinity(0, sizeof(allowed), &allowed) != 0)
		return;
	int count = CPU_COUNT(&allowed), want = t % count;
	for (int cpu = 0; cpu < CPU_SETSIZE; cpu++)
		if (CPU_ISSET(cpu, &allowed) && want-- == 0) {
			CPU_ZERO(&one);
			CPU_SET(cpu, &one);
			pthread_setaffinity_np(pthread_self(), sizeof(one), &one);
			return;
		}
}

static void *work(void *arg)
{
	struct worker *w = arg;
	struct run *r = w->run;
	const struct config *c = &r->cfg;
	if (c->pin)
		pin(w->t);
	prctl(PR_SET_TIMERSLACK, 1); /* sleeps end on time, not up to 50 us late */
	int bad = r->w->thread_setup ? r->w->thread_setup(w) : 0;
	if (bad)
		w->errors = -1;
	pthread_barrier_wait(&ready);
	pthread_barrier_wait(&go);
	if (bad || atomic_load(&r->stop))
		goto out;
	struct pacer p;
	if (c->rate > 0)
		pacer_open(&p, w->t, c->threads, c->rate, c->duration, &c->arrivals, c->seed,
			   r->t0);
	else
		pacer_closed(&p, w->t, c->threads, r->t0 + (int64_t)(c->duration * 1e9));
	int64_t i, j, t_int;
	while (pacer_next(&p, &i, &j, &t_int)) {
		if (r->w->poll && ((j & 63) == 0 || t_int - now_ns() > POLL_GAP_NS))
			r->w->poll(w);
		if (!p.closed && !sleep_until(t_int, &r->stop))
			break;
		if (atomic_load_explicit(&r->stop, memory_order_relaxed))
			break;
		r->w->op(w, i, j, t_int);
		w->ops++;
		if (w->slice->full)
			break;
	}
	w->t_last = now_ns();
out:
	atomic_fetch_sub(&running, 1);
	return NULL;
}

/* ---- the summary ------------------------------------------------------------------ */
static void json_str(const char *s)
{
	putchar('"');
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;
		if (ch == '"' || ch == '\\')
			printf("\\%c", ch);
		else if (ch < 0x20)
			printf("\\u%04x", ch);
		else
			putchar(ch);
	}
	putchar('"');
}

static void summary(struct run *r, int64_t t_start, int64_t t_last)
{
	const struct config *c = &r->cfg;
	struct ledger *l = &r->led;
	int64_t ops = 0, errors = 0, rows = 0;
	for (int t = 0; t < c->threads; t++) {
		ops += r->workers[t].ops;
		errors += r->workers[t].errors;
	}
	for (int s = 0; s < l->nslices; s++)
		rows += l->slices[s].n;
	double elapsed = (double)(t_last - t_start) / 1e9;
	printf("{\"workload\": ");
	json_str(c->workload);
	printf(", \"rate_target\": ");
	json_str(c->rate_text);
	printf(", \"duration_s\": %.15g, \"arrivals\": \"%s\", \"ops\": %lld, \"rows\": %lld, "
	       "\"errors\": %lld, \"elapsed_s\": %.9f, \"rate_achieved\": %.6f, \"cgroup\": ",
	       c->duration, c->rate > 0 ? c->arrivals.text : "closed-loop",
	       (long long)ops, (long long)rows, (long long)errors, elapsed,
	       elapsed > 0 ? (double)ops / elapsed : 0.0);
	if (c->cgroup[0])
		json_str(c->cgroup);
	else
		printf("null");
	printf(", \"pid\": %d, \"tap_errors\": %ld, \"exact_exit_time\": %s, \"settings\": %s, "
	       "\"engine\": \"native\", \"threads\": %d, \"ledger\": "
	       "{\"capacity\": %lld, \"row_bytes\": %zu, \"name_bytes\": %zu, \"names_offset\": "
	       "%zu, \"size\": %zu, \"path_prefix\": ",
	       getpid(), atomic_load(&l->tap_errors),
	       r->exact_exit_time < 0 ? "null" : (r->exact_exit_time ? "true" : "false"),
	       c->settings, c->threads, (long long)l->cap,
	       sizeof(struct row), l->name_bytes, l->names_off, l->size);
	char prefix[sizeof(c->workdir) + 1];
	snprintf(prefix, sizeof(prefix), "%s/", c->workdir);
	json_str(prefix);
	printf(", \"counts\": [");
	for (int s = 0; s < l->nslices; s++)
		printf("%s%lld", s ? ", " : "", (long long)l->slices[s].n);
	printf("]}}\n");
	fflush(stdout);
}

/* Move the whole process (every thread) into the cgroup v2 at path; 0 when it went. */
static int join_cgroup(const char *path)
{
	char procs[4200];
	snprintf(procs, sizeof(procs), "%s/cgroup.procs", path);
	int fd = open(procs, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	int ok = write(fd, "0", 1) == 1;
	return close(fd) == 0 && ok ? 0 : -1;
}

static int ledger_bench(long n)
{
	static const char path[] = "/var/tmp/sensorbench-0/run-12345-abcdef/sb1234abcd-0001234.new";
	struct ledger l;
	int fd = memfd_create("sb-ledger-bench", MFD_CLOEXEC);
	size_t dir = (size_t)(strrchr(path, '/') - path) + 1;
	if (fd < 0 || ledger_open(&l, fd, 1, n, 32, dir, -1) != 0)
		die("cannot map a ledger: %s", strerror(errno));
	int64_t t0 = now_ns();
	ledger_prefault(&l, n);
	int64_t t_mem = now_ns() - t0;
	t0 = now_ns();
	for (long i = 0; i < n; i++)
		record(&l, &l.slices[0], i, K_FILE_CREATE, 0, path, sizeof(path) - 1, t0, t0 + i, t0 + i);
	int64_t t1 = now_ns();
	printf("{\"rows\": %lld, \"ns_per_row\": %.2f, \"memory_ns_per_row\": %.2f}\n",
	       (long long)l.slices[0].n, (double)(t1 - t0) / (double)n, (double)t_mem / (double)n);
	return 0;
}

/* Every thread's open-loop schedule with t0 = 1 ms, as "op thread j t_intended" lines:
 * what workloads/pacing.open_loop gives with a clock that reads 0 (tests compare them). */
static int schedule(char **argv)
{
	double rate = strtod(argv[2], NULL), duration = strtod(argv[3], NULL);
	int threads = atoi(argv[6]);
	if (rate <= 0 || duration <= 0 || threads < 1)
		die("--schedule RATE DURATION SEED ARRIVALS THREADS");
	struct arrivals a;
	if (parse_arrivals(argv[5], &a))
		die("bad arrivals %s", argv[5]);
	for (int t = 0; t < threads; t++) {
		struct pacer p;
		int64_t i, j, t_int;
		pacer_open(&p, t, threads, rate, duration, &a,
			   strtoull(argv[4], NULL, 10), 1000000);
		while (pacer_next(&p, &i, &j, &t_int))
			printf("%lld %d %lld %lld\n", (long long)i, t, (long long)j, (long long)t_int);
	}
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 3 && !strcmp(argv[1], "--ledger-bench"))
		return ledger_bench(atol(argv[2]));
	if (argc == 7 && !strcmp(argv[1], "--schedule"))
		return schedule(argv);
	static struct run run;
	struct run *r = &run;
	struct config *c = &r->cfg;
	sigemptyset(&stop_signals);
	sigaddset(&stop_signals, SIGTERM);
	sigaddset(&stop_signals, SIGINT);
	sigaddset(&stop_signals, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &stop_signals, NULL); /* every thread: main takes them */
	prctl(PR_SET_PDEATHSIG, SIGTERM);
	if (getppid() == 1)
		return 143; /* the harness is already gone */
	read_config(c);
	r->exact_exit_time = -1;
	if (!strcmp(c->workload, "file"))
		r->w = &file_workload;
	else if (!strcmp(c->workload, "process"))
		r->w = &process_workload;
	else if (!strcmp(c->workload, "network"))
		r->w = &network_workload;
	else
		die("unknown workload %s", c->workload);
	/* the children must not inherit the harness's descriptors */
	fcntl(c->ledger_fd, F_SETFD, FD_CLOEXEC);
	if (c->tap_fd >= 0)
		fcntl(c->tap_fd, F_SETFD, FD_CLOEXEC);
	/* Rows a slice can hold: a thread's share of the schedule (a reaper's: every op),
	 * or in closed loop a bound no thread reaches. */
	int64_t cap;
	if (c->rate > 0) {
		int64_t n = schedule_len(c->rate, c->duration, &c->arrivals, c->seed);
		cap = (n + c->threads - 1) / c->threads * r->w->rows_per_op;
		if (r->w->extra_slices && cap < n)
			cap = n;
	} else
		cap = ((int64_t)(c->duration * CLOSED_RATE_BOUND) + 1) * r->w->rows_per_op;
	cap += 16;
	size_t nb = r->w->name_bytes ? r->w->name_bytes(r) : 0;
	if (ledger_open(&r->led, c->ledger_fd, c->threads + r->w->extra_slices, cap, nb,
			strlen(c->workdir) + 1, c->tap_fd) != 0)
		die("cannot map the ledger: %s", strerror(errno));
	if (c->rate > 0)
		ledger_prefault(&r->led, cap);
	if (r->w->setup && r->w->setup(r) != 0)
		die("%s setup failed: %s", c->workload, strerror(errno));
	pthread_barrier_init(&ready, NULL, (unsigned)c->threads + 1);
	pthread_barrier_init(&go, NULL, (unsigned)c->threads + 1);
	atomic_store(&running, c->threads);
	for (int t = 0; t < c->threads; t++) {
		struct worker *w = &r->workers[t];
		*w = (struct worker){ .t = t, .run = r, .slice = &r->led.slices[t], .fd = -1,
				      .listener = -1, .receiver = -1 };
		if (pthread_create(&w->th, NULL, work, w) != 0)
			die("cannot start thread %d", t);
	}
	pthread_barrier_wait(&ready);
	int failed = 0;
	for (int t = 0; t < c->threads; t++)
		if (r->workers[t].errors < 0) {
			atomic_store(&r->stop, 1);
			failed = 1;
			fprintf(stderr, "sb-load: %s setup failed in thread %d: %s\n", c->workload, t,
				strerror(errno));
		}
	/* Into the cell's cgroup now that all is set up: its CPU, a sensor filtering on it
	 * and the cost injected there see the operations, not our start-up. */
	if (c->cgroup[0] && join_cgroup(c->cgroup) != 0)
		c->cgroup[0] = 0;  /* refused: the summary says no cgroup, as Python's */
	if (!atomic_load(&r->stop)) {
		puts("start");
		fflush(stdout);
	}
	int64_t t_start = now_ns();
	/* as workloads/pacing.py: the first op 1 ms from now, so op 0 is not already late */
	r->t0 = c->rate > 0 ? t_start + 1000000 : t_start;
	pthread_barrier_wait(&go);
	while (atomic_load(&running) > 0) {
		struct timespec tick = { 0, 20000000 };
		if (sigtimedwait(&stop_signals, NULL, &tick) > 0)
			atomic_store(&r->stop, 1);
	}
	int64_t t_last = t_start;
	for (int t = 0; t < c->threads; t++) {
		pthread_join(r->workers[t].th, NULL);
		if (r->workers[t].t_last > t_last)
			t_last = r->workers[t].t_last;
	}
	if (!stopping(r) && r->w->finish)
		r->w->finish(r);
	int stopped = stopping(r);
	if (!stopped) {
		puts("done");
		fflush(stdout);
		/* out of the cell's cgroup: the summary is not the workload's cost */
		if (c->cgroup[0] && c->home_cgroup[0])
			join_cgroup(c->home_cgroup);
	}
	for (int t = 0; t < c->threads; t++)
		if (r->w->thread_teardown)
			r->w->thread_teardown(&r->workers[t]);
	if (r->w->teardown)
		r->w->teardown(r);
	if (stopped)
		return failed ? 1 : 143;
	for (int s = 0; s < r->led.nslices; s++)
		if (r->led.slices[s].full) /* a truth with rows missing is no truth */
			die("ledger slice %d ran out of its %lld rows", s, (long long)r->led.cap);
	summary(r, t_start, t_last);
	return 0;
}
