"""``psutil``: a user-mode sensor that polls the process and connection tables.

Every ``interval_ms`` it lists pids and TCP connections and reports differences: a new pid
is a fork, a new pid whose command line differs from its parent's has exec'd, a vanished
pid has exited; a new established connection is a connect (client side) or an accept (the
side whose local port is a listening port). Anything that starts and ends between two
polls is never seen: that loss is what this backend exists to measure.
"""

from __future__ import annotations

import threading
import time

import psutil

from bench.core.events import EventSink

from bench.backends.base import Backend
from bench.core.settings import Setting, positive
from bench.core.kinds import PROC_KINDS, Kind, port_pair


class PsutilBackend(Backend):
    name = "psutil"
    mode = "user"
    mechanism = "polling (psutil: /proc)"
    kinds = PROC_KINDS | {Kind.net_connect, Kind.net_accept}
    description = "polls the process and TCP connection tables"
    settings = {
        "interval_ms": Setting(float, 100.0, "poll interval (ms)", positive),
        "net": Setting(int, 1, "also poll the TCP connection table (0/1)"),
    }

    @classmethod
    def quiet_for(cls, settings) -> float:
        return max(cls.quiet_s, 3 * settings["interval_ms"] / 1000)

    def start(self, sink: EventSink) -> None:
        self.sink = sink
        self.polls = 0
        self.overruns = 0  # polls that took longer than the interval
        self._stop = threading.Event()
        # The first snapshot is the baseline: what exists before the cell is not an event.
        self._pids = set(psutil.pids())
        self._cmdlines: dict[int, list[str]] = {}
        self._conns = self._connections() if self.cfg["net"] else set()
        self._thread = threading.Thread(target=self._loop, name="psutil-poll", daemon=True)
        self._thread.start()

    def _cmdline(self, pid: int) -> list[str] | None:
        try:
            return psutil.Process(pid).cmdline()
        except (psutil.Error, OSError):
            return None

    def _poll_procs(self) -> None:
        pids = set(psutil.pids())
        add = self.sink.add
        for pid in pids - self._pids:
            add(Kind.proc_fork, pid, None, pid)
            cmd = self._cmdline(pid)
            if not cmd:
                continue
            try:
                parent = psutil.Process(pid).ppid()
            except (psutil.Error, OSError):
                parent = 0
            pcmd = self._cmdlines.get(parent) or self._cmdline(parent)
            if pcmd is not None:
                self._cmdlines[parent] = pcmd
            if cmd != pcmd:
                add(Kind.proc_exec, pid, " ".join(cmd), pid)
        for pid in self._pids - pids:
            add(Kind.proc_exit, pid, None, pid)
            self._cmdlines.pop(pid, None)
        self._pids = pids

    def _connections(self) -> set[tuple]:
        try:
            conns = psutil.net_connections(kind="tcp4")
        except (psutil.Error, OSError):
            return set()
        listening = {c.laddr.port for c in conns if c.status == psutil.CONN_LISTEN}
        out = set()
        for c in conns:
            if c.status != psutil.CONN_ESTABLISHED or not c.raddr:
                continue
            if c.laddr.port in listening:
                out.add((Kind.net_accept, port_pair(c.raddr.port, c.laddr.port), c.pid or 0))
            else:
                out.add((Kind.net_connect, port_pair(c.laddr.port, c.raddr.port), c.pid or 0))
        return out

    def _loop(self) -> None:
        interval = self.cfg["interval_ms"] / 1000
        next_t = time.monotonic()
        while not self._stop.is_set():
            next_t += interval
            # t_seen is stamped as each difference is found, not at the start of the poll.
            self._poll_procs()
            if self.cfg["net"]:
                conns = self._connections()
                for kind, key, pid in conns - self._conns:
                    self.sink.add(kind, key, None, pid)
                self._conns = conns
            self.polls += 1
            delay = next_t - time.monotonic()
            if delay < 0:
                self.overruns += 1
                next_t = time.monotonic()
            else:
                self._stop.wait(delay)

    def stop(self) -> None:
        if getattr(self, "_thread", None) is not None:
            self._stop.set()
            self._thread.join(timeout=5)
            self._thread = None

    def stats(self) -> dict:
        # Polling has no loss counter: what it misses it never knows about.
        return {"self_reported_lost": None, "polls": getattr(self, "polls", 0),
                "overruns": getattr(self, "overruns", 0)}
