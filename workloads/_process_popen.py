"""The process workload's portable spawner (``process:spawner=popen``): Windows's only one,
and runnable on Linux so that the same code is tested there for real.

Each operation starts a short-lived child with ``subprocess.Popen`` (CreateProcess on
Windows, vfork+exec on Linux) whose argv carries the run marker and op id
(``<marker>-<op>``), and records ``proc_exec`` keyed by the child's pid when Popen returns
(and ``proc_fork`` where the kernel forks, i.e. not on Windows, where CreateProcess makes
the process and maps its image in one step: no fork event exists). A reaper thread waits
for the children in the order they were started (they all do the same, so they end in
about that order) and the main thread records ``proc_exit`` when it has seen them end:
``t_done`` is when the wait returned, ``t_issue`` the child's own stamp of its exit when it
has one (``exact_exit_time``), otherwise the spawn's completion, as the Linux path does
without its native helper: an exit is never issued before then, so the event cannot look
earlier than its operation (which would make it foreign to the correlator), and its
latency is an upper bound. The time the wait returned would be later than the exit a
sensor stamps, and would lose fast sensors' exits.

The child (setting ``child``):

- ``shell`` (default): ``cmd.exe /d /c rem <marker>-<op>`` on Windows (``/d``: no AutoRun
  commands from the registry; ``rem`` does nothing), ``/bin/sh -c : <marker>-<op>`` on
  Linux. The smallest program both systems have that takes an arbitrary argv and exits at
  once: cmd.exe maps a handful of DLLs, where python.exe loads the interpreter, its DLLs
  and frozen modules; on this Linux VM ``sh -c :`` costs 1.1-1.4 ms a child against
  13-20 ms for ``python -I -S``. Its exit has no stamp (``exact_exit_time: false``).
- ``python``: the interpreter (``-I -S``: no site, no environment, no user directory)
  running a one-line ``-c`` that stamps ``perf_counter_ns`` (the harness's clock, QPC on
  Windows: one clock for every process) just before ``os._exit`` and returns it as its
  exit code, in microseconds after the spawn's start that its argv carries. On Windows an
  exit code has 32 bits, so exits get exact times (``exact_exit_time: true``); on Linux it
  has 8, so the code is ignored there. On Windows a venv's ``python.exe`` is a launcher
  that starts the base interpreter as a second process with another pid; the base
  interpreter (``sys._base_executable``) is started instead.

Children are started with DETACHED_PROCESS on Windows: no console at all. A console program
started with no console to share (the workload's own may have none) gets a ``conhost.exe``
of its own, a second process per operation that process sensors would report; detached,
it gets none and attaches to nothing. Their standard handles are not redirected (the
children write nothing), so no null device is opened per child (a file event of its own).

Rates, measured on Linux only (a 2-CPU VM shared with other jobs; closed loop, ``python -m
workloads process --rate max``, 5 s a run; median [range] of 3 runs, then the range of 9 in
three rounds): ``child=shell`` 671 [635-1016] operations per second (629-1016), and it
holds 500/s open loop (spawn 0.45 ms median, 3.3 ms p99); ``child=python``, bound by the
children's interpreter start-up on two CPUs, 60 [59-68] (41-88); the default posix_spawn
of sb-child (its static glibc build then), for comparison, 1388 [1379-1474] (900-1474). Windows was not measured (no
Windows machine here). As an expectation only: CreateProcess itself typically takes 1-5
ms, cmd.exe a few ms more of its own, and a python.exe child 20-50 ms of CPU, so expect a
few hundred operations per second with ``shell`` and a few tens with ``python`` on a few
cores, fewer under an antivirus that scans every new process.
"""

from __future__ import annotations

import ntpath
import os
import queue
import subprocess
import sys
import threading
import time

from bench.core.clock import now_ns
from bench.core.kinds import Kind
from bench.core.osapi import IS_WINDOWS
from workloads.base import wait_reaped

CHILDREN = ("shell", "python")
DETACHED_PROCESS = 0x00000008

# The python child: its own clock just before exiting, in µs after argv[2] (the spawn's
# start), as its exit code; at least 2 (0 is "no stamp", 1 Python's own error exit or a
# TerminateProcess by Popen.kill), at most INT_MAX (35 min).
PYTHON_CHILD = ("import os,sys,time;os._exit(max(2,min("
                "(time.perf_counter_ns()-int(sys.argv[2]))//1000,2147483647)))")


def interpreter(windows: bool = IS_WINDOWS) -> str:
    """The Python to start as a child: on Windows the base interpreter, not a venv's
    launcher (which would start it as a second process)."""
    if windows:
        return getattr(sys, "_base_executable", None) or sys.executable
    return sys.executable


def shell(windows: bool = IS_WINDOWS) -> str:
    """The system's command interpreter, by its full path (not ComSpec, not a PATH search)."""
    if windows:
        return ntpath.join(os.environ.get("SystemRoot", r"C:\Windows"), "System32", "cmd.exe")
    return "/bin/sh"


def child_argv(child: str, tag: str, base_ns: int, windows: bool = IS_WINDOWS,
               program: str | None = None) -> list[str]:
    """The argv of one child: ``tag`` is ``<marker>-<op>``, ``base_ns`` the spawn's start
    (the python child's exit stamp counts from it)."""
    if child == "python":
        return [program or interpreter(windows), "-I", "-S", "-c", PYTHON_CHILD, tag,
                str(base_ns)]
    if child != "shell":
        raise ValueError(f"unknown child {child!r} (known: {', '.join(CHILDREN)})")
    if windows:
        return [program or shell(True), "/d", "/c", "rem", tag]
    return [program or shell(False), "-c", ":", tag]


def exit_time(returncode: int | None, base_ns: int, t_reaped: int) -> int | None:
    """The python child's stamp of its exit from its exit code, or None when the code is
    no stamp (a plain exit, an error, a kill, a crash's NTSTATUS)."""
    if returncode is None or returncode < 2:
        return None
    t = base_ns + returncode * 1000
    return t if t <= t_reaped else None


class PopenSpawner:
    """Operations of a ``ProcessWorkload`` (``w``) with ``spawner=popen``; it records in
    ``w.ledger`` and counts failures in ``w.errors``."""

    def __init__(self, w, child: str = "shell", windows: bool = IS_WINDOWS,
                 program: str | None = None):
        if child not in CHILDREN:
            raise ValueError(f"unknown child {child!r} (known: {', '.join(CHILDREN)})")
        self.w = w
        self.child = child
        self.windows = windows
        self.program = program
        self.record_fork = not windows
        # Exit codes carry the stamp only where they have 32 bits.
        self.exact_exit_time = child == "python" and windows
        self.popen_args: dict = {"creationflags": DETACHED_PROCESS} if windows else {}
        self.pending: dict[int, tuple] = {}  # op -> (Popen, t_intended, t0, t1)
        self.reaped: list[tuple[int, int | None, int]] = []  # (op, returncode, t_reaped)
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._reaper = threading.Thread(target=self._reap_loop, name="reaper", daemon=True)

    def start(self) -> None:
        self._reaper.start()

    def op(self, i: int, t_intended: int) -> None:
        w = self.w
        clock = now_ns
        t0 = clock()
        try:
            p = subprocess.Popen(child_argv(self.child, f"{w.marker}-{i}", t0, self.windows,
                                            self.program), **self.popen_args)
        except OSError:
            w.errors += 1
            return
        t1 = clock()
        pid = p.pid
        rec = w.ledger.record
        if self.record_fork:
            rec(i, Kind.proc_fork, pid, None, t_intended, t0, t1)
        rec(i, Kind.proc_exec, pid, None, t_intended, t0, t1)
        self.pending[i] = (p, t_intended, t0, t1)
        self._queue.put((i, p))

    def _reap_loop(self) -> None:
        # Popen.wait releases the GIL; list.append is atomic, so the main thread drains
        # ``reaped`` without a lock. Only the main thread writes the ledger.
        clock = now_ns
        while True:
            item = self._queue.get()
            if item is None:
                return
            i, p = item
            try:
                rc = p.wait()
            except OSError:
                rc = None
            self.reaped.append((i, rc, clock()))

    def _record_exits(self) -> None:
        n = len(self.reaped)
        batch, self.reaped[:n] = self.reaped[:n], []
        record = self.w.ledger.record
        for i, rc, t_reaped in batch:
            entry = self.pending.pop(i, None)
            if entry is None:
                continue
            p, t_intended, t0, t1 = entry
            t_exit = exit_time(rc, t0, t_reaped) if self.exact_exit_time else None
            record(i, Kind.proc_exit, p.pid, None, t_intended,
                   t1 if t_exit is None else t_exit, t_reaped)

    def poll(self) -> None:
        self._record_exits()

    def finish(self) -> None:
        wait_reaped(self.pending, self._record_exits)

    def teardown(self) -> None:
        for p, *_ in list(self.pending.values()):
            try:
                p.kill()
            except OSError:
                pass
        self._queue.put(None)
        deadline = time.monotonic() + 5
        while self.pending and time.monotonic() < deadline:
            self._record_exits()
            time.sleep(0.001)
        if self._reaper.is_alive():
            self._reaper.join(timeout=1)
        self.pending.clear()
