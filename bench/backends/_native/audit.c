/* audit.c: the audit parser of libsbfd.so, datagram for datagram what
 * bench/backends/audit/parse.py's Assembler does (same events, same counters).
 *
 * Each datagram from kauditd is one record: a netlink header whose type is the record type
 * (the kernel sets nlmsg_len to the payload length, without the header: the quirk that
 * split_datagram copes with, copied here) and the text `audit(SEC.MSEC:SERIAL): key=value
 * ...`. One syscall gives several records with one serial, ended by EOE, and the records of
 * different syscalls may interleave: they are grouped by serial (a hash map serial ->
 * group). Nothing of a datagram is kept but what the decoder will need, taken out as the
 * record arrives: of the first SYSCALL record the syscall number, pid, success, exit and
 * a0..a2; the first CWD; the name of the first PATH record of each nametype we use
 * (CREATE, NORMAL, DELETE); argv from the first EXECVE; family and port of the first
 * SOCKADDR; oflag of the first OPENAT2 (parse.py looks up exactly those, with next()).
 * At EOE the group is decoded into records of struct sbfd_rec: t_kernel = the SYSCALL
 * record's wall-clock time in ns (unsigned; Python makes it monotonic), paths and argv in the
 * blob. A group whose EOE never came is decoded as incomplete once older than stale_ns
 * (checked at most every 0.5 s, as the Python backend's drain does) and at stop (all).
 *
 * What C cannot do alone goes to Python as records with negative kinds, never one per
 * ordinary event: an accept (SBFD_AUDIT_ACCEPT: the client port in key, the listening fd
 * in aux; the server port is looked up in /proc by Python, once per distinct pid and fd of
 * a batch), a CONFIG_CHANGE record (SBFD_AUDIT_CONFIG, the datagram in hex; it ends the
 * batch, so tampering is seen at once), the first three undecodable datagrams
 * (SBFD_AUDIT_BAD, in hex: Python writes the same parse_error_samples from them) and an
 * event whose path or argv holds a NUL byte, which the NUL-separated blob cannot carry
 * (SBFD_AUDIT_HEXNAME, the name in hex, the kind in aux; only corrupt input has those).
 *
 * Values are read as Python's int() and decode_value() read them (signs, underscores, 0x
 * and 0o prefixes, the 4300-digit limit, quoted and hex strings), so that odd records count
 * the same. One difference, on input no kernel writes: a serial beyond 64 bits, a pid or
 * child pid beyond int64 and a wall time beyond 2^64 ns are parse errors here (Python would
 * group by the first and carry the others on into the sink, where the cell would fail).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "fdread.h"

#define NLMSG_HDR 16
#define AUDIT_SYSCALL 1300
#define AUDIT_PATH 1302
#define AUDIT_CONFIG_CHANGE 1305
#define AUDIT_SOCKADDR 1306
#define AUDIT_CWD 1307
#define AUDIT_EXECVE 1309
#define AUDIT_EOE 1320
#define AUDIT_REPLACE 1329
#define AUDIT_OPENAT2 1337
#define AF_INET_ 2
#define AF_INET6_ 10
#define O_ACCMODE_ 03
#define O_TRUNC_ 01000
#define MAX_ARGS 64      /* _argv: min(argc, 64) */
#define MAX_SAMPLES 3    /* Assembler.bad_samples */
#define MAX_DIGITS 4300  /* CPython's int_max_str_digits: int() refuses longer base-10 */
#define FLUSH_EVERY_NS 500000000LL /* the Python backend's drain: stale groups every 0.5 s */
#define NIL UINT32_MAX

/* Syscall classes, set per number by Python (sbfd_audit_syscall, bench/backends/audit/
 * fastpath.py), from the machine's table: what _decode does with the name. */
enum { SC_NONE, SC_EXEC, SC_FORK, SC_EXIT, SC_OPEN, SC_OPENAT, SC_OPENAT2, SC_CREAT,
       SC_CONNECT, SC_RENAME, SC_UNLINK, SC_ACCEPT };

/* A number as Python's int() reads it: missing (KeyError), not a number (ValueError),
 * within int64, or beyond it with its sign. */
enum { V_MISSING, V_OK, V_ERR, V_BIG_POS, V_BIG_NEG };

/* The strings a group keeps (in its buf), and which "first record of a type" it holds. */
enum { S_CWD, S_CREATE, S_NORMAL, S_DELETE, S_ARGV, S_N };
#define SEEN_SC 1u
#define SEEN_HOW 2u
#define SEEN_SA 4u
#define SEEN_STR(i) (8u << (i))

struct agroup {
	uint64_t serial;
	int64_t first_seen;     /* t of the read that brought its first record */
	uint32_t prev, next;    /* creation order (Python's dict order); free list: next */
	uint32_t seen;
	/* the first SYSCALL record */
	uint64_t t;             /* its wall time, ns (as struct header) */
	int t_ok;
	int64_t nr, pid, exit, a0;
	uint64_t a1, a2;        /* low 64 bits: flags */
	uint8_t nr_st, pid_st, exit_st, a0_st, a1_st, a2_st, ok;
	/* the first OPENAT2 record */
	uint8_t oflag_st;
	uint64_t oflag;
	/* the first SOCKADDR record: readable (family, port) or not */
	uint8_t sa_ok;
	uint16_t family, port;
	struct { int32_t off, len; } s[S_N]; /* len -1: None (decode_value gave nothing) */
	char *buf;
	size_t len, cap;
};

struct sbfd_audit {
	struct sbfd_map serials; /* serial -> group index */
	struct sbfd_map classes; /* syscall number -> SC_* */
	struct agroup *g;
	uint32_t ng, gcap, free_head, head, tail;
	int64_t stale_ns, last_flush;
	unsigned samples;       /* SBFD_AUDIT_BAD records given so far */
	int t_bad;              /* decode(): an event left out, its time beyond int64 */
	char *scratch;          /* a path joined with its CWD, a name in hex */
	size_t scap;
};

/* ---- values ------------------------------------------------------------------------- */

static int is_key(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '_';
}

static int is_space(unsigned char c) /* \s of a bytes pattern, Py_ISSPACE */
{
	return c == ' ' || (c >= '\t' && c <= '\r');
}

static int digit_value(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'Z')
		return c - 'A' + 10;
	return 99;
}

/* Python's int(s, base) for base 10, 16 or 8 (PyLong_FromString): surrounding whitespace,
 * a sign, for 16 and 8 an optional 0x / 0o prefix and one underscore after it, underscores
 * single and between digits, at least one digit, at most MAX_DIGITS in base 10. V_OK sets
 * *val; *low gets the low 64 bits (two's complement) whatever the size, all the flags
 * need. */
static int py_int(const char *s, size_t n, int base, int64_t *val, uint64_t *low)
{
	const char *e = s + n;
	uint64_t mag = 0, lo = 0;
	size_t digits = 0;
	int neg = 0, big = 0;
	char prev = 0;

	while (s < e && is_space(*s))
		s++;
	while (e > s && is_space(e[-1]))
		e--;
	if (s < e && (*s == '+' || *s == '-'))
		neg = *s++ == '-';
	if (e - s >= 2 && s[0] == '0' &&
	    ((base == 16 && (s[1] == 'x' || s[1] == 'X')) ||
	     (base == 8 && (s[1] == 'o' || s[1] == 'O')))) {
		s += 2;
		if (s < e && *s == '_')
			s++;
	}
	if (s < e && *s == '_')
		return V_ERR;
	for (; s < e; s++) {
		int d;

		if (*s == '_') {
			if (prev == '_')
				return V_ERR;
			prev = '_';
			continue;
		}
		d = digit_value((unsigned char)*s);
		if (d >= base)
			return V_ERR;
		digits++;
		prev = *s;
		lo = lo * (uint64_t)base + (uint64_t)d;
		if (!big) {
			if (mag > (UINT64_MAX - (uint64_t)d) / (uint64_t)base)
				big = 1;
			else
				mag = mag * (uint64_t)base + (uint64_t)d;
		}
	}
	if (prev == '_' || !digits || (base == 10 && digits > MAX_DIGITS))
		return V_ERR;
	*low = neg ? (uint64_t)0 - lo : lo;
	if (big || mag > (uint64_t)INT64_MAX)
		return neg ? V_BIG_NEG : V_BIG_POS;
	*val = neg ? -(int64_t)mag : (int64_t)mag;
	return V_OK;
}

/* decode_value's verdict on v[0..n): -1 None, else the decoded length; the bytes are
 * written to out (room for n bytes) when out is not NULL. */
static long decode_value(const char *v, size_t n, char *out)
{
	size_t i;

	if (n && v[0] == '"') {
		if (n < 2 || v[n - 1] != '"')
			return -1;
		if (out)
			memcpy(out, v + 1, n - 2);
		return (long)n - 2;
	}
	if (!n || (n == 6 && !memcmp(v, "(null)", 6)) || (n == 1 && v[0] == '?') || n % 2)
		return -1;
	for (i = 0; i < n; i++)
		if (digit_value((unsigned char)v[i]) >= 16)
			return -1;
	if (out)
		for (i = 0; i < n; i += 2)
			out[i / 2] = (char)(digit_value((unsigned char)v[i]) << 4 |
					    digit_value((unsigned char)v[i + 1]));
	return (long)n / 2;
}

/* The next key=value of a record's text, as re.findall(rb'([A-Za-z0-9_]+)=("[^"]*"|\S*)')
 * scans it. A run of key characters not followed by '=' matches nowhere inside it either,
 * so the scan goes on after it. */
struct field {
	const char *k, *v;
	size_t kl, vl;
};

static int next_field(const char **pp, const char *end, struct field *f)
{
	const char *p = *pp;

	while (p < end) {
		const char *k = p, *v, *q;

		while (p < end && is_key((unsigned char)*p))
			p++;
		if (p == k) {
			p++;
			continue;
		}
		if (p == end || *p != '=')
			continue;
		f->k = k;
		f->kl = (size_t)(p - k);
		v = ++p;
		if (p < end && *p == '"' && (q = memchr(p + 1, '"', (size_t)(end - p - 1)))) {
			p = q + 1;
		} else {
			while (p < end && !is_space((unsigned char)*p))
				p++;
		}
		f->v = v;
		f->vl = (size_t)(p - v);
		*pp = p;
		return 1;
	}
	*pp = p;
	return 0;
}

static int key_is(const struct field *f, const char *name)
{
	size_t n = strlen(name);

	return f->kl == n && !memcmp(f->k, name, n);
}

/* The header: audit(SEC.MSEC:SERIAL): and one optional space (_HEADER, at the start).
 * 0, or -1 where parse_record raises (no header, a number over the digit limit) or a
 * number is beyond 64 bits (see the top). */
struct header {
	uint64_t t;             /* wall time, ns */
	int t_ok;               /* t fits in 64 bits (only a SYSCALL record's is used) */
	uint64_t serial;
	const char *body;
};

/* A run of ASCII digits (\d+) at *pp, as int() reads it: -1 when there is none, when it
 * is longer than int() takes (MAX_DIGITS) or beyond 64 bits. */
static int digits_u64(const char **pp, const char *end, uint64_t *v)
{
	const char *p = *pp;
	uint64_t x = 0;
	int over = 0;

	while (p < end && *p >= '0' && *p <= '9') {
		unsigned d = (unsigned)(*p++ - '0');

		if (x > (UINT64_MAX - d) / 10)
			over = 1;
		x = x * 10 + d;
	}
	if (p == *pp)
		return -1;
	over |= (size_t)(p - *pp) > MAX_DIGITS;
	*pp = p;
	if (over)
		return -2;
	*v = x;
	return 0;
}

static int parse_header(const char *p, const char *end, struct header *h)
{
	const char *start;
	uint64_t sec, serial;
	int64_t ms;
	int st;

	if (end - p < 6 || memcmp(p, "audit(", 6))
		return -1;
	p += 6;
	start = p;
	st = digits_u64(&p, end, &sec);
	if (st == -1 || p == end || *p != '.')
		return -1;
	if (p - start > MAX_DIGITS)
		return -1; /* int() refuses it: ValueError */
	p++;
	if (end - p < 4 || p[0] < '0' || p[0] > '9' || p[1] < '0' || p[1] > '9' ||
	    p[2] < '0' || p[2] > '9' || p[3] != ':')
		return -1;
	ms = (p[0] - '0') * 100 + (p[1] - '0') * 10 + (p[2] - '0');
	/* the wall time in ns as unsigned 64 bits: Python subtracts the offset modulo 2^64 */
	h->t_ok = !st && sec <= UINT64_MAX / 1000000000 &&
		  sec * 1000000000 <= UINT64_MAX - (uint64_t)ms * 1000000;
	p += 4;
	start = p;
	st = digits_u64(&p, end, &serial);
	if (st == -1 || end - p < 2 || p[0] != ')' || p[1] != ':')
		return -1;
	if (st || p - start > MAX_DIGITS)
		return -1;
	h->serial = serial;
	h->t = h->t_ok ? sec * 1000000000 + (uint64_t)ms * 1000000 : 0;
	p += 2;
	if (p < end && *p == ' ')
		p++;
	h->body = p;
	return 0;
}

/* ---- groups ------------------------------------------------------------------------- */

static int reserve(char **buf, size_t *cap, size_t want)
{
	size_t nc;
	char *p;

	if (want <= *cap)
		return 0;
	nc = *cap ? *cap : 256;
	while (nc < want)
		nc *= 2;
	p = realloc(*buf, nc);
	if (!p)
		return -1;
	*buf = p;
	*cap = nc;
	return 0;
}

/* The group of `serial`, made (last in order) if new (*fresh = 1); NIL when out of
 * memory. */
static uint32_t group(struct sbfd_audit *a, uint64_t serial, int64_t t, int *fresh)
{
	uint64_t i;
	struct agroup *g;

	*fresh = 0;
	if (sbfd_map_get(&a->serials, serial, &i))
		return (uint32_t)i;
	if (a->free_head != NIL) {
		i = a->free_head;
		a->free_head = a->g[i].next;
	} else {
		if (a->ng == a->gcap) {
			uint32_t nc = a->gcap ? a->gcap * 2 : 64;
			struct agroup *ng = realloc(a->g, nc * sizeof(*ng));

			if (!ng)
				return NIL;
			a->g = ng;
			a->gcap = nc;
		}
		i = a->ng++;
		a->g[i].buf = NULL;
		a->g[i].cap = 0;
	}
	if (sbfd_map_put(&a->serials, serial, i)) {
		a->g[i].next = a->free_head; /* back on the free list */
		a->free_head = (uint32_t)i;
		return NIL;
	}
	g = &a->g[i];
	g->serial = serial;
	g->first_seen = t;
	g->seen = 0;
	g->len = 0;
	g->prev = a->tail;
	g->next = NIL;
	if (a->tail != NIL)
		a->g[a->tail].next = (uint32_t)i;
	else
		a->head = (uint32_t)i;
	a->tail = (uint32_t)i;
	*fresh = 1;
	return (uint32_t)i;
}

static void release(struct sbfd_audit *a, uint32_t i)
{
	struct agroup *g = &a->g[i];

	sbfd_map_del(&a->serials, g->serial);
	if (g->prev != NIL)
		a->g[g->prev].next = g->next;
	else
		a->head = g->next;
	if (g->next != NIL)
		a->g[g->next].prev = g->prev;
	else
		a->tail = g->prev;
	g->next = a->free_head;
	a->free_head = i;
}

/* String `which` of the group := decode_value(v) (None when it gives nothing). The group's
 * buf has room: reserved for the whole record before it is taken apart. */
static void keep_value(struct agroup *g, int which, const char *v, size_t n)
{
	long k = decode_value(v, n, g->buf + g->len);

	g->s[which].off = (int32_t)g->len;
	g->s[which].len = (int32_t)k;
	if (k > 0)
		g->len += (size_t)k;
	g->seen |= SEEN_STR(which);
}

static void take_syscall(struct agroup *g, const char *p, const char *end, uint64_t t,
			 int t_ok)
{
	struct field f, nr = {0}, pid = {0}, ok = {0}, ex = {0}, a0 = {0}, a1 = {0}, a2 = {0};
	int64_t dummy;

	/* dict(findall(...)): the last of a repeated key wins */
	while (next_field(&p, end, &f)) {
		if (key_is(&f, "syscall"))
			nr = f;
		else if (key_is(&f, "pid"))
			pid = f;
		else if (key_is(&f, "success"))
			ok = f;
		else if (key_is(&f, "exit"))
			ex = f;
		else if (key_is(&f, "a0"))
			a0 = f;
		else if (key_is(&f, "a1"))
			a1 = f;
		else if (key_is(&f, "a2"))
			a2 = f;
	}
#define NUM(fld, base, st, val, low)                                                      \
	(st) = (fld).k ? py_int((fld).v, (fld).vl, (base), (val), (low)) : V_MISSING
	{
		uint64_t low;

		NUM(nr, 10, g->nr_st, &g->nr, &low);
		NUM(pid, 10, g->pid_st, &g->pid, &low);
		NUM(ex, 10, g->exit_st, &g->exit, &low);
		NUM(a0, 16, g->a0_st, &g->a0, &low);
		NUM(a1, 16, g->a1_st, &dummy, &g->a1);
		NUM(a2, 16, g->a2_st, &dummy, &g->a2);
	}
#undef NUM
	g->ok = ok.k && ok.vl == 3 && !memcmp(ok.v, "yes", 3);
	g->t = t;
	g->t_ok = t_ok;
	g->seen |= SEEN_SC;
}

static void take_path(struct agroup *g, const char *p, const char *end)
{
	struct field f, type = {0}, name = {0};
	int which;

	while (next_field(&p, end, &f)) {
		if (key_is(&f, "nametype"))
			type = f;
		else if (key_is(&f, "name"))
			name = f;
	}
	if (!type.k)
		return;
	if (type.vl == 6 && !memcmp(type.v, "CREATE", 6))
		which = S_CREATE;
	else if (type.vl == 6 && !memcmp(type.v, "NORMAL", 6))
		which = S_NORMAL;
	else if (type.vl == 6 && !memcmp(type.v, "DELETE", 6))
		which = S_DELETE;
	else
		return;
	if (!(g->seen & SEEN_STR(which)))
		keep_value(g, which, name.v, name.k ? name.vl : 0);
}

/* _argv: argc, then a0.. up to min(argc, 64), stopping at the first that decodes to
 * nothing, joined by spaces; None when that is empty. */
static void take_execve(struct agroup *g, const char *p, const char *end)
{
	struct field f, argc = {0}, args[MAX_ARGS];
	int64_t n = 0;
	uint64_t low;
	int st, i;
	size_t start = g->len;

	memset(args, 0, sizeof(args));
	while (next_field(&p, end, &f)) {
		if (key_is(&f, "argc")) {
			argc = f;
		} else if (f.kl >= 2 && f.kl <= 3 && f.k[0] == 'a' && f.k[1] >= '0' &&
			   f.k[1] <= '9' && (f.kl == 2 || (f.k[1] != '0' && f.k[2] >= '0' &&
							    f.k[2] <= '9'))) {
			int idx = f.k[1] - '0';

			if (f.kl == 3)
				idx = idx * 10 + (f.k[2] - '0');
			if (idx < MAX_ARGS)
				args[idx] = f;
		}
	}
	g->seen |= SEEN_STR(S_ARGV);
	g->s[S_ARGV].off = (int32_t)start;
	g->s[S_ARGV].len = -1;
	st = argc.k ? py_int(argc.v, argc.vl, 10, &n, &low) : V_OK;
	if (st == V_ERR)
		return;
	if (st == V_BIG_POS || n > MAX_ARGS)
		n = MAX_ARGS;
	for (i = 0; i < n; i++) {
		long k;

		if (i)
			g->buf[g->len++] = ' ';
		k = decode_value(args[i].v, args[i].k ? args[i].vl : 0, g->buf + g->len);
		if (k < 0) {
			if (i)
				g->len--; /* the separator of an argument that is not there */
			break;
		}
		g->len += (size_t)k;
	}
	if (g->len > start)
		g->s[S_ARGV].len = (int32_t)(g->len - start);
}

/* _sockaddr: saddr decoded; at least 8 bytes: the family (host order) and the port
 * (network order). */
static void take_sockaddr(struct agroup *g, const char *p, const char *end)
{
	struct field f, sa = {0};
	unsigned char b[4];
	long k;

	while (next_field(&p, end, &f))
		if (key_is(&f, "saddr"))
			sa = f;
	g->seen |= SEEN_SA;
	g->sa_ok = 0;
	k = decode_value(sa.v, sa.k ? sa.vl : 0, NULL);
	if (k < 8)
		return;
	if (sa.v[0] == '"') {
		memcpy(b, sa.v + 1, 4);
	} else {
		int i;

		for (i = 0; i < 4; i++)
			b[i] = (unsigned char)(digit_value((unsigned char)sa.v[2 * i]) << 4 |
					       digit_value((unsigned char)sa.v[2 * i + 1]));
	}
	g->sa_ok = 1;
	g->family = (uint16_t)(b[0] | b[1] << 8);
	g->port = (uint16_t)(b[2] << 8 | b[3]);
}

static void take_openat2(struct agroup *g, const char *p, const char *end)
{
	struct field f, of = {0};
	int64_t dummy;

	while (next_field(&p, end, &f))
		if (key_is(&f, "oflag"))
			of = f;
	g->oflag_st = of.k ? py_int(of.v, of.vl, 8, &dummy, &g->oflag) : V_MISSING;
	g->seen |= SEEN_HOW;
}

static void take_cwd(struct agroup *g, const char *p, const char *end)
{
	struct field f, cwd = {0};

	while (next_field(&p, end, &f))
		if (key_is(&f, "cwd"))
			cwd = f;
	keep_value(g, S_CWD, cwd.v, cwd.k ? cwd.vl : 0);
}

/* A record of an event into its group: only the first of each type counts (next() in
 * parse.py), and of PATH records the first of each nametype. */
static void take(struct agroup *g, int type, const char *p, const char *end, uint64_t t,
		 int t_ok)
{
	switch (type) {
	case AUDIT_SYSCALL:
		if (!(g->seen & SEEN_SC))
			take_syscall(g, p, end, t, t_ok);
		break;
	case AUDIT_PATH:
		take_path(g, p, end);
		break;
	case AUDIT_CWD:
		if (!(g->seen & SEEN_STR(S_CWD)))
			take_cwd(g, p, end);
		break;
	case AUDIT_EXECVE:
		if (!(g->seen & SEEN_STR(S_ARGV)))
			take_execve(g, p, end);
		break;
	case AUDIT_SOCKADDR:
		if (!(g->seen & SEEN_SA))
			take_sockaddr(g, p, end);
		break;
	case AUDIT_OPENAT2:
		if (!(g->seen & SEEN_HOW))
			take_openat2(g, p, end);
		break;
	}
}

/* parse.py's EVENT_PARTS: the record types that belong to a syscall's event. */
static int event_part(int type)
{
	switch (type) {
	case AUDIT_SYSCALL: case AUDIT_PATH: case AUDIT_SOCKADDR: case AUDIT_CWD:
	case AUDIT_EXECVE: case 1327: case AUDIT_OPENAT2: case 1303: case 1318: case 1321:
	case 1323: case 1331:
		return 1;
	}
	return 0;
}

/* ---- output ------------------------------------------------------------------------- */

/* Bytes of names the decoding of group g may emit at most (two records, each maybe in
 * hex), and the scratch it needs; -1 when the scratch cannot grow. */
static long need(struct sbfd_audit *a, const struct agroup *g)
{
	size_t path = 1, argv = 0, i;

	for (i = 0; i < S_ARGV; i++)
		if ((g->seen & SEEN_STR(i)) && g->s[i].len > 0)
			path += (size_t)g->s[i].len + 1;
	if ((g->seen & SEEN_STR(S_ARGV)) && g->s[S_ARGV].len > 0)
		argv = (size_t)g->s[S_ARGV].len;
	if (reserve(&a->scratch, &a->scap, 3 * (path + argv) + 16))
		return -1;
	return (long)(4 * path + 2 * argv + 8);
}

/* An event of group g without a name. One whose wall time does not fit in 64 bits is left
 * out and counted (decode()): Python would hand it on and fail in the sink. */
static void emit_plain(struct sbfd *r, struct sbfd_audit *a, const struct agroup *g, int kind,
		       int64_t key, int64_t pid, int64_t ts, int64_t aux)
{
	if (!g->t_ok)
		a->t_bad = 1;
	else
		sbfd_emit(r, kind, key, pid, ts, (int64_t)g->t, aux, NULL, -1);
}

/* An event of group g with its name (path or argv); in hex as SBFD_AUDIT_HEXNAME when the
 * name holds a NUL. p may be the scratch itself (the hex goes after it). */
static void emit_named(struct sbfd *r, struct sbfd_audit *a, const struct agroup *g, int kind,
		       int64_t key, int64_t ts, const char *p, long n)
{
	static const char hx[] = "0123456789abcdef";
	int64_t pid = g->pid, t = (int64_t)g->t;
	char *h;
	long i;

	if (!g->t_ok) {
		a->t_bad = 1;
		return;
	}
	if (n < 0 || !memchr(p, '\0', (size_t)n)) {
		sbfd_emit(r, kind, key, pid, ts, t, 0, p, n);
		return;
	}
	h = a->scratch + (p == a->scratch ? n : 0);
	for (i = 0; i < n; i++) {
		h[2 * i] = hx[(unsigned char)p[i] >> 4];
		h[2 * i + 1] = hx[(unsigned char)p[i] & 15];
	}
	sbfd_emit(r, SBFD_AUDIT_HEXNAME, key, pid, ts, t, kind, h, 2 * n);
}

/* _path: the first PATH record of nametype `which`, joined to the first CWD when relative;
 * its length (the bytes at *out), or -1 for None. */
static long path_of(struct sbfd_audit *a, const struct agroup *g, int which,
		    const char **out)
{
	const char *name = g->buf + g->s[which].off, *cwd;
	long nl = g->s[which].len, cl;

	if (!(g->seen & SEEN_STR(which)) || nl <= 0)
		return -1;
	if (name[0] == '/') {
		*out = name;
		return nl;
	}
	if (!(g->seen & SEEN_STR(S_CWD)) || g->s[S_CWD].len <= 0)
		return -1;
	cwd = g->buf + g->s[S_CWD].off;
	cl = g->s[S_CWD].len;
	while (cl && cwd[cl - 1] == '/')
		cl--;
	memcpy(a->scratch, cwd, (size_t)cl);
	a->scratch[cl] = '/';
	memcpy(a->scratch + cl + 1, name, (size_t)nl);
	*out = a->scratch;
	return cl + 1 + nl;
}

static void emit_path(struct sbfd *r, struct sbfd_audit *a, const struct agroup *g,
		      int kind, int which, int64_t ts)
{
	const char *p;
	long n = path_of(a, g, which, &p);

	if (n > 0)
		emit_named(r, a, g, kind, 0, ts, p, n);
}

/* _opened_for_write: 1, 0, or -1 when the flags cannot be read. */
static int opened_for_write(const struct agroup *g, int cls)
{
	uint64_t flags;

	if (cls == SC_CREAT)
		return 1; /* creat(2) is open(O_CREAT|O_WRONLY|O_TRUNC) */
	if (cls == SC_OPENAT2) {
		if (!(g->seen & SEEN_HOW) || (g->oflag_st != V_OK && g->oflag_st != V_BIG_POS &&
					      g->oflag_st != V_BIG_NEG))
			return -1;
		flags = g->oflag;
	} else {
		int st = cls == SC_OPEN ? g->a1_st : g->a2_st;

		if (st == V_MISSING || st == V_ERR)
			return -1;
		flags = cls == SC_OPEN ? g->a1 : g->a2;
	}
	return (flags & O_ACCMODE_) || (flags & O_TRUNC_);
}

/* _decode of one group; output room checked by the caller (need()). */
static void decode_events(struct sbfd *r, struct sbfd_audit *a, const struct agroup *g,
			  int64_t ts)
{
	uint64_t cls = SC_NONE;
	int w;

	if (!(g->seen & SEEN_SC)) {
		r->c.incomplete++;
		return;
	}
	if (g->nr_st == V_MISSING || g->nr_st == V_ERR || g->pid_st != V_OK) {
		r->c.parse_errors++;
		return;
	}
	if (g->nr_st == V_OK)
		sbfd_map_get(&a->classes, (uint64_t)g->nr, &cls);
	switch (cls) {
	case SC_EXEC:
		if (g->ok) {
			long n = -1;

			if ((g->seen & SEEN_STR(S_ARGV)) && g->s[S_ARGV].len > 0)
				n = g->s[S_ARGV].len;
			emit_named(r, a, g, 6 /* proc_exec */, g->pid, ts,
				   n > 0 ? g->buf + g->s[S_ARGV].off : NULL, n);
		}
		return;
	case SC_FORK: /* the parent's exit value is the child: int(exit or "0") */
		if (g->exit_st == V_ERR || (g->ok && g->exit_st == V_BIG_POS)) {
			r->c.parse_errors++;
			return;
		}
		if (g->ok && g->exit_st == V_OK && g->exit > 0)
			emit_plain(r, a, g, 5 /* proc_fork */, g->exit, g->exit, ts, 0);
		return;
	case SC_EXIT: /* exit_group never returns: no success to ask for */
		emit_plain(r, a, g, 7 /* proc_exit */, g->pid, g->pid, ts, 0);
		return;
	}
	if (!g->ok)
		return;
	switch (cls) {
	case SC_OPEN: case SC_OPENAT: case SC_OPENAT2: case SC_CREAT: {
		const char *p;
		long created = path_of(a, g, S_CREATE, &p);

		emit_path(r, a, g, 1 /* file_create */, S_CREATE, ts);
		w = opened_for_write(g, (int)cls);
		if (w < 0)
			r->c.parse_errors++;
		else if (w)
			emit_path(r, a, g, 2 /* file_write */, created > 0 ? S_CREATE : S_NORMAL, ts);
		return;
	}
	case SC_CONNECT: /* keyed by the server port alone (a partial key, rules.py) */
		if (!(g->seen & SEEN_SA) || !g->sa_ok)
			r->c.unkeyed++;
		else if (g->family == AF_INET_ || g->family == AF_INET6_)
			emit_plain(r, a, g, 8 /* net_connect */, g->port, g->pid, ts, 0);
		return;
	case SC_RENAME:
		emit_path(r, a, g, 3 /* file_rename */, S_CREATE, ts);
		return;
	case SC_UNLINK:
		emit_path(r, a, g, 4 /* file_delete */, S_DELETE, ts);
		return;
	case SC_ACCEPT:
		if (!(g->seen & SEEN_SA) || !g->sa_ok)
			r->c.unkeyed++;
		else if (g->family != AF_INET_ && g->family != AF_INET6_)
			;
		else if (g->a0_st != V_OK)
			r->c.unkeyed++; /* no listening fd to look up (none so large exists) */
		else /* the server port is the listening socket's: Python looks it up */
			emit_plain(r, a, g, SBFD_AUDIT_ACCEPT, g->port, g->pid, ts, g->a0);
		return;
	}
}

static void decode(struct sbfd *r, struct sbfd_audit *a, const struct agroup *g, int64_t ts)
{
	a->t_bad = 0;
	decode_events(r, a, g, ts);
	if (a->t_bad)
		r->c.parse_errors++;
}

/* A datagram handed to Python in hex (CONFIG_CHANGE, a sample of a bad one). */
static void emit_hex(struct sbfd *r, struct sbfd_audit *a, int kind, const char *buf,
		     size_t n, int64_t t)
{
	static const char hx[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < n; i++) {
		a->scratch[2 * i] = hx[(unsigned char)buf[i] >> 4];
		a->scratch[2 * i + 1] = hx[(unsigned char)buf[i] & 15];
	}
	sbfd_emit(r, kind, 0, 0, t, -1, (int64_t)n, a->scratch, (long)(2 * n));
}

/* A datagram parse.py would count in parse_errors at feed (not framed, no header). */
static int bad(struct sbfd *r, struct sbfd_audit *a, const char *buf, size_t n, int64_t t)
{
	if (a->samples < MAX_SAMPLES) {
		if (!sbfd_room(r, 1, 2 * n + 1) || reserve(&a->scratch, &a->scap, 2 * n + 1))
			return SBFD_ROOM;
		emit_hex(r, a, SBFD_AUDIT_BAD, buf, n, t);
		a->samples++;
	}
	r->c.audit_records++;
	r->c.parse_errors++;
	return SBFD_DONE;
}

/* Decode the groups whose EOE never came: those first seen more than stale_ns before t,
 * or all; oldest first (they were made in time order). */
static int flush(struct sbfd *r, struct sbfd_audit *a, int64_t t, int everything)
{
	while (a->head != NIL) {
		uint32_t i = a->head;
		struct agroup *g = &a->g[i];
		long bytes;

		if (!everything && t - g->first_seen <= a->stale_ns)
			break;
		bytes = need(a, g);
		if (bytes < 0 || !sbfd_room(r, 2, (size_t)bytes))
			return SBFD_ROOM;
		r->c.incomplete++;
		decode(r, a, g, t);
		release(a, i);
	}
	return SBFD_DONE;
}

/* One datagram. Nothing is counted before the output has room for what it may emit: a
 * datagram that does not fit is parsed again after the handoff. */
static int one(struct sbfd *r, struct sbfd_audit *a, const char *buf, size_t n, int64_t t)
{
	uint32_t length, gi;
	uint16_t type;
	const char *p, *end;
	struct header h;
	int fresh;

	if (n < NLMSG_HDR)
		return bad(r, a, buf, n, t);
	memcpy(&length, buf, 4);
	memcpy(&type, buf + 4, 2);
	if (length == n || length == ((n + 3) & ~(size_t)3))
		end = buf + n;                   /* a well-behaved header */
	else if (NLMSG_HDR + (uint64_t)length <= n)
		end = buf + NLMSG_HDR + length;  /* the audit length quirk */
	else
		return bad(r, a, buf, n, t);
	if (type < 1300 || type >= 1400 || type == AUDIT_REPLACE) {
		r->c.audit_records++;
		r->c.other_records++;            /* replies, user messages, the REPLACE probe */
		return SBFD_DONE;
	}
	p = buf + NLMSG_HDR;
	while (end > p && (end[-1] == '\0' || end[-1] == '\n'))
		end--;
	if (parse_header(p, end, &h))
		return bad(r, a, buf, n, t);
	if (type == AUDIT_EOE) {
		uint64_t i;
		long bytes;

		if (sbfd_map_get(&a->serials, h.serial, &i)) {
			bytes = need(a, &a->g[i]);
			if (bytes < 0 || !sbfd_room(r, 2, (size_t)bytes))
				return SBFD_ROOM;
			decode(r, a, &a->g[i], t);
			release(a, (uint32_t)i);
		}
		r->c.audit_records++;
		return SBFD_DONE;
	}
	if (type == AUDIT_CONFIG_CHANGE) { /* tampering, maybe: Python reads it now */
		if (!sbfd_room(r, 1, 2 * n + 1) || reserve(&a->scratch, &a->scap, 2 * n + 1))
			return SBFD_ROOM;
		emit_hex(r, a, SBFD_AUDIT_CONFIG, buf, n, t);
		r->c.audit_records++;
		r->c.other_records++;
		return SBFD_NOW;
	}
	if (!event_part(type)) {
		r->c.audit_records++;
		r->c.other_records++;
		return SBFD_DONE;
	}
	gi = group(a, h.serial, t, &fresh);
	/* what the record may add to the group's strings is at most its own length */
	if (gi == NIL || reserve(&a->g[gi].buf, &a->g[gi].cap,
				 a->g[gi].len + (size_t)(end - h.body) + MAX_ARGS + 1)) {
		if (gi != NIL && fresh)
			release(a, gi); /* made for this record: not a group yet */
		return SBFD_ROOM;
	}
	r->c.audit_records++;
	take(&a->g[gi], type, h.body, end, h.t, h.t_ok);
	return SBFD_DONE;
}

/* ---- the parser's entry points -------------------------------------------------------- */

int sbfd_parse_audit(struct sbfd *r, const char *buf, size_t n, size_t *offp, int64_t t)
{
	struct sbfd_audit *a = r->audit;
	int st;

	if (*offp >= n && n) /* taken already (a CONFIG_CHANGE ended the batch) */
		return SBFD_DONE;
	if (t - a->last_flush > FLUSH_EVERY_NS) {
		if (flush(r, a, t, 0) == SBFD_ROOM)
			return SBFD_ROOM;
		a->last_flush = t;
	}
	st = one(r, a, buf, n, t);
	if (st != SBFD_ROOM)
		*offp = n;
	return st;
}

int sbfd_audit_flush(struct sbfd *r, int64_t t, int everything)
{
	return flush(r, r->audit, t, everything);
}

int sbfd_audit_init(struct sbfd *r)
{
	struct sbfd_audit *a = calloc(1, sizeof(*a));
	struct timespec ts;

	if (!a)
		return -ENOMEM;
	a->free_head = a->head = a->tail = NIL;
	a->stale_ns = 2000000000LL; /* Assembler's stale_s */
	clock_gettime(CLOCK_MONOTONIC, &ts);
	a->last_flush = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
	r->audit = a;
	return 0;
}

void sbfd_audit_free(struct sbfd *r)
{
	struct sbfd_audit *a = r->audit;
	uint32_t i;

	if (!a)
		return;
	for (i = 0; i < a->ng; i++)
		free(a->g[i].buf);
	free(a->g);
	free(a->scratch);
	sbfd_map_free(&a->serials);
	sbfd_map_free(&a->classes);
	free(a);
	r->audit = NULL;
}

/* Python: what syscall `nr` is (SC_*, from the machine's table), and the age of a group
 * whose EOE never came at which it is decoded anyway. */
int sbfd_audit_syscall(struct sbfd *r, long nr, int cls)
{
	if (!r->audit)
		return -EINVAL;
	return sbfd_map_put(&r->audit->classes, (uint64_t)nr, (uint64_t)cls) ? -ENOMEM : 0;
}

int sbfd_audit_stale(struct sbfd *r, int64_t stale_ns)
{
	if (!r->audit)
		return -EINVAL;
	r->audit->stale_ns = stale_ns;
	return 0;
}

/* Groups held, waiting for their EOE (tests, stats). */
long sbfd_audit_open_groups(struct sbfd *r)
{
	return r->audit ? (long)r->audit->serials.used : -1;
}
