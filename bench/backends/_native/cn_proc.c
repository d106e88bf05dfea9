/* cn_proc.c: the proc connector parser of libsbfd.so, message for message what
 * bench/backends/proc_connector/parse.py's Decoder (and _netlink.split) does: same events,
 * same counters.
 *
 * A datagram holds netlink messages (nlmsghdr: len, type, flags, seq, pid; padded to 4
 * bytes); each carries a cn_msg (idx, val, seq, ack, len, flags) and a proc_event (what,
 * cpu, timestamp_ns, then a union by `what`). The kernel numbers messages per CPU, so a
 * gap in one CPU's cn_msg.seq counts lost messages exactly (`lost`). Thread fork/exit
 * (pid != tgid) are counted and left out. With SBFD_OPT_ARGV an exec's record carries
 * /proc/PID/cmdline read here at once (NULs between arguments become spaces), as the
 * Python backend's argv=1 does.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include "fdread.h"

#define NLMSG_HDR 16
#define NLMSG_NOOP 1
#define NLMSG_ERROR 2
#define NLMSG_OVERRUN 4
#define CN_MSG 20
#define EV_HDR 16
#define BODY (CN_MSG + EV_HDR)
#define CN_IDX_PROC 1
#define CN_VAL_PROC 1
#define PROC_EVENT_FORK 0x00000001u
#define PROC_EVENT_EXEC 0x00000002u
#define PROC_EVENT_EXIT 0x80000000u
#define ARGV_MAX 4096

static uint32_t u32(const char *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return v;
}

/* The per-CPU sequence check. -1 when the table cannot grow (nothing counted then). */
static int seq_seen(struct sbfd *r, uint32_t cpu, uint32_t seq)
{
	uint64_t expect;
	int known = sbfd_map_get(&r->seqs, cpu, &expect);

	if (sbfd_map_put(&r->seqs, cpu, (uint64_t)seq + 1))
		return -1;
	/* A seq below the expected one (wrap, or a second listener's replay) just resyncs. */
	if (known && seq > expect)
		r->c.lost += seq - expect;
	return 0;
}

/* /proc/PID/cmdline with NULs as spaces, trailing NULs dropped; its length, or -1. */
static long cmdline(uint32_t pid, char *out)
{
	char path[32];
	size_t got = 0;
	long i;
	int fd;

	snprintf(path, sizeof(path), "/proc/%u/cmdline", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	while (got < ARGV_MAX) {
		ssize_t k = read(fd, out + got, ARGV_MAX - got);

		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0) {
			close(fd);
			return -1;
		}
		if (k == 0)
			break;
		got += k;
	}
	close(fd);
	while (got && out[got - 1] == '\0')
		got--;
	for (i = 0; i < (long)got; i++)
		if (out[i] == '\0')
			out[i] = ' ';
	return got ? (long)got : -1;
}

/* One message's payload p (n bytes). */
static int one(struct sbfd *r, const char *p, size_t n, int64_t t)
{
	uint32_t seq, what, cpu, a, b, c, d;
	uint16_t length;
	uint64_t ts;
	size_t room;
	int argv = r->opt & SBFD_OPT_ARGV;

	/* Room first, for the largest record a message can give, before anything is counted:
	 * a message that does not fit is parsed again after the handoff. */
	if (!sbfd_room(r, 1, argv ? ARGV_MAX + 1 : 0))
		return SBFD_ROOM;
	if (n < CN_MSG + EV_HDR) {
		r->c.parse_errors++;
		return SBFD_DONE;
	}
	seq = u32(p + 8);
	memcpy(&length, p + 16, 2);
	if (u32(p) != CN_IDX_PROC || u32(p + 4) != CN_VAL_PROC || CN_MSG + (size_t)length > n ||
	    length < EV_HDR) {
		r->c.parse_errors++;
		return SBFD_DONE;
	}
	what = u32(p + CN_MSG);
	cpu = u32(p + CN_MSG + 4);
	memcpy(&ts, p + CN_MSG + 8, 8);
	room = CN_MSG + (size_t)length - BODY;
	if (what == PROC_EVENT_FORK || what == PROC_EVENT_EXEC || what == PROC_EVENT_EXIT) {
		size_t need = what == PROC_EVENT_EXEC ? 8 : 16;

		if (room < need) {
			r->c.parse_errors++;
			return SBFD_DONE;
		}
		if (seq_seen(r, cpu, seq))
			return SBFD_ROOM;
		a = u32(p + BODY);
		b = u32(p + BODY + 4);
		c = need == 16 ? u32(p + BODY + 8) : 0;
		d = need == 16 ? u32(p + BODY + 12) : 0;
	} else {
		/* PROC_EVENT_NONE is the (cpu = -1) ack of a subscription: no seq */
		if (what != 0 && seq_seen(r, cpu, seq))
			return SBFD_ROOM;
		r->c.other++;
		return SBFD_DONE;
	}
	if (what == PROC_EVENT_FORK) { /* parent pid, parent tgid, child pid, child tgid */
		if (c != d)
			r->c.threads++;
		else
			sbfd_emit(r, 5 /* proc_fork */, d, d, t, (int64_t)ts, b, NULL, -1);
	} else if (what == PROC_EVENT_EXEC) { /* pid, tgid */
		char args[ARGV_MAX];
		long alen = argv ? cmdline(b, args) : -1;

		if (argv && alen < 0)
			r->c.argv_misses++;
		sbfd_emit(r, 6 /* proc_exec */, b, b, t, (int64_t)ts, a, args, alen);
	} else { /* pid, tgid, exit_code, exit_signal */
		if (a != b)
			r->c.threads++;
		else
			sbfd_emit(r, 7 /* proc_exit */, b, b, t, (int64_t)ts, c, NULL, -1);
	}
	return SBFD_DONE;
}

int sbfd_parse_cn_proc(struct sbfd *r, const char *buf, size_t n, size_t *offp, int64_t t)
{
	size_t off = *offp;

	while (off < n) {
		uint32_t len;
		uint16_t type;

		if (n - off < NLMSG_HDR) {
			r->c.parse_errors++; /* nothing after a torn header can be framed */
			off = n;
			break;
		}
		len = u32(buf + off);
		memcpy(&type, buf + off + 4, 2);
		if (len < NLMSG_HDR || len > n - off) {
			r->c.parse_errors++;
			off = n;
			break;
		}
		if (type != NLMSG_NOOP && type != NLMSG_ERROR && type != NLMSG_OVERRUN &&
		    one(r, buf + off + NLMSG_HDR, len - NLMSG_HDR, t) == SBFD_ROOM)
			break;
		off += (len + 3) & ~3u;
	}
	if (off > n)
		off = n;
	*offp = off;
	return off < n ? SBFD_ROOM : SBFD_DONE;
}
