/* ring.c: the C side of the consumer (libsbring.so), called from Python through ctypes.
 *
 * Why it exists: a Python callback per ring-buffer record costs about a microsecond. Here
 * libbpf's ring_buffer__poll hands each record to a C callback that copies it into two flat
 * buffers, fixed-size headers (struct sb_event) and NUL-separated path bytes, so Python
 * decodes a whole batch with numpy and one str.split. sb_feed pushes synthetic records
 * through the same callback for the decode benchmark and the unit tests.
 *
 * Also here: bpf_prog_info run-time stats (struct layout from the uapi header, not
 * re-typed in Python) and a libbpf print hook that writes libbpf's messages, including
 * the verifier log when a load fails, to a file.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/types.h>
#include <linux/bpf.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "event.h"

struct sb_consumer {
	struct ring_buffer *rb;
	struct sb_event *meta; /* decoded headers, one per record */
	char *blob;            /* path bytes of path records, each followed by a NUL */
	size_t cap, n, blob_cap, blob_len;
	uint64_t bad;          /* records too short or with an impossible path length */
};

/* Store one record; returns -ENOSPC once the buffers cannot take another full record, which
 * stops libbpf after this record (it is stored, never lost) until Python empties them. */
static int on_sample(void *ctx, void *data, size_t size)
{
	struct sb_consumer *c = ctx;
	const struct sb_event *h = data;
	struct sb_event *m;
	size_t len;

	if (size < sizeof(*h)) {
		c->bad++;
		return 0;
	}
	m = &c->meta[c->n++];
	*m = *h;
	len = h->path_len;
	if (len) {
		char *dst = c->blob + c->blob_len, *p;

		if (len > size - sizeof(*h) || len > SB_PATH_MAX) {
			c->bad++;
			len = size - sizeof(*h) < SB_PATH_MAX ? size - sizeof(*h) : SB_PATH_MAX;
		}
		memcpy(dst, (const char *)data + sizeof(*h), len);
		/* argv arrives NUL-separated and may end in NULs: trim, then NUL -> space, so
		 * that the NUL stays the one record separator in the blob. */
		while (len && dst[len - 1] == '\0')
			len--;
		for (p = memchr(dst, '\0', len); p; p = memchr(p, '\0', dst + len - p))
			*p = ' ';
		dst[len] = '\0';
		c->blob_len += len + 1;
		m->path_len = len ? len : 0xffff; /* 0xffff: a path record with an empty path */
	}
	if (c->n >= c->cap || c->blob_cap - c->blob_len < SB_PATH_MAX + 1)
		return -ENOSPC;
	return 0;
}

struct sb_consumer *sb_open(int ringbuf_fd, size_t cap)
{
	struct sb_consumer *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->cap = cap;
	c->blob_cap = cap * 64 + SB_PATH_MAX + 1;
	c->meta = calloc(cap, sizeof(*c->meta));
	c->blob = malloc(c->blob_cap);
	if (!c->meta || !c->blob)
		goto fail;
	if (ringbuf_fd >= 0) {
		c->rb = ring_buffer__new(ringbuf_fd, on_sample, c, NULL);
		if (!c->rb)
			goto fail;
	}
	return c;
fail:
	free(c->meta);
	free(c->blob);
	free(c);
	return NULL;
}

/* Wait up to timeout_ms for records, take what is there (up to the buffers' size).
 * Returns the number of records now in the buffers, or -errno. */
long sb_poll(struct sb_consumer *c, int timeout_ms)
{
	int err;

	c->n = c->blob_len = 0;
	err = timeout_ms ? ring_buffer__poll(c->rb, timeout_ms) : 0;
	/* A timeout consumes nothing in libbpf; records submitted without a wakeup
	 * (wakeup_kb > 0) are only found by looking. */
	if (err == 0 && c->n == 0)
		err = ring_buffer__consume(c->rb);
	if (err < 0 && err != -ENOSPC && err != -EINTR)
		return err;
	return (long)c->n;
}

/* Synthetic input: `buf` holds records as the ring carries them, each preceded by a u32
 * length and padded to 8 bytes. Stops when the buffers are full. Returns the number of
 * records now in the buffers; *used says how many bytes of buf were taken. */
long sb_feed(struct sb_consumer *c, const char *buf, size_t size, size_t *used)
{
	size_t off = 0;

	c->n = c->blob_len = 0;
	while (off + 8 <= size) {
		uint32_t len, padded;

		memcpy(&len, buf + off, 4);
		padded = (len + 7) & ~7u;
		if (off + 8 + padded > size)
			break;
		off += 8 + padded;
		if (on_sample(c, (void *)(buf + off - padded), len) == -ENOSPC)
			break;
	}
	*used = off;
	return (long)c->n;
}

void *sb_meta(struct sb_consumer *c) { return c->meta; }
void *sb_blob(struct sb_consumer *c) { return c->blob; }
size_t sb_blob_len(struct sb_consumer *c) { return c->blob_len; }
uint64_t sb_bad(struct sb_consumer *c) { return c->bad; }
size_t sb_event_size(void) { return sizeof(struct sb_event); }

void sb_close(struct sb_consumer *c)
{
	if (!c)
		return;
	ring_buffer__free(c->rb);
	free(c->meta);
	free(c->blob);
	free(c);
}

/* run_time_ns, run_cnt, recursion_misses of one program (needs bpf_enable_stats). */
int sb_prog_stats(int prog_fd, uint64_t out[3])
{
	struct bpf_prog_info info;
	__u32 len = sizeof(info);
	int err;

	memset(&info, 0, sizeof(info));
	err = bpf_obj_get_info_by_fd(prog_fd, &info, &len);
	if (err)
		return err;
	out[0] = info.run_time_ns;
	out[1] = info.run_cnt;
	out[2] = info.recursion_misses;
	return 0;
}

static FILE *log_file;

static int print_to_file(enum libbpf_print_level level, const char *fmt, va_list args)
{
	if (!log_file || level == LIBBPF_DEBUG)
		return 0;
	return vfprintf(log_file, fmt, args);
}

/* Send libbpf's warnings (verifier log included) to `path`; NULL closes the file. */
int sb_log_to(const char *path)
{
	if (log_file) {
		fclose(log_file);
		log_file = NULL;
	}
	if (path) {
		log_file = fopen(path, "a");
		if (!log_file)
			return -errno;
		setvbuf(log_file, NULL, _IOLBF, 0);
	}
	libbpf_set_print(print_to_file);
	return 0;
}
