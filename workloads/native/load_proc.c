/* Process workload (workloads/process.py): posix_spawn sb-child, reap it, record
 * fork, exec and exit keyed by the child's pid.
 *
 * Each thread spawns (glibc's posix_spawn is a CLONE_VFORK clone and an exec; the child
 * gets the slots memfd as fd 3, an empty environment and an empty signal mask); one reaper
 * thread waits for every child as it exits, as a shell reaping on SIGCHLD would. The
 * reaper looks at an exited child without reaping it (WNOWAIT), takes its entry from the
 * pid table, and only then reaps it: until then the pid cannot be reused, so an entry is
 * never read after a new child with the same pid wrote it. The exit row's issue time is
 * what the child stored in its slot just before exiting; its done time is the reaping.
 * The reaper writes the ledger slice after the spawners' (slice N).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sb-load.h"

#define PID_LIMIT 4194304 /* PID_MAX_LIMIT on 64-bit: no pid is larger */
#define SLOT_FD 3          /* where sb-child expects its slots */

struct pend {
	atomic_llong op1; /* op + 1; 0: no child of ours has this pid */
	int64_t t_intended, t_spawned;
};

struct procs {
	int slots_fd;
	volatile int64_t *slots;
	size_t nslots;
	struct pend *table;
	atomic_int pid_lo, pid_hi;
	atomic_long pending;
	pthread_t reaper;
	atomic_int stop, done;
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	char lifetime[24];
};

static void wake(int sig) { (void)sig; } /* interrupts the reaper's waitid */

static void *reap(void *arg)
{
	struct run *r = arg;
	struct procs *p = r->state;
	struct slice *s = &r->led.slices[r->cfg.threads];
	sigset_t only;
	sigfillset(&only);
	sigdelset(&only, SIGUSR1);
	pthread_sigmask(SIG_SETMASK, &only, NULL);
	while (!atomic_load(&p->stop) || atomic_load(&p->pending) > 0) {
		siginfo_t si = { 0 };
		if (waitid(P_ALL, 0, &si, WEXITED | WNOWAIT) != 0) {
			if (errno == ECHILD) {
				if (atomic_load(&p->stop))
					break;
				struct timespec d = { 0, 500000 }; /* no child yet */
				nanosleep(&d, NULL);
			}
			continue;
		}
		pid_t pid = si.si_pid;
		long long op1 = 0;
		int64_t deadline = now_ns() + 100000000; /* its spawner is about to publish it */
		if (pid > 0 && pid < PID_LIMIT)
			while (!(op1 = atomic_load_explicit(&p->table[pid].op1, memory_order_acquire)) &&
			       now_ns() < deadline)
				sched_yield();
		struct pend e = { 0 };
		if (op1) {
			e.t_intended = p->table[pid].t_intended;
			e.t_spawned = p->table[pid].t_spawned;
			atomic_store_explicit(&p->table[pid].op1, 0, memory_order_relaxed);
		}
		while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
			;
		int64_t t_reaped = now_ns();
		if (!op1)
			continue;
		int64_t op = op1 - 1;
		int64_t t_exit = (size_t)op < p->nslots ? p->slots[op] : 0;
		if (t_exit <= 0)
			t_exit = e.t_spawned;
		record(&r->led, s, op, K_PROC_EXIT, pid, NULL, 0, e.t_intended, t_exit, t_reaped);
		atomic_fetch_sub(&p->pending, 1);
	}
	atomic_store(&p->done, 1);
	return NULL;
}

static int setup(struct run *r)
{
	static struct procs p;
	r->state = &p;
	r->exact_exit_time = 1;
	if (access(r->cfg.child, X_OK) != 0)
		die("cannot run the child program %s (make native builds it)", r->cfg.child);
	snprintf(p.lifetime, sizeof(p.lifetime), "%ld", r->cfg.lifetime_us);
	/* one slot per op id: thread t's ops are j * N + t, with j below the ledger's cap */
	p.nslots = (size_t)r->led.cap * (size_t)r->cfg.threads;
	int fd = memfd_create("sb-slots", MFD_CLOEXEC);
	if (fd == SLOT_FD) { /* keep it off fd 3: dup2(3, 3) would leave close-on-exec set */
		fd = fcntl(SLOT_FD, F_DUPFD_CLOEXEC, SLOT_FD + 1);
		close(SLOT_FD);
	}
	if (fd < 0 || ftruncate(fd, (off_t)(p.nslots * 8)) != 0)
		return -1;
	p.slots_fd = fd;
	p.slots = mmap(NULL, p.nslots * 8, PROT_READ, MAP_SHARED, fd, 0);
	p.table = mmap(NULL, sizeof(struct pend) * PID_LIMIT, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (p.slots == MAP_FAILED || p.table == MAP_FAILED)
		return -1;
	atomic_store(&p.pid_lo, PID_LIMIT);
	posix_spawn_file_actions_init(&p.fa);
	posix_spawn_file_actions_adddup2(&p.fa, fd, SLOT_FD);
	posix_spawnattr_init(&p.attr);
	sigset_t none;
	sigemptyset(&none);
	posix_spawnattr_setsigmask(&p.attr, &none);
	posix_spawnattr_setflags(&p.attr, POSIX_SPAWN_SETSIGMASK);
	struct sigaction sa = { .sa_handler = wake }; /* no SA_RESTART */
	sigaction(SIGUSR1, &sa, NULL);
	return pthread_create(&p.reaper, NULL, reap, r) == 0 ? 0 : -1;
}

static void op(struct worker *w, int64_t i, int64_t j, int64_t t_int)
{
	(void)j;
	struct run *r = w->run;
	struct procs *p = r->state;
	char arg[sizeof(r->cfg.marker) + 24], slot[24];
	snprintf(arg, sizeof(arg), "%s-%lld", r->cfg.marker, (long long)i);
	snprintf(slot, sizeof(slot), "%lld", (long long)i);
	char *argv[] = { r->cfg.child, arg, slot, p->lifetime, NULL };
	char *envp[] = { NULL };
	pid_t pid;
	if ((size_t)i >= p->nslots) {
		w->errors++;
		return;
	}
	int64_t t0 = now_ns();
	int rc = posix_spawn(&pid, r->cfg.child, &p->fa, &p->attr, argv, envp);
	int64_t t1 = now_ns();
	if (rc != 0) {
		w->errors++;
		return;
	}
	if (pid < PID_LIMIT) {
		p->table[pid].t_intended = t_int;
		p->table[pid].t_spawned = t1;
		atomic_fetch_add(&p->pending, 1);
		atomic_store_explicit(&p->table[pid].op1, i + 1, memory_order_release);
		int lo = atomic_load(&p->pid_lo), hi = atomic_load(&p->pid_hi);
		while (pid < lo && !atomic_compare_exchange_weak(&p->pid_lo, &lo, pid))
			;
		while (pid > hi && !atomic_compare_exchange_weak(&p->pid_hi, &hi, pid))
			;
	}
	record(&r->led, w->slice, i, K_PROC_FORK, pid, NULL, 0, t_int, t0, t1);
	record(&r->led, w->slice, i, K_PROC_EXEC, pid, NULL, 0, t_int, t0, t1);
}

/* After the last operation: wait (up to 10 s) until every child is reaped. */
static void finish(struct run *r)
{
	struct procs *p = r->state;
	int64_t deadline = now_ns() + 10000000000LL;
	while (atomic_load(&p->pending) > 0 && now_ns() < deadline && !stopping(r)) {
		struct timespec d = { 0, 1000000 };
		nanosleep(&d, NULL);
	}
}

static void teardown(struct run *r)
{
	struct procs *p = r->state;
	if (!p || !p->table)
		return;
	atomic_store(&p->stop, 1);
	if (atomic_load(&p->pending) > 0) /* children left (a stop, or a hung one): kill them */
		for (int pid = atomic_load(&p->pid_lo); pid <= atomic_load(&p->pid_hi); pid++)
			if (atomic_load(&p->table[pid].op1))
				kill(pid, SIGKILL);
	int64_t deadline = now_ns() + 5000000000LL;
	while (!atomic_load(&p->done) && now_ns() < deadline) {
		pthread_kill(p->reaper, SIGUSR1);
		struct timespec d = { 0, 1000000 };
		nanosleep(&d, NULL);
	}
	if (atomic_load(&p->done))
		pthread_join(p->reaper, NULL);
}

const struct workload process_workload = {
	.name = "process", .rows_per_op = 2, .extra_slices = 1, .setup = setup, .op = op,
	.finish = finish, .teardown = teardown,
};
