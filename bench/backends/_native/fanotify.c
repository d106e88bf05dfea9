/* fanotify.c: the parser of a FAN_REPORT_DFID_NAME group's reads in libsbfd.so, record for
 * record what bench/backends/fanotify/parse.py's Decoder does (same events, same counters).
 *
 * Each event is a 24-byte fanotify_event_metadata (event_len, vers, reserved,
 * metadata_len, mask, fd, pid) and info records (info_type, pad, len); the DFID_NAME one
 * holds the fsid (8), a file_handle of the directory (handle_bytes, handle_type, f_handle)
 * and the entry's NUL-terminated name. The directory identity (fsid + file_handle) is
 * interned: each distinct one gets an index (events carry it in aux) and is resolved to a
 * path once, the first time it is seen, as the Python reference's DirResolver does:
 * open_by_handle_at(O_PATH) on the marked filesystem and the /proc/self/fd link. Events
 * come out with their full path (directory "/" name); those whose directory did not
 * resolve (gone already) are counted in `unresolved` and left out, as there. A merged
 * event (several mask bits) yields one event per bit we report.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "fdread.h"

#define META 24
#define FANOTIFY_METADATA_VERSION 3
#define FAN_MODIFY 0x00000002ULL
#define FAN_CLOSE_WRITE 0x00000008ULL
#define FAN_MOVED_TO 0x00000080ULL
#define FAN_CREATE 0x00000100ULL
#define FAN_DELETE 0x00000200ULL
#define FAN_Q_OVERFLOW 0x00004000ULL
#define FAN_ONDIR 0x40000000ULL
#define INFO_DFID_NAME 2
#define MAX_HANDLE_SZ 128

/* The path of directory identity `key` (fsid + file_handle): a string index, or -1. */
static long resolve(struct sbfd *r, const char *key, uint32_t klen)
{
	char link[32], path[4096];
	struct file_handle *fh;
	ssize_t n;
	int fd;

	r->c.dir_lookups++;
	if (r->mount_fd < 0 || klen < 16)
		goto failed;
	fh = malloc(klen - 8);
	if (!fh)
		goto failed;
	memcpy(fh, key + 8, klen - 8); /* handle_bytes, handle_type, f_handle */
	fd = open_by_handle_at(r->mount_fd, fh, O_PATH | O_CLOEXEC);
	free(fh);
	if (fd < 0)
		goto failed;
	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	n = readlink(link, path, sizeof(path));
	close(fd);
	if (n < 0 || n == (ssize_t)sizeof(path))
		goto failed;
	return sbfd_str_add(&r->strs, path, n);
failed:
	r->c.dir_failed++;
	return -1;
}

/* One event's info records (info, n bytes). SBFD_ROOM when the output cannot take what it
 * yields (nothing counted then: it is parsed again after the handoff). */
static int event(struct sbfd *r, const char *info, size_t n, uint64_t mask, int32_t pid,
		 int64_t t)
{
	uint64_t write_bit = r->opt & SBFD_OPT_FAN_MODIFY ? FAN_MODIFY : FAN_CLOSE_WRITE;
	const uint64_t bits[4] = {FAN_CREATE, write_bit, FAN_MOVED_TO, FAN_DELETE};
	const char *rec = NULL, *raw, *nul;
	size_t off = 0, rlen = 0, name_at, nlen, nbits = 0, i;
	uint32_t hbytes;
	long idx, dir;
	int fresh;

	if (mask & FAN_ONDIR) {
		r->c.skipped++;
		return SBFD_DONE;
	}
	while (off < n) {
		uint16_t ilen;

		if (n - off < 4) {
			r->c.parse_errors++;
			return SBFD_DONE;
		}
		memcpy(&ilen, info + off + 2, 2);
		if (ilen < 4 || ilen > n - off) {
			r->c.parse_errors++;
			return SBFD_DONE;
		}
		if ((uint8_t)info[off] == INFO_DFID_NAME) {
			rec = info + off + 4;
			rlen = ilen - 4;
			break;
		}
		off += ilen;
	}
	if (!rec) { /* a DFID_NAME group's event must carry one */
		r->c.parse_errors++;
		return SBFD_DONE;
	}
	/* fsid (8) + file_handle header (8) + handle bytes + name NUL [+ padding] */
	if (rlen < 16) {
		r->c.parse_errors++;
		return SBFD_DONE;
	}
	memcpy(&hbytes, rec + 8, 4);
	if (hbytes > MAX_HANDLE_SZ || 16 + (size_t)hbytes >= rlen) {
		r->c.parse_errors++;
		return SBFD_DONE;
	}
	name_at = 16 + hbytes;
	raw = rec + name_at;
	nul = memchr(raw, '\0', rlen - name_at);
	if (!nul || nul == raw) { /* no terminator, or an empty name */
		r->c.parse_errors++;
		return SBFD_DONE;
	}
	nlen = nul - raw;
	if (memchr(raw, '/', nlen)) {
		r->c.parse_errors++;
		return SBFD_DONE;
	}
	for (i = 0; i < 4; i++)
		nbits += !!(mask & bits[i]);
	if (!nbits) {
		r->c.skipped++;
		return SBFD_DONE;
	}
	/* Interning and resolving are done once per directory, so doing them before the room
	 * check is safe: a record parsed again after a handoff finds its directory known. */
	idx = sbfd_intern(&r->dirs, rec, (uint32_t)name_at, &fresh);
	if (idx < 0)
		return SBFD_ROOM; /* out of memory: on an empty batch sbfd_run says -ENOMEM */
	r->c.dirs = r->dirs.keys.n;
	if (fresh)
		r->dirs.path[idx] = resolve(r, rec, (uint32_t)name_at);
	dir = r->dirs.path[idx];
	if (dir < 0) { /* directory gone before it was resolved: a name without a path */
		r->c.unresolved += nbits;
		return SBFD_DONE;
	}
	if (!sbfd_room(r, nbits, nbits * (sbfd_str_len(r, dir) + nlen + 2)))
		return SBFD_ROOM;
	for (i = 0; i < 4; i++)
		if (mask & bits[i])
			sbfd_emit_path(r, (int)i + 1 /* file_create .. file_delete */, 0, pid, t, idx,
				       (size_t)dir, raw, nlen);
	return SBFD_DONE;
}

int sbfd_parse_fanotify(struct sbfd *r, const char *buf, size_t n, size_t *offp, int64_t t)
{
	size_t off = *offp;

	while (off < n) {
		uint32_t ev_len;
		uint16_t meta_len;
		uint64_t mask;
		int32_t pid;

		if (n - off < META) {
			r->c.parse_errors++;
			off = n;
			break;
		}
		memcpy(&ev_len, buf + off, 4);
		memcpy(&meta_len, buf + off + 6, 2);
		memcpy(&mask, buf + off + 8, 8);
		memcpy(&pid, buf + off + 20, 4);
		if (ev_len < META || ev_len > n - off || meta_len < META || meta_len > ev_len ||
		    (uint8_t)buf[off + 4] != FANOTIFY_METADATA_VERSION) {
			r->c.parse_errors++; /* event_len cannot be trusted: nothing after it can */
			off = n;
			break;
		}
		if (mask & FAN_Q_OVERFLOW)
			r->c.overflows++;
		else if (event(r, buf + off + meta_len, ev_len - meta_len, mask, pid, t) == SBFD_ROOM)
			break;
		off += ev_len;
	}
	*offp = off;
	return off < n ? SBFD_ROOM : SBFD_DONE;
}
