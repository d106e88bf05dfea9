/* The native ledger: rows in a memfd the harness created and passed us, mapped shared.
 *
 * Layout (the summary's "ledger" object says it to the harness, bench/core/native_ledger.py):
 * slice s's rows (struct row, 48 bytes) at s * cap * 48, then from names_off slice s's
 * paths, name_bytes each (zero-padded), at names_off + s * cap * name_bytes. Pages are
 * allocated as rows are written (a memfd is sparse), so a generous cap costs nothing. It
 * lives in memory only: nothing goes to a disk during the cell, and nothing outlives the
 * last process holding the memfd.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "sb-load.h"

#define PAGE 4096UL
#define ROUND(x) (((x) + PAGE - 1) & ~(PAGE - 1))

int ledger_open(struct ledger *l, int fd, int nslices, int64_t cap, size_t name_bytes,
		int tap_fd)
{
	memset(l, 0, sizeof(*l));
	l->fd = fd;
	l->cap = cap;
	l->nslices = nslices;
	l->name_bytes = name_bytes;
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
