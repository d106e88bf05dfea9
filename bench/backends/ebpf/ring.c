/* ring.c: the C side of the consumer (libsbring.so), called from Python through ctypes.
 *
 * Why it exists: a Python callback per ring-buffer record costs about a microsecond. Here
 * libbpf's ring_buffer__poll hands each record to a C callback that copies it into two flat
 * buffers, fixed-size headers (struct sb_event) and NUL-separated path bytes, and stamps
 * when it took the record (t_seen), so Python decodes a whole batch with numpy and one
 * str.split. sb_run is the consumer's loop, in C so that a wake-up costs no Python: it
 * looks at the ring every period (records submitted without a wake-up are only found by
 * looking) or when the kernel wakes it, and hands the records it gathered to Python once
 * they have waited handoff_ms. sb_feed pushes synthetic records through the same callback
 * for the decode benchmark and the unit tests.
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
#include <sys/epoll.h>
#include <sys/mman.h>
#include <unistd.h>
#include <time.h>
#include <linux/types.h>
#include <linux/bpf.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "event.h"

struct sb_consumer {
	struct ring_buffer *rb;
	struct sb_event *meta; /* decoded headers, one per record */
	uint64_t *seen;        /* CLOCK_MONOTONIC ns when each record was taken off the ring */
	char *blob;            /* path bytes of path records, each followed by a NUL */
	size_t cap, n, blob_cap, blob_len;
	uint64_t bad;          /* records too short or with an impossible path length */
	uint64_t now;          /* when the last record was taken; 0: none since consume() began
			        * (each record gets its own stamp: libbpf keeps consuming while
			        * records arrive, so a stamp taken once per consume would come
			        * before some records were even written) */
	uint64_t wakeups;      /* times sb_run's wait returned (kernel wake-up or period) */
	uint64_t sleeps;       /* times sb_run stopped looking and asked to be woken */
	volatile uint32_t *asleep; /* the sensor's `consumer` map, mmapped (sb_adaptive) */
	int full;              /* the buffers cannot take another record: hand off now */
	volatile int stop;     /* set by sb_stop from another thread: sb_run returns */
};

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

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
	c->now = mono_ns(); /* vDSO: tens of ns */
	c->seen[c->n] = c->now;
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
	if (c->n >= c->cap || c->blob_cap - c->blob_len < SB_PATH_MAX + 1) {
		c->full = 1;
		return -ENOSPC;
	}
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
	c->seen = calloc(cap, sizeof(*c->seen));
	c->blob = malloc(c->blob_cap);
	if (!c->meta || !c->seen || !c->blob)
		goto fail;
	if (ringbuf_fd >= 0) {
		c->rb = ring_buffer__new(ringbuf_fd, on_sample, c, NULL);
		if (!c->rb)
			goto fail;
	}
	return c;
fail:
	free(c->meta);
	free(c->seen);
	free(c->blob);
	free(c);
	return NULL;
}

static void reset(struct sb_consumer *c)
{
	c->n = c->blob_len = 0;
	c->full = 0;
}

/* Take what the ring holds now, without waiting. Returns -errno on failure. */
static int consume(struct sb_consumer *c)
{
	int err;

	c->now = 0;
	err = ring_buffer__consume(c->rb);
	return err < 0 && err != -ENOSPC && err != -EINTR ? err : 0;
}

/* Take what the ring holds now (the drain at stop). Returns the number of records now in
 * the buffers, or -errno. */
long sb_poll(struct sb_consumer *c)
{
	int err;

	reset(c);
	err = consume(c);
	return err ? err : (long)c->n;
}

/* While asleep, sb_run still looks this often: for sb_stop, and for a record whose
 * program read `asleep` as 0 just before the consumer set it (never seen here). */
#define SLEEP_US 50000

static int wait_us(int epfd, long us)
{
	struct timespec t = {us / 1000000, (us % 1000000) * 1000};
	struct epoll_event ev;

	if (epoll_pwait2(epfd, &ev, 1, &t, NULL) < 0 && errno != EINTR)
		return -errno;
	return 0;
}

/* The consumer's loop. Wait for the kernel's wake-up, at most period_us, then take what
 * the ring holds (records submitted without a wake-up are only found by looking). The
 * wait is epoll_pwait2's, to the microsecond: libbpf's ring_buffer__poll takes whole
 * milliseconds, which epoll rounds up, so a 1 ms period became 1.5 ms. With sb_adaptive,
 * after idle_polls looks that found nothing the consumer sets `asleep` (the programs
 * then wake it with the next record), looks once more a period later for a record that
 * raced the flag, and sleeps: an idle sensor costs no wake-ups (each costs about 20 us of
 * CPU under a hypervisor). Without it (wakeup=event) it waits for the kernel's wake-up.
 * Returns once records have been held for handoff_ms, the buffers are full, or sb_stop
 * was called: the number of records in the buffers, or -errno. */
long sb_run(struct sb_consumer *c, int period_us, int handoff_ms, int idle_polls)
{
	uint64_t first = 0, hold = (uint64_t)handoff_ms * 1000000ull;
	int epfd = ring_buffer__epoll_fd(c->rb), err, empty = 0, grace = 0;
	long timeout = c->asleep ? period_us : SLEEP_US;

	reset(c);
	while (!c->stop && !c->full) {
		if ((err = wait_us(epfd, timeout)))
			return err;
		c->wakeups++;
		if ((err = consume(c)))
			return err;
		if (c->n && !first)
			first = c->seen[0];
		if (c->asleep) {
			if (c->now) {            /* found records: awake, looking every period */
				empty = grace = 0;
				*c->asleep = 0;
				timeout = period_us;
			} else if (grace) {      /* the last look after the flag: sleep */
				grace = 0;
				timeout = SLEEP_US;
			} else if (timeout == period_us && ++empty >= idle_polls) {
				*c->asleep = 1;
				__sync_synchronize(); /* the flag before the last look */
				c->sleeps++;
				grace = 1;
			}
		}
		if (first && mono_ns() - first >= hold)
			break;
	}
	return (long)c->n;
}

/* Sleep when idle (wakeup=threshold): map_fd is the sensor's `consumer` map. */
int sb_adaptive(struct sb_consumer *c, int map_fd)
{
	void *p = mmap(NULL, sysconf(_SC_PAGESIZE), PROT_READ | PROT_WRITE, MAP_SHARED,
		       map_fd, 0);

	if (p == MAP_FAILED)
		return -errno;
	c->asleep = p;
	*c->asleep = 0;
	return 0;
}

void sb_stop(struct sb_consumer *c) { c->stop = 1; }

/* Synthetic input: `buf` holds records as the ring carries them, each preceded by a u32
 * length and padded to 8 bytes. Stops when the buffers are full. Returns the number of
 * records now in the buffers; *used says how many bytes of buf were taken. */
long sb_feed(struct sb_consumer *c, const char *buf, size_t size, size_t *used)
{
	size_t off = 0;

	reset(c);
	c->now = 0;
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
void *sb_seen(struct sb_consumer *c) { return c->seen; }
void *sb_blob(struct sb_consumer *c) { return c->blob; }
uint64_t sb_wakeups(struct sb_consumer *c) { return c->wakeups; }
uint64_t sb_sleeps(struct sb_consumer *c) { return c->sleeps; }
size_t sb_blob_len(struct sb_consumer *c) { return c->blob_len; }
uint64_t sb_bad(struct sb_consumer *c) { return c->bad; }
size_t sb_event_size(void) { return sizeof(struct sb_event); }

void sb_close(struct sb_consumer *c)
{
	if (!c)
		return;
	ring_buffer__free(c->rb);
	if (c->asleep)
		munmap((void *)c->asleep, sysconf(_SC_PAGESIZE));
	free(c->meta);
	free(c->seen);
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
