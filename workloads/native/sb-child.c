/* sb-child: the tiny program the process workload spawns.
 *
 * argv[1] is the run marker with the op id (so sensors that report argv can be matched),
 * argv[2] the op's slot, argv[3] (optional) how long to live in microseconds, so that the
 * workload can model commands that run for a while. Just before exiting it stores CLOCK_MONOTONIC in slot argv[2] of
 * the shared memory the parent passes as fd 3, so the ledger knows when the exit syscall
 * was issued. It does this with a store into a mapping, not a write(2), so it adds no
 * file event of its own. Built static so exec costs as little as possible.
 */
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	if (argc > 3) {
		long us = strtol(argv[3], NULL, 10);
		if (us > 0) {
			struct timespec d = { us / 1000000, (us % 1000000) * 1000 };
			while (nanosleep(&d, &d) != 0)
				;
		}
	}
	if (argc > 2) {
		long slot = strtol(argv[2], NULL, 10);
		size_t len = (size_t)(slot + 1) * sizeof(int64_t);
		int64_t *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, 3, 0);
		if (p != MAP_FAILED) {
			struct timespec ts;
			clock_gettime(CLOCK_MONOTONIC, &ts);
			p[slot] = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
		}
	}
	_exit(0);
}
