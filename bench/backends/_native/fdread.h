/* fdread.h: the fd reader engine (fdread.c) and the parsers it runs (inotify.c, fanotify.c,
 * cn_proc.c, audit.c), built together into libsbfd.so and called from Python through ctypes
 * (bench/backends/_batch.py).
 *
 * The engine waits on one kernel queue fd (an inotify instance, a fanotify group, a proc
 * connector socket) and a stop eventfd, reads what the fd holds with large buffers, stamps
 * t_seen once per read call and parses every record into flat buffers: fixed-size rows
 * (struct sbfd_rec, one numpy structured array in Python) and the names NUL-separated in
 * one blob, as ring.c does for the eBPF sensor. Python gets those only now and then (a
 * handoff), so nothing is done per event in Python but build path strings.
 *
 * Each parser mirrors its Python reference (bench/backends/<mech>/parse.py) exactly:
 * same events, same counters, on any input, and never a read outside the buffer.
 */
#ifndef SBFD_FDREAD_H
#define SBFD_FDREAD_H

#include <stddef.h>
#include <stdint.h>

/* Bumped whenever a signature or a column changes: _batch.py refuses another build. */
#define SBFD_ABI 4

enum sbfd_mech { SBFD_INOTIFY = 1, SBFD_FANOTIFY = 2, SBFD_CN_PROC = 3, SBFD_AUDIT = 4 };

/* Why sbfd_run returned (bits). */
#define SBFD_HANDOFF 1   /* records held for handoff_ms */
#define SBFD_FULL 2      /* the output buffers are nearly full */
#define SBFD_URGENT 4    /* the last record needs Python now (a directory to watch) */
#define SBFD_STOPPED 8   /* the stop eventfd fired and the fd is drained */

/* What a parser returns. */
#define SBFD_DONE 0      /* the buffer is consumed (or the rest of it cannot be framed) */
#define SBFD_ROOM 1      /* stopped before a record the output has no room for */
#define SBFD_NOW 2       /* stopped right after a record Python must act on at once */

/* Records that are not events: negative kinds, never one of bench.core.kinds.Kind. */
#define SBFD_NEW_DIR (-1) /* inotify: a directory created or moved in under wd `aux` */
#define SBFD_WD_GONE (-2) /* inotify: IN_IGNORED, the kernel dropped watch `aux` */
#define SBFD_AUDIT_ACCEPT (-3)  /* audit: an accept; key = client port, aux = listening fd */
#define SBFD_AUDIT_CONFIG (-4)  /* audit: a CONFIG_CHANGE datagram (name: hex) */
#define SBFD_AUDIT_BAD (-5)     /* audit: an undecodable datagram, one of the first 3 (hex) */
#define SBFD_AUDIT_HEXNAME (-6) /* audit: event `aux` whose name (hex) holds a NUL */

/* mech options (sbfd_open's `opt`) */
#define SBFD_OPT_FAN_MODIFY 1 /* fanotify: FAN_MODIFY, not FAN_CLOSE_WRITE, is file_write */
#define SBFD_OPT_ARGV 1       /* cn_proc: read /proc/PID/cmdline on exec */

/* One record of the output, as _batch.py's REC dtype reads it (48 bytes). */
struct sbfd_rec {
	int64_t key;      /* pid (cn_proc, audit), port pair (audit); 0 for file events */
	int64_t pid;
	int64_t t_seen;   /* CLOCK_MONOTONIC ns, once per read call */
	int64_t t_kernel; /* cn_proc's timestamp_ns; audit: wall-clock ns (unsigned); else -1 */
	int64_t aux;      /* inotify: wd; fanotify: directory index; cn_proc: tid / exit code;
			   * audit: an accept's listening fd, a HEXNAME's kind */
	int32_t name_len; /* -1: no name; else its bytes in the blob (followed by a NUL) */
	int16_t kind;     /* bench.core.kinds.Kind, or one of the negative SBFD_* above */
	int16_t pad;
};

/* What Python reads of a batch after sbfd_run / sbfd_feed returned, without a call. */
struct sbfd_batch {
	uint64_t n;       /* records */
	uint64_t named;   /* records with a name */
	uint64_t special; /* records that are not events (kind < 0) */
	uint64_t blob_len;
	const struct sbfd_rec *rec;
	const char *blob; /* names, each followed by a NUL; moves when it grows */
};

/* The counters, kept in C and read by Python by name (sbfd_counter_names gives the order). */
#define SBFD_COUNTERS(X)                                                                 \
	X(reads)          /* read/recvmmsg calls that returned data */                  \
	X(read_bytes)     /* bytes they returned */                                     \
	X(records)        /* records emitted (events and the special records) */       \
	X(parse_errors)   /* what the Python decoder counts as parse_errors */          \
	X(overflows)      /* IN_Q_OVERFLOW / FAN_Q_OVERFLOW notifications */            \
	X(unknown_wd)     /* inotify: events of a wd we do not watch */                 \
	X(new_dirs)       /* inotify: directories handed to Python to watch */          \
	X(skipped)        /* fanotify: well-formed events not reported (ONDIR, ...) */  \
	X(dirs)           /* fanotify: distinct directory handles interned */           \
	X(dir_lookups)    /* fanotify: handles resolved (open_by_handle_at) */          \
	X(dir_failed)     /* fanotify: handles that did not resolve (dir gone) */       \
	X(unresolved)     /* fanotify: events left out, their directory unresolved */   \
	X(lost)           /* cn_proc: gaps in the per-CPU sequence numbers */           \
	X(enobufs)        /* cn_proc: ENOBUFS from the socket (the kernel dropped) */   \
	X(messages)       /* cn_proc: datagrams received */                             \
	X(truncated)      /* cn_proc: datagrams longer than a receive slot */           \
	X(threads)        /* cn_proc: fork/exit of threads, not processes */            \
	X(other)          /* cn_proc: well-formed events of other types */              \
	X(argv_misses)    /* cn_proc argv: /proc/PID/cmdline gone or empty */           \
	X(audit_records)  /* audit: datagrams parsed (the Assembler's `records`) */    \
	X(incomplete)     /* audit: groups decoded without EOE, or without SYSCALL */  \
	X(other_records)  /* audit: records of no syscall event (replies, config) */   \
	X(unkeyed)        /* audit: connects/accepts without a readable SOCKADDR */    \
	X(wakeups)        /* epoll_wait returns: the fd became readable (or stop) */     \
	X(looks)          /* sbfd_set_poll: timed sleeps before a look at the fd */     \
	X(handoffs)       /* sbfd_run / sbfd_feed returns with records */

struct sbfd_counters {
#define SBFD_FIELD(name) uint64_t name;
	SBFD_COUNTERS(SBFD_FIELD)
#undef SBFD_FIELD
};

/* A growable open-addressing map u64 -> u64 (inotify: the watched wds; cn_proc: the next
 * sequence number per CPU). */
struct sbfd_map {
	uint64_t *keys, *vals;
	uint8_t *state; /* 0 empty, 1 used, 2 deleted */
	size_t cap, used, filled;
};

/* Strings kept for the reader's life (directory paths), by index. */
struct sbfd_strs {
	char *arena;
	size_t len, cap;
	size_t *off;
	uint32_t *slen;
	size_t n, ncap;
};

/* fanotify: each distinct directory identity (fsid + file handle) gets an index (of
 * `keys`), and the index a path (a string of the reader's sbfd_strs) or -1 when it did
 * not resolve. */
struct sbfd_intern {
	struct sbfd_strs keys;
	int64_t *path;
	size_t pcap;
	int64_t *slots;       /* hash index: key index + 1, 0 = empty */
	size_t nslots;
};

struct sbfd {
	int mech, fd, stop_fd, epfd;
	int mount_fd;         /* fanotify: where handles are opened (-1: none, all unresolved) */
	uint64_t opt;

	/* output: one batch of records */
	size_t cap, n;
	struct sbfd_rec *rec;
	char *blob;
	size_t blob_len, blob_cap;
	struct sbfd_batch out; /* filled when a batch is handed over */
	uint64_t named, special;

	/* the last read, parsed segment by segment (one for read(2), one per datagram for
	 * recvmmsg), so that a full output resumes exactly where it stopped */
	char *rbuf;
	size_t rbuf_size;
	struct mmsghdr *msgs; /* cn_proc */
	struct iovec *iov;
	unsigned vlen;
	size_t nseg, seg, seg_off;
	const char **seg_ptr;
	size_t *seg_len;
	int64_t read_t;       /* t_seen of the last read */
	int more;             /* the last read filled its buffer: the fd may hold more */
	int stopping;         /* the stop eventfd fired: drain, then return STOPPED */
	int64_t poll_ns;      /* > 0: look every poll_ns while data flows (sbfd_set_poll) */
	int empty_looks;      /* looks in a row that found nothing */

	struct sbfd_counters c;
	struct sbfd_strs strs; /* directory paths */
	struct sbfd_map wds;  /* inotify: wd -> its directory's path (a string index) */
	struct sbfd_intern dirs; /* fanotify */
	struct sbfd_map seqs; /* cn_proc */
	struct sbfd_audit *audit; /* audit: open groups by serial, syscall classes (audit.c) */
	size_t slot;          /* recvmmsg: bytes per datagram slot */
};

/* Output helpers for the parsers (fdread.c). sbfd_room: whether `recs` records with
 * `bytes` of names fit now; when the batch is empty it always makes room. */
int sbfd_room(struct sbfd *r, size_t recs, size_t bytes);
void sbfd_emit(struct sbfd *r, int kind, int64_t key, int64_t pid, int64_t t_seen,
	       int64_t t_kernel, int64_t aux, const char *name, long name_len);
/* The same with the name written as dir "/" name (dir: string `dir` of r->strs). */
void sbfd_emit_path(struct sbfd *r, int kind, int64_t key, int64_t pid, int64_t t_seen,
		    int64_t aux, size_t dir, const char *name, size_t name_len);
size_t sbfd_str_len(struct sbfd *r, size_t i);

int sbfd_map_get(struct sbfd_map *m, uint64_t key, uint64_t *val);
int sbfd_map_put(struct sbfd_map *m, uint64_t key, uint64_t val);
int sbfd_map_del(struct sbfd_map *m, uint64_t key);
void sbfd_map_free(struct sbfd_map *m);

long sbfd_str_add(struct sbfd_strs *s, const char *p, size_t len);
void sbfd_strs_free(struct sbfd_strs *s);

long sbfd_intern(struct sbfd_intern *t, const char *key, uint32_t len, int *fresh);
void sbfd_intern_free(struct sbfd_intern *t);

/* The parsers: records from buf[*off..len) into r's output, t = the read's t_seen. */
int sbfd_parse_inotify(struct sbfd *r, const char *buf, size_t len, size_t *off, int64_t t);
int sbfd_parse_fanotify(struct sbfd *r, const char *buf, size_t len, size_t *off, int64_t t);
int sbfd_parse_cn_proc(struct sbfd *r, const char *buf, size_t len, size_t *off, int64_t t);
int sbfd_parse_audit(struct sbfd *r, const char *buf, size_t len, size_t *off, int64_t t);

/* audit: its state, and the groups it holds decoded (stale ones, or all at stop). */
int sbfd_audit_init(struct sbfd *r);
void sbfd_audit_free(struct sbfd *r);
int sbfd_audit_flush(struct sbfd *r, int64_t t, int everything);

#endif
