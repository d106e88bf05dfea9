/* The native ledger: rows in a memfd the harness created and passed us, mapped shared.
 *
 * Layout (the summary's "ledger" object says it to the harness, bench/core/native_ledger.py):
 * slice s's rows (struct row, 48 bytes) at s * cap * 48, then from names_off slice s's
 * file names, name_bytes each (zero-padded; the path without the directory, which the
 * summary gives once as "path_prefix"), at names_off + s * cap * name_bytes. A memfd is
 * sparse: memory is taken as rows are written, so a generous cap costs nothing. It lives
 * in memory only: nothing goes to a disk during the cell, and nothing outlives the last
 * process holding the memfd.
 *
 * Taking a page of memory (zeroing it, and on a VM whatever the hypervisor does on first
 * touch) costs far more than the rows written into it: ledger_prefault takes what an
 * open-loop schedule will need before the schedule starts. A closed loop's need is not
 * known: its rows take their pages as they go, inside the measured run.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "sb-load.h"

#define PAGE 4096UL
#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif
#define ROUND(x) (((x) + PAGE - 1) & ~(PAGE - 1))

int ledger_open(struct ledger *l, int fd, int nslices, int64_t cap, size_t name_bytes,
		size_t name_skip, int tap_fd)
{
	memset(l, 0, sizeof(*l));
	l->fd = fd;
	l->cap = cap;
	l->nslices = nslices;
	l->name_bytes = name_bytes;
	l->name_skip = name_skip;
	l->tap_fd = tap_fd;
	size_t rows = ROUND((size_t)nslices * (size_t)cap * sizeof(struct row));
	l->names_off = rows;
	l->size = rows + ROUND((size_t)nslices * (size_t)cap * name_bytes);
	if (ftruncate(fd, (off_t)l->size) != 0)
		return -1;
	l->base = mmap(NULL, l->size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (l->base == MAP_FAILED)
		return -1;
	for (int s = 0; s < nslices; s++) {
		struct slice *sl = &l->slices[s];
		sl->rows = (struct row *)(l->base + (size_t)s * cap * sizeof(struct row));
		sl->names = name_bytes ? l->base + l->names_off + (size_t)s * cap * name_bytes : NULL;
		sl->cap = cap;
	}
	return 0;
}

static void populate(char *start, size_t len)
{
	char *from = (char *)((uintptr_t)start & ~(PAGE - 1));
	len = ROUND(len + (size_t)(start - from));
	if (len == 0 || madvise(from, len, MADV_POPULATE_WRITE) == 0)
		return;
	for (size_t off = 0; off < len; off += PAGE) /* before Linux 5.14: touch each page */
		((volatile char *)from)[off] = 0;
}

void ledger_prefault(struct ledger *l, int64_t rows)
{
	if (rows > l->cap)
		rows = l->cap;
	for (int s = 0; s < l->nslices; s++) {
		populate((char *)l->slices[s].rows, (size_t)rows * sizeof(struct row));
		if (l->slices[s].names)
			populate(l->slices[s].names, (size_t)rows * l->name_bytes);
	}
}

/* bench/core/ledger.py's TAP_HEADER ("<BIqq": kind, op, key, t_issue), then the path. */
void ledger_tap(struct ledger *l, int64_t op, int kind, int64_t key, int64_t t_issue,
		const char *path, size_t plen)
{
	char msg[21 + 4096 + 128];
	uint8_t k = (uint8_t)kind;
	uint32_t o = (uint32_t)op;
	memcpy(msg, &k, 1);
	memcpy(msg + 1, &o, 4);
	memcpy(msg + 5, &key, 8);
	memcpy(msg + 13, &t_issue, 8);
	size_t len = 21;
	if (path && plen && plen <= sizeof(msg) - 21) {
		memcpy(msg + 21, path, plen);
		len += plen;
	}
	/* Blocking, as the Python ledger's send: the calibration sensor reads as it goes. */
	while (send(l->tap_fd, msg, len, 0) < 0) {
		if (errno == EINTR)
			continue;
		atomic_fetch_add(&l->tap_errors, 1); /* the sensor went away; the ledger goes on */
		break;
	}
}
