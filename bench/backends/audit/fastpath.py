"""The audit consumer's C path (``parser=c``): libsbfd.so receives, groups and decodes the
records (``bench/backends/_native/audit.c``); this module sets it up and takes its batches.

The Python reference (``parse.Assembler`` on a ``ReaderThread``) receives one datagram per
``recv`` and runs two regular expressions and a dict per record, so its cost per event is
mostly Python's. Here the loop is C's: recvmmsg of up to 256 datagrams a call, the header
and the few fields the decoder needs taken out in C, groups by serial in a C hash map,
events decoded there into ``struct sbfd_rec`` rows; Python wakes once per handoff and
does, per batch and with numpy, what C cannot: the wall-clock timestamps become monotonic
(``offset_ns``, as ``AuditBackend._emit`` does), and accepts get their server port, each
distinct (pid, listening fd) of the batch looked up once in /proc (``_linux.ListenPorts``).
The rare records that need Python's attention come as records of negative kinds: a
CONFIG_CHANGE (read here with the reference's own ``_config_change``, unless
``stopping``), the first undecodable datagrams (written to ``bad_samples`` as the
reference writes them), a name with a NUL byte (in hex).

``NativeAssembler`` keeps an ``Assembler`` for what is Python's (``config_changes``,
``bad_samples``, ``stopping``) and reports the reference's counters (``counts``).
"""

from __future__ import annotations

import numpy as np

from bench.backends import _batch
from bench.backends.audit.parse import Assembler, RecordError, parse_record, split_datagram
from bench.core.events import EventSink
from bench.core.kinds import Kind

# What Assembler._decode does with a syscall, by name (audit.c's SC_*).
CLASSES = {"execve": 1, "execveat": 1, "clone": 2, "clone3": 2, "fork": 2, "vfork": 2,
           "exit_group": 3, "open": 4, "openat": 5, "openat2": 6, "creat": 7, "connect": 8,
           "rename": 9, "renameat": 9, "renameat2": 9, "unlink": 10, "unlinkat": 10,
           "accept": 11, "accept4": 11}
# audit.c's records that are not events (fdread.h)
ACCEPT, CONFIG, BAD, HEXNAME = -3, -4, -5, -6


class NativeAssembler:
    """The C reader of the audit socket ``fd`` (-1: ``feed`` only), delivering to ``sink``.

    ``syscalls``, ``listen_port`` and ``stale_s`` are the ``Assembler``'s; ``offset_ns``
    (realtime - monotonic) turns the records' wall-clock times into monotonic ones."""

    def __init__(self, fd: int, sink: EventSink, syscalls: dict[str, int], listen_port=None,
                 offset_ns: int = 0, handoff_ms: int = _batch.HANDOFF_MS.default,
                 stale_s: float = 2.0, cap: int = _batch.CAP, poll_ms: int = 0):
        self.asm = Assembler(syscalls, listen_port, stale_s)
        self.offset_ns = offset_ns
        self._offset = np.uint64(offset_ns & 0xFFFF_FFFF_FFFF_FFFF)
        self.unresolved = 0          # accepts whose listening socket was not found
        self.reader = _batch.NativeReader("audit", fd, sink, self._shape, "audit", handoff_ms,
                                          cap=cap)
        L, r = self.reader.L, self.reader.r
        for nr, name in self.asm.names.items():
            if name in CLASSES and L.audit_syscall(r, nr, CLASSES[name]):
                raise MemoryError("C reader: cannot grow the syscall table")
        L.audit_stale(r, int(stale_s * 1e9))
        L.set_poll(r, poll_ms)

    # -- what the backend and the tests call ---------------------------------------------
    def start(self) -> None:
        self.reader.start()

    def stop(self) -> None:
        """Last drain, groups without EOE decoded (incomplete), reader freed."""
        self.reader.stop()

    @property
    def error(self) -> str | None:
        return self.reader.error

    def feed(self, *datagrams: bytes) -> None:
        """Datagrams as the socket would give them, parsed and delivered (tests)."""
        self.reader.feed(*datagrams)

    def flush(self, everything: bool = True) -> None:
        """Assembler.flush: groups whose EOE never came (all, or the stale ones)."""
        self.reader.flush(everything)

    def open_groups(self) -> int:
        if self.reader.r is None:
            return 0
        return int(self.reader.L.audit_open_groups(self.reader.r))

    @property
    def stopping(self) -> bool:
        return self.asm.stopping

    @stopping.setter
    def stopping(self, value: bool) -> None:
        self.asm.stopping = value   # our own rule removals follow: not tampering

    def counts(self) -> dict[str, int]:
        """The Assembler's counters, by its names."""
        c = self.reader.counters()
        return {"records": c["audit_records"], "parse_errors": c["parse_errors"],
                "incomplete": c["incomplete"], "other_records": c["other_records"],
                "unkeyed": c["unkeyed"] + self.unresolved}

    # -- one batch ------------------------------------------------------------------------
    def _shape(self, b: _batch.Batch):
        rec = b.rec
        # wall clock -> monotonic. C gives the wall time as 64 unsigned bits (a year past
        # 2262 in a damaged record is still a time): the difference is taken modulo 2^64.
        tk = rec["t_kernel"].view(np.uint64)
        tk -= self._offset
        if not b.special:
            return None, (b.name_column() if b.names else None)
        kind, names = rec["kind"], b.name_column()
        special = np.flatnonzero(kind < 0)
        accepts = special[kind[special] == ACCEPT]
        for i in special[kind[special] != ACCEPT].tolist():  # rare: not one per event
            raw = bytes.fromhex(names[i])
            if kind[i] == HEXNAME:
                names[i] = raw.decode("utf-8", "surrogateescape")
                kind[i] = rec["aux"][i]
            elif kind[i] == CONFIG:
                self._config_change(raw)
            elif kind[i] == BAD:
                self._sample(raw)
        if len(accepts):
            self._accepts(rec, accepts)
        ev = kind > 0
        return ev, names[ev]

    def _accepts(self, rec: np.ndarray, rows: np.ndarray) -> None:
        """net_accept keyed by (client port, the listening socket's port): each distinct
        (pid, fd) of the batch looked up once; not found: unkeyed, as in the reference."""
        pid, fd = rec["pid"][rows], rec["aux"][rows]
        if pid.min() >= 0 and pid.max() < 1 << 31 and fd.min() >= 0 and fd.max() < 1 << 31:
            # one int64 per socket: a flat unique (np.unique(axis=1) costs 20 times more)
            keys, inverse = np.unique(pid << 32 | fd, return_inverse=True)
            pairs = zip((keys >> 32).tolist(), (keys & 0xFFFFFFFF).tolist())
        else:   # an fd no process has (a damaged record): the slow way
            order = dict.fromkeys(zip(pid.tolist(), fd.tolist()))
            index = {p: i for i, p in enumerate(order)}
            inverse = np.array([index[p] for p in zip(pid.tolist(), fd.tolist())])
            pairs = iter(order)
        found_port = [self.asm.listen_port(p, f) for p, f in pairs]
        ports = np.array([-1 if p is None else p for p in found_port],
                         dtype=np.int64)[inverse.ravel()]
        found = ports >= 0
        self.unresolved += int(len(rows) - found.sum())
        ok = rows[found]
        rec["key"][ok] = (rec["key"][ok] << 16) | ports[found]
        rec["kind"][ok] = int(Kind.net_accept)

    def _config_change(self, raw: bytes) -> None:
        mtype, text = split_datagram(raw)   # C checked it: it parses
        self.asm._config_change(parse_record(mtype, text))

    def _sample(self, raw: bytes) -> None:
        """parse_error_samples as Assembler.feed writes them, from the datagram itself."""
        try:
            mtype, text = split_datagram(raw)
            parse_record(mtype, text)
            why = "a serial beyond 64 bits"   # what only C refuses (audit.c)
        except (RecordError, ValueError) as e:
            why = str(e)
        if len(self.asm.bad_samples) < 3:
            self.asm.bad_samples.append(f"{why}: {raw[:160]!r}")
