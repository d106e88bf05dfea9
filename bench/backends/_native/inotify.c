/* inotify.c: the inotify parser of libsbfd.so, record for record what
 * bench/backends/inotify/parse.py's Decoder does (same events, same counters).
 *
 * A read returns whole `struct inotify_event` records: wd, mask, cookie, len (16 bytes),
 * then `len` bytes of NUL-padded name. Python tells this table each wd it watches with
 * its directory's path (sbfd_watch), so events come out with their full path (directory
 * "/" name; aux = wd) and unknown wds are counted exactly where the Python decoder counts
 * them. A directory created or moved in under a watched one comes out as an SBFD_NEW_DIR
 * record (its path) that ends the batch (SBFD_NOW): Python watches it before anything else
 * is read; IN_IGNORED of a watched wd comes out as SBFD_WD_GONE.
 */
#include <string.h>
#include <sys/inotify.h>
#include "fdread.h"

#define HDR 16

/* Same order as parse.py's _KINDS: one event per bit set. */
static const struct {
	uint32_t bit;
	int kind;
} kinds[] = {
	{IN_CREATE, 1 /* file_create */},
	{IN_CLOSE_WRITE, 2 /* file_write */},
	{IN_MOVED_TO, 3 /* file_rename */},
	{IN_DELETE, 4 /* file_delete */},
};

int sbfd_parse_inotify(struct sbfd *r, const char *buf, size_t n, size_t *offp, int64_t t)
{
	size_t off = *offp;

	while (off < n) {
		int32_t wd;
		uint32_t mask, len;
		size_t next, nlen, nbits = 0, i, need;
		uint64_t dir;
		const char *name;

		if (n - off < HDR) {
			r->c.parse_errors++; /* a torn header: nothing after it can be framed */
			off = n;
			break;
		}
		memcpy(&wd, buf + off, 4);
		memcpy(&mask, buf + off + 4, 4);
		memcpy(&len, buf + off + 12, 4);
		if (len > n - off - HDR) {
			r->c.parse_errors++;
			off = n;
			break;
		}
		name = buf + off + HDR;
		next = off + HDR + len;
		nlen = len;
		while (nlen && name[nlen - 1] == '\0') /* NUL padding */
			nlen--;
		if (mask & IN_Q_OVERFLOW) {
			r->c.overflows++;
			off = next;
			continue;
		}
		if (mask & IN_IGNORED) {
			if (sbfd_map_get(&r->wds, (uint32_t)wd, NULL)) {
				if (!sbfd_room(r, 1, 0))
					break;
				sbfd_map_del(&r->wds, (uint32_t)wd);
				sbfd_emit(r, SBFD_WD_GONE, 0, 0, t, -1, wd, NULL, -1);
			}
			off = next;
			continue;
		}
		if (!sbfd_map_get(&r->wds, (uint32_t)wd, &dir)) {
			r->c.unknown_wd++;
			off = next;
			continue;
		}
		if (!nlen || memchr(name, '/', nlen) || memchr(name, '\0', nlen)) {
			if (!(mask & IN_DELETE_SELF)) /* the watched directory itself: no name */
				r->c.parse_errors++;
			off = next;
			continue;
		}
		need = sbfd_str_len(r, dir) + 1 + nlen + 1; /* directory "/" name NUL */
		if (mask & IN_ISDIR) {
			if (mask & (IN_CREATE | IN_MOVED_TO)) {
				if (!sbfd_room(r, 1, need))
					break;
				sbfd_emit_path(r, SBFD_NEW_DIR, 0, 0, t, wd, dir, name, nlen);
				r->c.new_dirs++;
				*offp = next;
				return SBFD_NOW;
			}
			off = next;
			continue;
		}
		for (i = 0; i < 4; i++)
			nbits += !!(mask & kinds[i].bit);
		if (!sbfd_room(r, nbits, nbits * need))
			break;
		for (i = 0; i < 4; i++)
			if (mask & kinds[i].bit)
				sbfd_emit_path(r, kinds[i].kind, 0, 0, t, wd, dir, name, nlen);
		off = next;
	}
	*offp = off;
	return off < n ? SBFD_ROOM : SBFD_DONE;
}
