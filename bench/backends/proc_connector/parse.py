"""Decoding of proc connector (cn_proc) messages: no sockets here, only bytes.

Each netlink message carries a ``struct cn_msg`` (id.idx, id.val, seq, ack, len, flags)
followed by a ``struct proc_event``: what, cpu, timestamp_ns (``ktime_get_ns()``, the same
clock as CLOCK_MONOTONIC) and a union whose layout depends on ``what``. The kernel numbers
messages per CPU (``cn_msg.seq``, with ``proc_event.cpu`` saying which counter), so a gap in
one CPU's sequence is an exact count of messages lost on the way to us, even though the
socket itself only says ENOBUFS.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from bench.backends import _netlink
from bench.core.kinds import Kind

CN_IDX_PROC = 1
CN_VAL_PROC = 1
PROC_CN_MCAST_LISTEN = 1
PROC_CN_MCAST_IGNORE = 2

PROC_EVENT_FORK = 0x00000001
PROC_EVENT_EXEC = 0x00000002
PROC_EVENT_EXIT = 0x80000000

CN_MSG = struct.Struct("=IIIIHH")           # idx, val, seq, ack, len, flags
EV_HDR = struct.Struct("=IIQ")              # what, cpu, timestamp_ns
FORK = struct.Struct("=IIII")               # parent pid, parent tgid, child pid, child tgid
EXEC = struct.Struct("=II")                 # pid, tgid
EXIT = struct.Struct("=IIII")               # pid, tgid, exit_code, exit_signal (+ parent)


@dataclass(frozen=True)
class ProcEvent:
    kind: Kind
    pid: int           # tgid of the process the event is about (the child for fork)
    tid: int
    ppid: int          # parent tgid for fork, 0 otherwise
    exit_code: int     # wait status for exit, 0 otherwise
    cpu: int
    seq: int
    t_kernel: int      # monotonic ns


def subscribe_message(op: int, pid: int = 0) -> bytes:
    """The netlink message that starts (LISTEN) or stops (IGNORE) our subscription."""
    payload = struct.pack("=I", op)
    cn = CN_MSG.pack(CN_IDX_PROC, CN_VAL_PROC, 0, 0, len(payload), 0) + payload
    return _netlink.pack(_netlink.NLMSG_DONE, cn, flags=0, pid=pid)


class Decoder:
    """Turns datagrams into ProcEvents; counts what it cannot decode and what was lost."""

    def __init__(self) -> None:
        self.parse_errors = 0
        self.lost = 0                  # gaps in the kernel's per-CPU sequence numbers
        self.other = 0                 # well-formed events of types we do not report
        self.threads = 0               # fork/exit of threads (pid != tgid): not processes
        self._next_seq: dict[int, int] = {}

    def _seq(self, cpu: int, seq: int) -> None:
        expect = self._next_seq.get(cpu)
        if expect is not None and seq > expect:
            self.lost += seq - expect
        # A seq below the expected one (wrap, or a second listener's replay) just resyncs.
        self._next_seq[cpu] = seq + 1

    def decode(self, buf: bytes | memoryview) -> list[ProcEvent]:
        msgs, bad = _netlink.split(buf)
        self.parse_errors += bad
        out: list[ProcEvent] = []
        for mtype, _flags, _seq, payload in msgs:
            if mtype in (_netlink.NLMSG_NOOP, _netlink.NLMSG_ERROR, _netlink.NLMSG_OVERRUN):
                continue
            ev = self._one(payload)
            if ev is not None:
                out.append(ev)
        return out

    def _one(self, p: memoryview) -> ProcEvent | None:
        if len(p) < CN_MSG.size + EV_HDR.size:
            self.parse_errors += 1
            return None
        idx, val, seq, _ack, length, _fl = CN_MSG.unpack_from(p, 0)
        if (idx, val) != (CN_IDX_PROC, CN_VAL_PROC) or CN_MSG.size + length > len(p) \
                or length < EV_HDR.size:
            self.parse_errors += 1
            return None
        what, cpu, ts = EV_HDR.unpack_from(p, CN_MSG.size)
        body = CN_MSG.size + EV_HDR.size
        room = CN_MSG.size + length - body
        if what == PROC_EVENT_FORK:
            if room < FORK.size:
                self.parse_errors += 1
                return None
            self._seq(cpu, seq)
            _ppid, ptgid, cpid, ctgid = FORK.unpack_from(p, body)
            if cpid != ctgid:
                self.threads += 1
                return None
            return ProcEvent(Kind.proc_fork, ctgid, cpid, ptgid, 0, cpu, seq, ts)
        if what == PROC_EVENT_EXEC:
            if room < EXEC.size:
                self.parse_errors += 1
                return None
            self._seq(cpu, seq)
            pid, tgid = EXEC.unpack_from(p, body)
            return ProcEvent(Kind.proc_exec, tgid, pid, 0, 0, cpu, seq, ts)
        if what == PROC_EVENT_EXIT:
            if room < EXIT.size:
                self.parse_errors += 1
                return None
            self._seq(cpu, seq)
            pid, tgid, code, _sig = EXIT.unpack_from(p, body)
            if pid != tgid:
                self.threads += 1
                return None
            return ProcEvent(Kind.proc_exit, tgid, pid, 0, code, cpu, seq, ts)
        if what != 0:  # PROC_EVENT_NONE is the (cpu = -1) ack of a subscription: no seq
            self._seq(cpu, seq)
        self.other += 1
        return None
