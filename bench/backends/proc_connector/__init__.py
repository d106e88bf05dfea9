"""``proc_connector``: a user-mode process sensor on the kernel's proc connector (cn_proc).

The kernel multicasts one netlink message per fork, exec and exit to every listener of the
CN_IDX_PROC group. There is no queue of its own: when our socket's receive buffer is full
the message is dropped and the next read fails with ENOBUFS, with no count. The kernel's
per-CPU sequence numbers let us count the gap exactly anyway (``self_reported_lost``);
``enobufs`` says how many times the socket reported an overrun. Messages carry pids and a
monotonic timestamp but no argv: ``argv=1`` reads ``/proc/PID/cmdline`` on exec, which
races with short-lived processes and costs a file read per exec.

``parser=c`` (default): libsbfd.so receives with recvmmsg (256 datagrams a call) and
parses in C (``bench.backends._batch``), argv=1 included (the cmdline is read in C right
after the message, as the Python reference reads it right after decoding);
``parser=python`` is the reference, decoding every message here.
"""

from __future__ import annotations

import errno
import socket

from bench.core.clock import now_ns
from bench.backends import _batch
from bench.backends._reader import ReaderThread
from bench.core.events import EventSink
from bench.backends._common import UNSAFE_UPDATE
from bench.backends.base import Backend, is_root
from bench.core.kinds import PROC_KINDS, Kind
from bench.core.settings import Setting, non_negative

from bench.backends.proc_connector.parse import Decoder


def _cmdline(pid: int) -> str | None:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            raw = f.read(4096)
    except OSError:
        return None
    return raw.rstrip(b"\0").replace(b"\0", b" ").decode("utf-8", "replace") or None


class ProcConnectorBackend(Backend):
    name = "proc_connector"
    mode = "user"
    mechanism = "netlink proc connector (cn_proc)"
    kinds = PROC_KINDS
    description = "fork/exec/exit multicast over NETLINK_CONNECTOR; ENOBUFS on overrun"
    settings = {
        "rcvbuf_kb": Setting(int, 0, "socket receive buffer (KiB; 0 = net.core.rmem_default)",
                             non_negative),
        "argv": Setting(int, 0, "read /proc/PID/cmdline on exec to report argv (0/1)"),
        "parser": _batch.PARSER,
        "handoff_ms": _batch.HANDOFF_MS,
        "unsafe_update": UNSAFE_UPDATE,
    }
    update_cases = ("rules",)
    native: _batch.NativeReader | None = None

    @classmethod
    def available(cls) -> str | None:
        if not is_root():
            return "needs root (CAP_NET_ADMIN to join the proc connector group)"
        try:
            from bench.backends.proc_connector._linux import close_socket, open_socket

            close_socket(open_socket())
        except OSError as e:
            return f"proc connector unavailable: {e.strerror or e} (CONFIG_PROC_EVENTS?)"
        return _batch.missing()

    def start(self, sink: EventSink) -> None:
        from bench.backends.proc_connector._linux import open_socket

        self.sink = sink
        self.decoder = Decoder()
        self.enobufs = 0
        self.messages = 0
        self.sock = open_socket(self.cfg["rcvbuf_kb"] * 1024)
        self.rcvbuf = self.sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF)
        if self.cfg["parser"] == "c":
            opt = _batch.OPT_ARGV if self.cfg["argv"] else 0
            # argv as the Python reference decodes it (errors="replace")
            self.reader = self.native = _batch.NativeReader(
                "cn_proc", self.sock.fileno(), sink, self._shape, "cn_proc",
                self.cfg["handoff_ms"], opt, name_errors="replace")
        else:
            self.reader = ReaderThread(self.sock.fileno(), self._drain, "cn_proc")
        self.reader.start()

    def _shape(self, b: _batch.Batch):
        """parser=c: every record is an event; exec's argv (argv=1) is the path column."""
        return None, (b.name_column() if self.cfg["argv"] else None)

    def _drain(self) -> None:
        recv, decode, add = self.sock.recv, self.decoder.decode, self.sink.add
        argv = self.cfg["argv"]
        clock = now_ns
        while True:
            try:
                buf = recv(65536)
            except BlockingIOError:
                return
            except OSError as e:
                if e.errno == errno.ENOBUFS:  # the kernel dropped messages: count, go on
                    self.enobufs += 1
                    continue
                raise
            self.messages += 1
            for ev in decode(buf):
                path = _cmdline(ev.pid) if argv and ev.kind == Kind.proc_exec else None
                add(ev.kind, ev.pid, path, ev.pid, clock(), ev.t_kernel)

    def stop(self) -> None:
        from bench.backends.proc_connector._linux import close_socket

        if getattr(self, "reader", None) is not None:
            self.reader.stop()
        if getattr(self, "sock", None) is not None:
            close_socket(self.sock)
            self.sock = None

    def stats(self) -> dict:
        d = getattr(self, "decoder", None)
        st = {
            "self_reported_lost": d.lost if d else None,
            "self_reported_lost_source": "gaps in cn_msg per-CPU sequence numbers",
            "enobufs": getattr(self, "enobufs", 0),
            "parse_errors": d.parse_errors if d else 0,
            "messages": getattr(self, "messages", 0),
            "thread_events_ignored": d.threads if d else 0,
            "other_events": d.other if d else 0,
            "rcvbuf_bytes": getattr(self, "rcvbuf", None),
        }
        if self.native is not None:
            c = self.native.counters()
            st.update(self_reported_lost=c["lost"], enobufs=c["enobufs"],
                      parse_errors=c["parse_errors"], messages=c["messages"],
                      thread_events_ignored=c["threads"], other_events=c["other"],
                      reads=c["reads"], batches=self.native.batches)
            if self.cfg["argv"]:
                st["argv_misses"] = c["argv_misses"]
        return st
