/* sb-child: the tiny program the process workload spawns.
 *
 * argv[1] is the run marker with the op id (so sensors that report argv can be matched),
 * argv[2] the op's slot, argv[3] (optional) how long to live in microseconds, so that the
 * workload can model commands that run for a while. Just before exiting it stores
 * CLOCK_MONOTONIC in slot argv[2] of the shared memory the parent passes as fd 3, so the
 * ledger knows when the exit syscall was issued. It does this with a store into a mapping
 * (of the one page that holds the slot), not a write(2), so it adds no file event of its
 * own.
 *
 * Exec is most of a spawn's cost, and exec of a static binary costs in proportion to what
 * it maps and relocates: built with SB_NOLIBC (x86-64; `make native` tries that first) it
 * is a few kilobytes of raw system calls with no C library, which spawns about 2.5 times
 * as fast as the 760 KB static glibc build; elsewhere it is that static (or a dynamic)
 * glibc build. Both do the same system calls in the same order.
 */
#include <stdint.h>
#include <time.h>

#define PAGE 4096L

#ifdef SB_NOLIBC
#ifndef __x86_64__
#error "SB_NOLIBC: raw system calls are written for x86-64 only; build with the C library"
#endif
#define NR_MMAP 9
#define NR_NANOSLEEP 35
#define NR_CLOCK_GETTIME 228
#define NR_EXIT_GROUP 231

static long sys6(long n, long a, long b, long c, long d, long e, long f)
{
	long ret;
	register long r10 __asm__("r10") = d;
	register long r8 __asm__("r8") = e;
	register long r9 __asm__("r9") = f;
	__asm__ volatile("syscall" : "=a"(ret)
			 : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8), "r"(r9)
			 : "rcx", "r11", "memory");
	return ret;
}

static void *sb_map(long off)
{
	long p = sys6(NR_MMAP, 0, PAGE, 3 /* PROT_READ|PROT_WRITE */, 1 /* MAP_SHARED */, 3, off);
	return (p < 0 && p > -4096) ? (void *)0 : (void *)p;
}
static int sb_nanosleep(struct timespec *d) { return (int)sys6(NR_NANOSLEEP, (long)d, (long)d, 0, 0, 0, 0); }
static void sb_now(struct timespec *ts) { sys6(NR_CLOCK_GETTIME, CLOCK_MONOTONIC, (long)ts, 0, 0, 0, 0); }
static void __attribute__((noreturn)) sb_exit(void)
{
	for (;;)
		sys6(NR_EXIT_GROUP, 0, 0, 0, 0, 0, 0);
}
#else
#include <sys/mman.h>
#include <unistd.h>

static void *sb_map(long off)
{
	void *p = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, 3, off);
	return p == MAP_FAILED ? NULL : p;
}
static int sb_nanosleep(struct timespec *d) { return nanosleep(d, d); }
static void sb_now(struct timespec *ts) { clock_gettime(CLOCK_MONOTONIC, ts); }
static void __attribute__((noreturn)) sb_exit(void) { _exit(0); }
#endif

static long number(const char *s)
{
	long v = 0;
	while (*s >= '0' && *s <= '9')
		v = v * 10 + (*s++ - '0');
	return v;
}

static void __attribute__((noreturn)) child(int argc, char **argv)
{
	if (argc > 3) {
		long us = number(argv[3]);
		if (us > 0) {
			struct timespec d = { us / 1000000, (us % 1000000) * 1000 };
			while (sb_nanosleep(&d) != 0)
				;
		}
	}
	if (argc > 2) {
		long at = number(argv[2]) * (long)sizeof(int64_t);
		char *page = sb_map(at & ~(PAGE - 1));
		if (page) {
			struct timespec ts;
			sb_now(&ts);
			*(int64_t *)(page + (at & (PAGE - 1))) =
				(int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
		}
	}
	sb_exit();
}

#ifdef SB_NOLIBC
/* The kernel starts us with argc at the stack pointer and argv right above it. */
__attribute__((used)) static void start_c(long *sp) { child((int)sp[0], (char **)(sp + 1)); }
__asm__(".text\n.global _start\n_start:\n\txor %rbp, %rbp\n\tmov %rsp, %rdi\n"
	"\tand $-16, %rsp\n\tcall start_c\n\thlt\n");
#else
int main(int argc, char **argv) { child(argc, argv); }
#endif
