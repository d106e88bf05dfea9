"""Decoding of audit records into events: text in, events out, no sockets.

Each datagram from the kernel holds one record: a netlink header whose type is the record
type (SYSCALL=1300, PATH=1302, ...) and the text ``audit(SEC.MSEC:SERIAL): key=value ...``.
(The kernel sets ``nlmsg_len`` of these records to the payload length, without the header:
a historical quirk libaudit also copes with.) One syscall produces several records with
the same serial, ended by EOE; records of different events may interleave, so they are
grouped by serial. A group that never sees its EOE (a record was lost) is decoded anyway
once it is older than ``stale_s`` and counted as incomplete.

The timestamp is the wall clock (coarse: jiffy resolution, milliseconds in the text) taken
at syscall entry; ``to_monotonic`` converts it with the realtime - monotonic offset.

Two kinds come with part of their key only (``rules.PARTIAL_KEYS``): a connect is keyed by
the server port of its SOCKADDR record (the client port appears nowhere) with the caller's
pid; a file_write is an open with write access, keyed by the path opened, before any
write(2) happens. Write access is read from the flags: the SYSCALL record's ``a1`` (open)
or ``a2`` (openat), in hex; creat always writes; openat2 passes a pointer to its
``struct open_how``, which the record cannot show, but the kernel copies the struct into an
OPENAT2 record (``oflag=0101``, octal) of the same event, which is read instead.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field

from bench.core.clock import now_ns
from bench.core.errors import ParseError
from bench.core.kinds import Kind, port_pair

AUDIT_SYSCALL = 1300
AUDIT_PATH = 1302
AUDIT_SOCKADDR = 1306
AUDIT_CONFIG_CHANGE = 1305   # rules added/removed, audit enabled/disabled: tampering
AUDIT_CWD = 1307
AUDIT_EXECVE = 1309
AUDIT_EOE = 1320
AUDIT_PROCTITLE = 1327
AUDIT_REPLACE = 1329  # binary probe of the audit pid's socket (4-byte pid), not a record
AUDIT_OPENAT2 = 1337  # openat2's struct open_how: oflag, mode, resolve
EVENT_PARTS = frozenset({AUDIT_SYSCALL, AUDIT_PATH, AUDIT_SOCKADDR, AUDIT_CWD, AUDIT_EXECVE,
                         AUDIT_PROCTITLE, AUDIT_OPENAT2,
                         1303, 1318, 1321, 1323, 1331})  # +IPC,BPRM_FCAPS,..
AF_INET, AF_INET6 = 2, 10
O_ACCMODE, O_TRUNC = 0o3, 0o1000
# where an open's flags are: the SYSCALL record's argument, in hex (openat2: see above)
_FLAGS_ARG = {"open": b"a1", "openat": b"a2"}
_NLMSG_HDR = 16

_HEADER = re.compile(rb"audit\((\d+)\.(\d{3}):(\d+)\): ?")
_FIELD = re.compile(rb"([A-Za-z0-9_]+)=(\"[^\"]*\"|\S*)")
_HEX = re.compile(rb"^[0-9A-Fa-f]+$")


class RecordError(ParseError):
    """An audit datagram that cannot be framed or has no audit(...) header."""


def split_datagram(buf: bytes) -> tuple[int, bytes]:
    """(record type, text) of one datagram; RecordError if it cannot be framed."""
    if len(buf) < _NLMSG_HDR:
        raise RecordError("datagram shorter than a netlink header")
    length = int.from_bytes(buf[0:4], "little")
    mtype = int.from_bytes(buf[4:6], "little")
    if length == len(buf) or length == ((len(buf) + 3) & ~3):
        payload = buf[_NLMSG_HDR:length]          # a well-behaved header
    elif _NLMSG_HDR + length <= len(buf):
        payload = buf[_NLMSG_HDR:_NLMSG_HDR + length]  # the audit length quirk
    else:
        raise RecordError(f"nlmsg_len {length} beyond a {len(buf)}-byte datagram")
    return mtype, payload.rstrip(b"\0\n")


def decode_value(raw: bytes) -> bytes | None:
    """An audit string value: "quoted", hex-encoded (names with odd bytes), or (null)."""
    if raw.startswith(b'"'):
        return raw[1:-1] if raw.endswith(b'"') and len(raw) >= 2 else None
    if raw in (b"(null)", b"?", b""):
        return None
    if _HEX.match(raw) and len(raw) % 2 == 0:
        return bytes.fromhex(raw.decode())
    return None


@dataclass
class Record:
    rtype: int
    sec: int
    msec: int
    serial: int
    fields: dict[bytes, bytes]


def parse_record(mtype: int, text: bytes) -> Record:
    m = _HEADER.match(text)
    if not m:
        raise RecordError("no audit(...) header")
    return Record(mtype, int(m.group(1)), int(m.group(2)), int(m.group(3)),
                  dict(_FIELD.findall(text, m.end())))


@dataclass(frozen=True)
class AuditEvent:
    kind: Kind
    key: int
    path: str | None
    pid: int
    t_wall_ns: int


@dataclass
class _Group:
    first_seen: float
    records: list[Record] = field(default_factory=list)


class Assembler:
    """Groups records by serial and turns complete groups into AuditEvents.

    ``syscalls`` maps syscall numbers to names (the machine's table); ``listen_port`` is
    asked for the local port of a listening socket (pid, fd) to key an accept."""

    def __init__(self, syscalls: dict[str, int], listen_port=None, stale_s: float = 2.0):
        self.names = {nr: name for name, nr in syscalls.items()}
        self.listen_port = listen_port or (lambda pid, fd: None)
        self.stale_s = stale_s
        self.groups: dict[int, _Group] = {}
        self.parse_errors = 0
        self.incomplete = 0
        self.records = 0
        self.other_records = 0
        self.unkeyed = 0          # events recognised but not keyable (no SOCKADDR, accept port)
        self.bad_samples: list[str] = []  # the first few undecodable records, for meta.json
        # Changes to audit's own configuration the kernel reported (CONFIG_CHANGE): a rule
        # removed, audit disabled. What a sensor can see of someone blinding it.
        self.config_changes: list[str] = []
        self.stopping = False

    def feed(self, buf: bytes, now: float | None = None) -> list[AuditEvent]:
        """One datagram in, the events it completes out."""
        self.records += 1
        try:
            mtype, text = split_datagram(buf)
            if mtype < 1300 or mtype >= 1400 or mtype == AUDIT_REPLACE:
                self.other_records += 1  # replies, config changes, user messages
                return []
            rec = parse_record(mtype, text)
        except (RecordError, ValueError) as e:
            self.parse_errors += 1
            if len(self.bad_samples) < 3:
                self.bad_samples.append(f"{e}: {bytes(buf[:160])!r}")
            return []
        if rec.rtype == AUDIT_EOE:
            g = self.groups.pop(rec.serial, None)
            return self._decode(g.records) if g else []
        if rec.rtype == AUDIT_CONFIG_CHANGE:
            self._config_change(rec)
        if rec.rtype not in EVENT_PARTS:
            self.other_records += 1
            return []
        g = self.groups.get(rec.serial)
        if g is None:
            g = self.groups[rec.serial] = _Group(time.monotonic() if now is None else now)
        g.records.append(rec)
        return []

    def _config_change(self, rec: Record) -> None:
        f = rec.fields
        op = f.get(b"op", b"").decode(errors="replace")
        # Our own changes are the adds and the enable at start and the removals at stop
        # (after which nothing is counted): what is left is someone else's.
        disabled = op == "set" and f.get(b"audit_enabled") == b"0"
        if not self.stopping and (op == "remove_rule" or disabled):
            # errors="replace": a damaged record must not kill the reader (it did)
            what = ("audit rule removed" if op == "remove_rule" else
                    f"audit_enabled set to {f[b'audit_enabled'].decode(errors='replace')} "
                    f"(was {f.get(b'old', b'?').decode(errors='replace')})")
            who = f.get(b"auid", b"?").decode(errors="replace")
            if len(self.config_changes) < 20:
                self.config_changes.append(f"{what} (auid {who}, serial {rec.serial})")

    def flush(self, now: float | None = None, everything: bool = False) -> list[AuditEvent]:
        """Decode groups whose EOE never came (older than stale_s, or all)."""
        now = time.monotonic() if now is None else now
        out: list[AuditEvent] = []
        for serial in [s for s, g in self.groups.items()
                       if everything or now - g.first_seen > self.stale_s]:
            self.incomplete += 1
            out.extend(self._decode(self.groups.pop(serial).records))
        return out

    def _decode(self, records: list[Record]) -> list[AuditEvent]:
        sc = next((r for r in records if r.rtype == AUDIT_SYSCALL), None)
        if sc is None:
            self.incomplete += 1
            return []
        f = sc.fields
        try:
            nr = int(f[b"syscall"])
            pid = int(f[b"pid"])
        except (KeyError, ValueError):
            self.parse_errors += 1
            return []
        name = self.names.get(nr)
        t = sc.sec * 1_000_000_000 + sc.msec * 1_000_000
        ok = f.get(b"success") == b"yes"
        if name in ("execve", "execveat"):
            return [AuditEvent(Kind.proc_exec, pid, _argv(records), pid, t)] if ok else []
        if name in ("clone", "clone3", "fork", "vfork"):
            try:
                child = int(f.get(b"exit", b"0"))
            except ValueError:
                self.parse_errors += 1
                return []
            return [AuditEvent(Kind.proc_fork, child, None, child, t)] if ok and child > 0 else []
        if name == "exit_group":
            return [AuditEvent(Kind.proc_exit, pid, None, pid, t)]
        if not ok:
            return []
        if name in ("open", "openat", "openat2", "creat"):
            return self._open(name, records, f, pid, t)
        if name == "connect":
            return self._connect(records, pid, t)
        if name in ("rename", "renameat", "renameat2"):
            p = _path(records, b"CREATE")
            return [AuditEvent(Kind.file_rename, 0, p, pid, t)] if p else []
        if name in ("unlink", "unlinkat"):
            p = _path(records, b"DELETE")
            return [AuditEvent(Kind.file_delete, 0, p, pid, t)] if p else []
        if name in ("accept", "accept4"):
            return self._accept(records, f, pid, t)
        return []

    def _open(self, name, records, f, pid, t) -> list[AuditEvent]:
        """A create (a PATH record with nametype=CREATE) and, when the file was opened for
        writing, a file_write keyed by the path opened (the created one, else the file
        itself: nametype=NORMAL)."""
        out = []
        created = _path(records, b"CREATE")
        if created:
            out.append(AuditEvent(Kind.file_create, 0, created, pid, t))
        writes = self._opened_for_write(name, records, f)
        if writes is None:
            self.parse_errors += 1
        elif writes:
            p = created or _path(records, b"NORMAL")
            if p:
                out.append(AuditEvent(Kind.file_write, 0, p, pid, t))
        return out

    @staticmethod
    def _opened_for_write(name, records, f) -> bool | None:
        """Whether an open gives write access: an access mode other than O_RDONLY, or
        O_TRUNC (it changes the file, whatever the mode). O_CREAT alone does not: it makes
        a file (file_create), not a write. None when the flags cannot be read."""
        if name == "creat":
            return True   # creat(2) is open(O_CREAT|O_WRONLY|O_TRUNC)
        try:
            if name == "openat2":
                how = next((r for r in records if r.rtype == AUDIT_OPENAT2), None)
                if how is None:
                    return None
                flags = int(how.fields[b"oflag"], 8)
            else:
                flags = int(f[_FLAGS_ARG[name]], 16)
        except (KeyError, ValueError):
            return None
        return bool(flags & O_ACCMODE) or bool(flags & O_TRUNC)

    def _connect(self, records, pid, t) -> list[AuditEvent]:
        """Keyed by the server port alone, with the caller's pid (a partial key): the
        SOCKADDR record is the address connected to; the client's port is bound by the
        connect and appears in no record."""
        sa = _sockaddr(records)
        if sa is None:
            self.unkeyed += 1
            return []
        family, port = sa
        if family not in (AF_INET, AF_INET6):
            return []
        return [AuditEvent(Kind.net_connect, port_pair(0, port), None, pid, t)]

    def _accept(self, records, f, pid, t) -> list[AuditEvent]:
        sa = _sockaddr(records)
        if sa is None:
            self.unkeyed += 1
            return []
        family, client = sa
        if family not in (AF_INET, AF_INET6):
            return []
        try:
            server = self.listen_port(pid, int(f[b"a0"], 16))
        except (KeyError, ValueError):
            server = None
        if server is None:
            self.unkeyed += 1
            return []
        return [AuditEvent(Kind.net_accept, port_pair(client, server), None, pid, t)]


def _sockaddr(records: list[Record]) -> tuple[int, int] | None:
    """(family, port) of the event's SOCKADDR record (the peer of an accept, the server of
    a connect), None if it has none we can read. ``saddr`` is the sockaddr in hex: the
    family (host order), then for AF_INET/AF_INET6 the port (network order)."""
    sa = next((r for r in records if r.rtype == AUDIT_SOCKADDR), None)
    raw = decode_value(sa.fields.get(b"saddr", b"")) if sa else None
    if not raw or len(raw) < 8:
        return None
    return int.from_bytes(raw[0:2], "little"), int.from_bytes(raw[2:4], "big")


def _path(records: list[Record], nametype: bytes) -> str | None:
    """The absolute path of the PATH record with ``nametype`` (joined to CWD if relative)."""
    for r in records:
        if r.rtype == AUDIT_PATH and r.fields.get(b"nametype") == nametype:
            name = decode_value(r.fields.get(b"name", b""))
            if not name:
                return None
            if not name.startswith(b"/"):
                cwd = next((decode_value(c.fields.get(b"cwd", b"")) for c in records
                            if c.rtype == AUDIT_CWD), None)
                if not cwd:
                    return None
                name = cwd.rstrip(b"/") + b"/" + name
            return name.decode("utf-8", "surrogateescape")
    return None


def _argv(records: list[Record]) -> str | None:
    ex = next((r for r in records if r.rtype == AUDIT_EXECVE), None)
    if ex is None:
        return None
    try:
        argc = int(ex.fields.get(b"argc", b"0"))
    except ValueError:
        return None
    args = []
    for i in range(min(argc, 64)):
        v = decode_value(ex.fields.get(b"a%d" % i, b""))
        if v is None:
            break
        args.append(v.decode("utf-8", "surrogateescape"))
    return " ".join(args) or None


def clock_offset_ns(samples: int = 9) -> int:
    """realtime - monotonic, from the tightest of a few back-to-back readings."""
    best = None
    for _ in range(samples):
        m0 = now_ns()
        r = time.time_ns()
        m1 = now_ns()
        if best is None or m1 - m0 < best[0]:
            best = (m1 - m0, r - (m0 + m1) // 2)
    return best[1]
