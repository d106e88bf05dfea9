/* File workload (workloads/file.py): create, write+close, rename, delete.
 *
 * Thread t's own count j: step j % 4 of file k = (j / 4) * N + t, named
 * <workdir>/<marker>-<k, at least 7 digits>.new (renamed to .ren): the Python workload's
 * paths for N = 1, and disjoint files for N > 1. All threads work in the cell's own
 * directory, so every file sensor watches them where it watches the Python workload (an
 * inode mark, inotify's watch, an audit rule on the directory).
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "sb-load.h"

static const char PAYLOAD[] = "sensorbenchsensorbenchsensorbenchsensorbenchsensorbenchsensorbench";

/* Digits of k, zero-padded to 7 as "%07d"; returns the length. */
static size_t digits(char *dst, int64_t k)
{
	char tmp[24];
	size_t n = 0;
	do {
		tmp[n++] = (char)('0' + k % 10);
		k /= 10;
	} while (k);
	while (n < 7)
		tmp[n++] = '0';
	for (size_t i = 0; i < n; i++)
		dst[i] = tmp[n - 1 - i];
	return n;
}

/* The ledger keeps <marker>-<k>.<new|ren>: the directory is the same for every row. */
static size_t name_bytes(const struct run *r)
{
	size_t n = strlen(r->cfg.marker) + 1 + 20 + 4 + 1;
	return (n + 7) & ~(size_t)7;
}

static int thread_setup(struct worker *w)
{
	const struct config *c = &w->run->cfg;
	int n = snprintf(w->path, sizeof(w->path) - 32, "%s/%s-", c->workdir, c->marker);
	if (n < 0 || (size_t)n >= sizeof(w->path) - 32)
		return -1;
	w->prefix_len = (size_t)n;
	w->fd = -1;
	return 0;
}

static void op(struct worker *w, int64_t i, int64_t j, int64_t t_int)
{
	struct run *r = w->run;
	int64_t k = (j / 4) * r->cfg.threads + w->t;
	char *p = w->path;
	size_t len = w->prefix_len + digits(p + w->prefix_len, k);
	int step = (int)(j % 4), kind, ok;
	char from[sizeof(w->path)];
	memcpy(p + len, step < 2 ? ".new" : ".ren", 5);
	len += 4;
	if (step == 2) {
		memcpy(from, p, len + 1);
		memcpy(from + len - 4, ".new", 4);
	}
	int64_t t0 = now_ns();
	switch (step) {
	case 0:
		w->fd = open(p, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		ok = w->fd >= 0;
		kind = K_FILE_CREATE;
		break;
	case 1:
		ok = w->fd >= 0 && write(w->fd, PAYLOAD, sizeof(PAYLOAD) - 1) >= 0;
		if (w->fd >= 0)
			ok = close(w->fd) == 0 && ok;
		w->fd = -1;
		kind = K_FILE_WRITE;
		break;
	case 2:
		ok = rename(from, p) == 0;
		kind = K_FILE_RENAME;
		break;
	default:
		ok = unlink(p) == 0;
		kind = K_FILE_DELETE;
	}
	int64_t t1 = now_ns();
	if (!ok) {
		w->errors++;
		return;
	}
	record(&r->led, w->slice, i, kind, 0, p, len, t_int, t0, t1);
}

static void thread_teardown(struct worker *w)
{
	if (w->fd >= 0)
		close(w->fd);
	w->fd = -1;
}

const struct workload file_workload = {
	.name = "file", .name_bytes = name_bytes, .rows_per_op = 1,
	.thread_setup = thread_setup, .op = op, .thread_teardown = thread_teardown,
};
