/* fdread.c: the fd reader engine of libsbfd.so (see fdread.h for what it is for).
 *
 * Why it exists: the user-mode consumers used to read their fd from a Python thread and
 * decode every event in Python, while the eBPF consumer decodes in C (ring.c): the
 * kernel-vs-user comparison was then partly Python vs C. Here the whole loop, wait, read,
 * parse, runs in C with the GIL released (ctypes releases it for the call), and Python
 * takes a batch every handoff_ms at most.
 *
 * sbfd_run loops: wait (epoll) on the fd and the stop eventfd; read what the fd holds
 * (read(2) of 256 KiB for inotify and fanotify, recvmmsg of 256 datagrams for the proc
 * connector); parse. It returns when records are held and handoff_ms has passed since the
 * first of them was read, when the output is nearly full, when a record needs Python at
 * once (inotify: a new directory to watch), or when the stop eventfd fired and one last
 * drain found the fd empty (what was queued before the stop is late, not lost).
 *
 * A read is parsed segment by segment (the read buffer, or each datagram) and a parser
 * stops before a record the output cannot take, so a full output never loses or splits a
 * record: the next sbfd_run resumes exactly there before it reads again.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <poll.h>
#include <unistd.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include "fdread.h"

#define READ_SIZE (256 * 1024)
/* A read that left this much of its buffer unused took everything queued (the next event
 * would have fitted: inotify and fanotify fill a read with whole events), so the engine
 * polls again instead of reading once more just to get EAGAIN. */
#define READ_SLACK 4096
#define CN_SLOTS 256      /* datagrams per recvmmsg */
#define CN_SLOT 1024      /* bytes per datagram slot: a cn_proc message is under 100 */
#define AUDIT_SLOTS 256
#define AUDIT_SLOT 16384  /* an audit record is at most 8970 bytes; what parse.py's recv takes */
#define BLOB_CAP (1 << 20)

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* ---- output ------------------------------------------------------------------------ */

int sbfd_room(struct sbfd *r, size_t recs, size_t bytes)
{
	size_t want;
	char *p;

	if (r->n + recs > r->cap)
		return 0;
	if (r->blob_len + bytes <= r->blob_cap)
		return 1;
	if (r->n)
		return 0; /* hand the batch over first */
	/* An empty batch must take any single record (a long name in corrupt input). */
	want = bytes > BLOB_CAP ? bytes : BLOB_CAP;
	p = realloc(r->blob, want);
	if (!p)
		return 0; /* the caller sees ROOM on an empty batch: -ENOMEM */
	r->blob = p;
	r->blob_cap = want;
	return 1;
}

/* A record, its name still to be written at blob + blob_len (name_len bytes, then NUL). */
static char *put(struct sbfd *r, int kind, int64_t key, int64_t pid, int64_t t_seen,
		 int64_t t_kernel, int64_t aux, long name_len)
{
	struct sbfd_rec *o = &r->rec[r->n++];
	char *dst = r->blob + r->blob_len;

	o->key = key;
	o->pid = pid;
	o->t_seen = t_seen;
	o->t_kernel = t_kernel;
	o->aux = aux;
	o->name_len = (int32_t)name_len;
	o->kind = (int16_t)kind;
	o->pad = 0;
	if (name_len >= 0) {
		dst[name_len] = '\0';
		r->blob_len += name_len + 1;
		r->named++;
	}
	r->special += kind < 0;
	r->c.records++;
	return dst;
}

void sbfd_emit(struct sbfd *r, int kind, int64_t key, int64_t pid, int64_t t_seen,
	       int64_t t_kernel, int64_t aux, const char *name, long name_len)
{
	char *dst = put(r, kind, key, pid, t_seen, t_kernel, aux, name_len);

	if (name_len > 0)
		memcpy(dst, name, name_len);
}

void sbfd_emit_path(struct sbfd *r, int kind, int64_t key, int64_t pid, int64_t t_seen,
		    int64_t aux, size_t dir, const char *name, size_t name_len)
{
	size_t dlen = r->strs.slen[dir];
	char *dst = put(r, kind, key, pid, t_seen, -1, aux, (long)(dlen + 1 + name_len));

	memcpy(dst, r->strs.arena + r->strs.off[dir], dlen);
	dst[dlen] = '/';
	memcpy(dst + dlen + 1, name, name_len);
}

size_t sbfd_str_len(struct sbfd *r, size_t i) { return r->strs.slen[i]; }

/* ---- small tables -------------------------------------------------------------------- */

static uint64_t mix(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	return x;
}

static int map_resize(struct sbfd_map *m, size_t cap)
{
	struct sbfd_map old = *m;
	size_t i;

	m->keys = calloc(cap, sizeof(*m->keys));
	m->vals = calloc(cap, sizeof(*m->vals));
	m->state = calloc(cap, 1);
	if (!m->keys || !m->vals || !m->state) {
		free(m->keys);
		free(m->vals);
		free(m->state);
		*m = old;
		return -1;
	}
	m->cap = cap;
	m->used = m->filled = 0;
	for (i = 0; i < old.cap; i++)
		if (old.state[i] == 1)
			sbfd_map_put(m, old.keys[i], old.vals[i]);
	free(old.keys);
	free(old.vals);
	free(old.state);
	return 0;
}

/* Slot of `key`, or of the empty slot ending its probe (m->cap > 0, never full). */
static size_t map_find(const struct sbfd_map *m, uint64_t key)
{
	size_t mask = m->cap - 1, i = mix(key) & mask;

	while (m->state[i] && !(m->state[i] == 1 && m->keys[i] == key))
		i = (i + 1) & mask;
	return i;
}

/* The used slot holding `key`, or -1. */
static long map_slot(const struct sbfd_map *m, uint64_t key)
{
	size_t i;

	if (!m->cap)
		return -1;
	i = map_find(m, key);
	return m->state[i] == 1 ? (long)i : -1;
}

int sbfd_map_get(struct sbfd_map *m, uint64_t key, uint64_t *val)
{
	long i = map_slot(m, key);

	if (i < 0)
		return 0;
	if (val)
		*val = m->vals[i];
	return 1;
}

/* Returns 0, or -1 when out of memory. At most half the slots are ever filled (used or
 * deleted), so every probe ends at an empty slot. */
int sbfd_map_put(struct sbfd_map *m, uint64_t key, uint64_t val)
{
	size_t i;

	if ((m->filled + 1) * 2 > m->cap &&
	    map_resize(m, m->cap ? (m->used * 4 >= m->cap ? m->cap * 2 : m->cap) : 16))
		return -1;
	i = map_find(m, key);
	if (m->state[i] != 1) {
		m->used++;
		m->filled++;
		m->state[i] = 1;
		m->keys[i] = key;
	}
	m->vals[i] = val;
	return 0;
}

/* Returns whether the key was there. Its slot becomes a tombstone. */
int sbfd_map_del(struct sbfd_map *m, uint64_t key)
{
	long i = map_slot(m, key);

	if (i < 0)
		return 0;
	m->state[i] = 2;
	m->used--;
	return 1;
}

void sbfd_map_free(struct sbfd_map *m)
{
	free(m->keys);
	free(m->vals);
	free(m->state);
	memset(m, 0, sizeof(*m));
}

static uint64_t fnv1a(const char *p, uint32_t len)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	while (len--)
		h = (h ^ (uint8_t)*p++) * 0x100000001b3ULL;
	return h;
}

/* Index of a copy of p[0..len), or -1 when out of memory. */
long sbfd_str_add(struct sbfd_strs *s, const char *p, size_t len)
{
	if (s->n == s->ncap) {
		size_t nc = s->ncap ? s->ncap * 2 : 64;
		size_t *off = realloc(s->off, nc * sizeof(*off));
		uint32_t *sl;

		if (!off)
			return -1;
		s->off = off;
		sl = realloc(s->slen, nc * sizeof(*sl));
		if (!sl)
			return -1;
		s->slen = sl;
		s->ncap = nc;
	}
	if (s->len + len > s->cap) {
		size_t nc = s->cap ? s->cap * 2 : 16384;
		char *a;

		while (nc < s->len + len)
			nc *= 2;
		a = realloc(s->arena, nc);
		if (!a)
			return -1;
		s->arena = a;
		s->cap = nc;
	}
	memcpy(s->arena + s->len, p, len);
	s->off[s->n] = s->len;
	s->slen[s->n] = (uint32_t)len;
	s->len += len;
	return (long)s->n++;
}

void sbfd_strs_free(struct sbfd_strs *s)
{
	free(s->arena);
	free(s->off);
	free(s->slen);
	memset(s, 0, sizeof(*s));
}

/* Index of `key` in the table, added if new (*fresh = 1, its path -1); -1 when out of
 * memory. */
long sbfd_intern(struct sbfd_intern *t, const char *key, uint32_t len, int *fresh)
{
	struct sbfd_strs *k = &t->keys;
	size_t mask, i;
	long j;

	if ((k->n + 1) * 2 > t->nslots) { /* keep the index at most half full */
		size_t ns = t->nslots ? t->nslots * 2 : 64, m;
		int64_t *slots = calloc(ns, sizeof(*slots));

		if (!slots)
			return -1;
		for (m = 0; m < k->n; m++) {
			size_t h = fnv1a(k->arena + k->off[m], k->slen[m]) & (ns - 1);

			while (slots[h])
				h = (h + 1) & (ns - 1);
			slots[h] = (int64_t)m + 1;
		}
		free(t->slots);
		t->slots = slots;
		t->nslots = ns;
	}
	mask = t->nslots - 1;
	for (i = fnv1a(key, len) & mask; t->slots[i]; i = (i + 1) & mask) {
		size_t m = (size_t)t->slots[i] - 1;

		if (k->slen[m] == len && !memcmp(k->arena + k->off[m], key, len)) {
			*fresh = 0;
			return (long)m;
		}
	}
	if (k->n == t->pcap) {
		size_t nc = t->pcap ? t->pcap * 2 : 64;
		int64_t *pa = realloc(t->path, nc * sizeof(*pa));

		if (!pa)
			return -1;
		t->path = pa;
		t->pcap = nc;
	}
	j = sbfd_str_add(k, key, len);
	if (j < 0)
		return -1;
	t->path[j] = -1;
	t->slots[i] = (int64_t)j + 1;
	*fresh = 1;
	return j;
}

void sbfd_intern_free(struct sbfd_intern *t)
{
	sbfd_strs_free(&t->keys);
	free(t->path);
	free(t->slots);
	memset(t, 0, sizeof(*t));
}

/* ---- the engine ---------------------------------------------------------------------- */

static int parse(struct sbfd *r, const char *buf, size_t len, size_t *off, int64_t t)
{
	switch (r->mech) {
	case SBFD_INOTIFY:
		return sbfd_parse_inotify(r, buf, len, off, t);
	case SBFD_FANOTIFY:
		return sbfd_parse_fanotify(r, buf, len, off, t);
	case SBFD_AUDIT:
		return sbfd_parse_audit(r, buf, len, off, t);
	default:
		return sbfd_parse_cn_proc(r, buf, len, off, t);
	}
}

void sbfd_close(struct sbfd *r);

struct sbfd *sbfd_open(int mech, int fd, uint64_t opt, size_t cap)
{
	struct sbfd *r = calloc(1, sizeof(*r));
	/* datagram mechanisms: recvmmsg of `slots` datagrams, `slot` bytes each */
	unsigned slots = mech == SBFD_CN_PROC ? CN_SLOTS : mech == SBFD_AUDIT ? AUDIT_SLOTS : 0;
	size_t slot = mech == SBFD_AUDIT ? AUDIT_SLOT : CN_SLOT;
	size_t nseg = slots ? slots : 1;

	if (!r)
		return NULL;
	r->mech = mech;
	r->fd = fd;
	r->opt = opt;
	r->cap = cap < 16 ? 16 : cap; /* a record may emit up to 4 */
	r->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	r->epfd = r->mount_fd = -1;
	r->rec = calloc(r->cap, sizeof(*r->rec));
	r->blob_cap = BLOB_CAP;
	r->blob = malloc(r->blob_cap);
	r->rbuf_size = slots ? (size_t)slots * slot : READ_SIZE;
	r->slot = slot;
	r->rbuf = malloc(r->rbuf_size);
	r->seg_ptr = calloc(nseg, sizeof(*r->seg_ptr));
	r->seg_len = calloc(nseg, sizeof(*r->seg_len));
	if (r->stop_fd < 0 || !r->rec || !r->blob || !r->rbuf || !r->seg_ptr || !r->seg_len)
		goto fail;
	if (fd >= 0) {
		struct epoll_event ev = {.events = EPOLLIN};

		r->epfd = epoll_create1(EPOLL_CLOEXEC);
		if (r->epfd < 0)
			goto fail;
		ev.data.fd = fd;
		if (epoll_ctl(r->epfd, EPOLL_CTL_ADD, fd, &ev))
			goto fail;
		ev.data.fd = r->stop_fd;
		if (epoll_ctl(r->epfd, EPOLL_CTL_ADD, r->stop_fd, &ev))
			goto fail;
	}
	if (mech == SBFD_AUDIT && sbfd_audit_init(r))
		goto fail;
	if (slots) {
		unsigned i;

		r->vlen = slots;
		r->msgs = calloc(slots, sizeof(*r->msgs));
		r->iov = calloc(slots, sizeof(*r->iov));
		if (!r->msgs || !r->iov)
			goto fail;
		for (i = 0; i < slots; i++) {
			r->iov[i].iov_base = r->rbuf + (size_t)i * slot;
			r->iov[i].iov_len = slot;
			r->msgs[i].msg_hdr.msg_iov = &r->iov[i];
			r->msgs[i].msg_hdr.msg_iovlen = 1;
		}
	}
	return r;
fail:
	sbfd_close(r);
	return NULL;
}

/* One read of the fd into the segments. 0, or -errno (-EAGAIN: nothing there). */
static int read_fd(struct sbfd *r)
{
	size_t i;

	if (r->msgs) {
		int got = recvmmsg(r->fd, r->msgs, r->vlen, MSG_DONTWAIT, NULL);

		if (got < 0) {
			if (errno == EINTR)
				return 0;
			if (errno == ENOBUFS) { /* the kernel dropped messages: count, go on */
				r->c.enobufs++;
				r->more = 1;
				return 0;
			}
			return -errno;
		}
		r->read_t = now_ns();
		for (i = 0; i < (size_t)got; i++) {
			r->seg_ptr[i] = r->rbuf + i * r->slot;
			r->seg_len[i] = r->msgs[i].msg_len;
			r->c.read_bytes += r->msgs[i].msg_len;
			if (r->msgs[i].msg_hdr.msg_flags & MSG_TRUNC)
				r->c.truncated++;
		}
		r->nseg = got;
		r->c.messages += got;
		r->more = (unsigned)got == r->vlen;
	} else {
		ssize_t got = read(r->fd, r->rbuf, r->rbuf_size);

		if (got < 0)
			return errno == EINTR ? 0 : -errno;
		if (got == 0)
			return -EAGAIN;
		r->read_t = now_ns();
		r->seg_ptr[0] = r->rbuf;
		r->seg_len[0] = got;
		r->nseg = 1;
		r->c.read_bytes += got;
		r->more = (size_t)got > r->rbuf_size - READ_SLACK;
	}
	r->seg = r->seg_off = 0;
	r->c.reads++;
	return 0;
}

/* Parse what is left of the last read. */
static int parse_pending(struct sbfd *r)
{
	while (r->seg < r->nseg) {
		int st = parse(r, r->seg_ptr[r->seg], r->seg_len[r->seg], &r->seg_off, r->read_t);

		if (st != SBFD_DONE)
			return st;
		r->seg++;
		r->seg_off = 0;
	}
	return SBFD_DONE;
}

static void begin(struct sbfd *r)
{
	r->n = r->blob_len = r->named = r->special = 0;
}

/* The batch as Python reads it (struct sbfd_batch). */
static long handed(struct sbfd *r)
{
	if (r->n)
		r->c.handoffs++;
	r->out.n = r->n;
	r->out.named = r->named;
	r->out.special = r->special;
	r->out.blob_len = r->blob_len;
	r->out.rec = r->rec;
	r->out.blob = r->blob;
	return (long)r->n;
}

/* Read and parse until one of the reasons in fdread.h; *why says which. Returns the
 * number of records in the output, or -errno. */
long sbfd_run(struct sbfd *r, int handoff_ms, int *why)
{
	int64_t handoff = (int64_t)handoff_ms * 1000000, left = 0;

	if (r->epfd < 0)
		return -EBADF; /* a reader for sbfd_feed only */
	begin(r);
	*why = 0;
	for (;;) {
		int st = parse_pending(r), err;

		if (st != SBFD_DONE) {
			if (st == SBFD_ROOM && !r->n)
				return -ENOMEM; /* not even one record fits: a table could not grow */
			*why = st == SBFD_ROOM ? SBFD_FULL : SBFD_URGENT;
			return handed(r);
		}
		if (r->n && !r->stopping) {
			left = r->rec[0].t_seen + handoff - now_ns();
			if (left <= 0) {
				*why = SBFD_HANDOFF;
				return handed(r);
			}
		}
		if (!r->more) {
			struct epoll_event ev[2];
			int k, i;

			if (r->stopping) {
				/* audit: groups whose EOE never came, decoded at the end (Python's
				 * flush(everything=True)); a full output is handed over first */
				if (r->mech == SBFD_AUDIT &&
				    sbfd_audit_flush(r, now_ns(), 1) == SBFD_ROOM) {
					if (!r->n)
						return -ENOMEM;
					*why = SBFD_FULL;
					return handed(r);
				}
				*why = SBFD_STOPPED;
				return handed(r);
			}
			if (r->poll_ns && r->empty_looks < 2) {
				/* Looking (sbfd_set_poll): while data flows, a timed sleep that only
				 * the stop eventfd cuts short, then a look at the fd; after two empty
				 * looks, the epoll wait below until data comes again. A producer
				 * that sends record by record (kauditd) then wakes nobody: it only
				 * queues, and one look takes what a poll_ns gathered. */
				struct pollfd pf = {.fd = r->stop_fd, .events = POLLIN};
				int64_t nap = r->n && left < r->poll_ns ? left : r->poll_ns;
				struct timespec ts = {nap / 1000000000, nap % 1000000000};

				r->c.looks++;
				k = ppoll(&pf, 1, &ts, NULL);
				if (k < 0 && errno != EINTR)
					return -errno;
				if (k > 0) {
					uint64_t v;

					if (read(r->stop_fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
						return -errno;
					r->stopping = 1;
				}
				goto look;
			}
			/* epoll rather than poll: the wait-queue entries stay registered, so a
			 * wake-up costs one cheap syscall (this loop's main cost is its wake-ups) */
			k = epoll_wait(r->epfd, ev, 2, r->n ? (int)((left + 999999) / 1000000) : -1);
			r->c.wakeups += k > 0;
			if (k < 0) {
				if (errno == EINTR)
					continue;
				return -errno;
			}
			if (k == 0)
				continue; /* handoff time */
			for (i = 0; i < k; i++) {
				uint64_t v;

				if (ev[i].data.fd != r->stop_fd)
					continue;
				if (read(r->stop_fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
					return -errno;
				r->stopping = 1; /* one last drain, until EAGAIN */
			}
		}
look:
		err = read_fd(r);
		if (err == -EAGAIN || err == -EWOULDBLOCK) {
			r->more = 0;
			r->empty_looks++;
			continue;
		}
		if (err < 0)
			return err;
		r->empty_looks = 0;
		if (r->stopping)
			r->more = 1;
	}
}

/* Wake sbfd_run for its last drain (from any thread). */
int sbfd_stop(struct sbfd *r)
{
	uint64_t one = 1;

	return write(r->stop_fd, &one, sizeof(one)) < 0 ? -errno : 0;
}

/* The parser on given bytes, as if one read returned them (tests, benchmarks). The
 * records join those held (`keep`) or start a new batch; it stops as sbfd_run does (FULL,
 * URGENT: *why) and *used says how much of buf was taken. Returns the records held. */
long sbfd_feed(struct sbfd *r, const char *buf, size_t len, size_t *used, int *why, int keep)
{
	size_t off = 0;
	int st;

	if (!keep)
		begin(r);
	st = parse(r, buf, len, &off, now_ns());
	if (st == SBFD_ROOM && !r->n)
		return -ENOMEM;
	*why = st == SBFD_ROOM ? SBFD_FULL : st == SBFD_NOW ? SBFD_URGENT : 0;
	*used = off;
	return handed(r);
}

/* What the parser still holds, decoded now as at the end of a run (audit: the groups
 * whose EOE never came; `everything`: all of them, else the stale ones), for sbfd_feed's
 * users. Stops as sbfd_feed does (FULL: call again); `keep` as there. */
long sbfd_flush(struct sbfd *r, int everything, int *why, int keep)
{
	int st = SBFD_DONE;

	if (!keep)
		begin(r);
	if (r->mech == SBFD_AUDIT)
		st = sbfd_audit_flush(r, now_ns(), everything);
	if (st == SBFD_ROOM && !r->n)
		return -ENOMEM;
	*why = st == SBFD_ROOM ? SBFD_FULL : 0;
	return handed(r);
}

/* inotify: a wd Python watches (after inotify_add_watch) and its directory's path. */
int sbfd_watch(struct sbfd *r, int wd, const char *path, size_t len)
{
	long i = sbfd_str_add(&r->strs, path, len);

	if (i < 0 || sbfd_map_put(&r->wds, (uint32_t)wd, (uint64_t)i))
		return -ENOMEM;
	return 0;
}

/* Look at the fd every poll_ms while data flows instead of waking on each arrival
 * (0: wake on each arrival, the default). Set before sbfd_run. */
void sbfd_set_poll(struct sbfd *r, int poll_ms)
{
	r->poll_ns = (int64_t)poll_ms * 1000000;
}

/* fanotify: where directory handles are opened (the group's filesystem; borrowed). */
void sbfd_set_mount(struct sbfd *r, int fd) { r->mount_fd = fd; }

/* fanotify: a directory whose identity and path are known already (no lookup then). */
int sbfd_dir_known(struct sbfd *r, const char *key, size_t klen, const char *path,
		   size_t plen)
{
	int fresh;
	long i = sbfd_intern(&r->dirs, key, (uint32_t)klen, &fresh), p;

	if (i < 0)
		return -ENOMEM;
	p = sbfd_str_add(&r->strs, path, plen);
	if (p < 0)
		return -ENOMEM;
	r->dirs.path[i] = p;
	r->c.dirs = r->dirs.keys.n;
	return 0;
}

/* fanotify: the bytes of directory identity `i` (fsid + file_handle). */
long sbfd_dir_key(struct sbfd *r, size_t i, char *out, size_t cap)
{
	const struct sbfd_strs *k = &r->dirs.keys;

	if (i >= k->n)
		return -1;
	if (k->slen[i] > cap)
		return -(long)k->slen[i];
	memcpy(out, k->arena + k->off[i], k->slen[i]);
	return k->slen[i];
}

const struct sbfd_batch *sbfd_batch(struct sbfd *r) { return &r->out; }
size_t sbfd_rec_size(void) { return sizeof(struct sbfd_rec); }
const struct sbfd_counters *sbfd_counters(struct sbfd *r) { return &r->c; }
int sbfd_abi(void) { return SBFD_ABI; }

const char *sbfd_counter_names(void)
{
#define SBFD_NAME(name) #name ","
	return SBFD_COUNTERS(SBFD_NAME);
#undef SBFD_NAME
}

/* Frees the reader; the fd it read stays open (its owner closes it). */
void sbfd_close(struct sbfd *r)
{
	if (!r)
		return;
	if (r->stop_fd >= 0)
		close(r->stop_fd);
	if (r->epfd >= 0)
		close(r->epfd);
	free(r->rec);
	free(r->blob);
	free(r->rbuf);
	free(r->seg_ptr);
	free(r->seg_len);
	free(r->msgs);
	free(r->iov);
	sbfd_map_free(&r->wds);
	sbfd_map_free(&r->seqs);
	sbfd_audit_free(r);
	sbfd_intern_free(&r->dirs);
	sbfd_strs_free(&r->strs);
	free(r);
}
