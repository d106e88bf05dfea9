"""Process workload: spawn short-lived children and reap them.

Each operation ``posix_spawn``s a tiny program (``sb-child``) whose argv carries the run
marker and op id, and records fork and exec keyed by the child's pid. A reaper thread waits
for children as they exit, as a shell reaping on SIGCHLD would (so zombies do not linger and
flatter polling sensors, and the spawn rate is not bounded by child lifetime). The exit row
uses the time the child itself stored just before calling exit, read from a shared memory
slot. Without the native helper, ``/bin/true`` is spawned (``lifetime_ms`` cannot apply) and
the exit row's issue time is the spawn's completion (an upper bound on latency; the
workload's metadata says ``exact_exit_time: false``).

Windows has no posix_spawn, no fork and no waitpid(-1): there the spawner is ``popen``
(``workloads/_process_popen.py``, chosen once here by the platform): children started with
``subprocess.Popen`` (CreateProcess), their exits seen by a thread waiting on them, and no
``proc_fork`` rows, since no fork event exists there (``kinds`` says so). ``spawner=popen``
runs on Linux too (with fork rows there: vfork is a fork), so that code is tested here;
Linux's default stays posix_spawn of sb-child. Rates: docs/lab-notes.md ("Workload rates").
"""

from __future__ import annotations

import mmap
import os
import threading
import time

from bench.core.clock import now_ns
from bench.core.kinds import PROC_KINDS, Kind
from bench.core.osapi import IS_WINDOWS
from bench.core.settings import Setting, non_negative, one_of
from workloads._process_popen import CHILDREN, PopenSpawner
from workloads.base import COMMON, Workload, wait_reaped
from workloads.native import child_program

_FD_SLOTS = 3  # fd number sb-child expects its shared memory on
# The platform's spawners, its default first.
SPAWNERS = ("popen",) if IS_WINDOWS else ("posix_spawn", "popen")


class ProcessWorkload(Workload):
    name = "process"
    # CreateProcess: no fork event on Windows.
    kinds = PROC_KINDS - {Kind.proc_fork} if IS_WINDOWS else PROC_KINDS
    rows_per_op = float(len(kinds))
    description = ("start short-lived children (CreateProcess) with an argv marker; wait for them"
                   if IS_WINDOWS else
                   "posix_spawn short-lived children with an argv marker; reap them")
    settings = {
        **COMMON,
        # Real short-lived commands (id, ls, a shell helper) live a few milliseconds; how
        # long decides what a polling sensor can possibly see.
        "lifetime_ms": Setting(float, 2.0, "how long each child lives before exiting (ms; "
                               "sb-child only, not spawner=popen)", non_negative),
        "spawner": Setting(str, SPAWNERS[0], "posix_spawn (sb-child; Linux) or popen "
                           "(subprocess.Popen; Windows's only one)", one_of(*SPAWNERS)),
        "child": Setting(str, CHILDREN[0], "spawner=popen's child: shell (cmd.exe /d /c rem, "
                         "sh -c :) or python (exact exit times on Windows; slower)",
                         one_of(*CHILDREN)),
    }

    @classmethod
    def check_settings(cls, cfg: dict) -> str | None:
        if cfg.get("engine") == "native" and cfg.get("spawner") == "popen":
            return "spawner=popen needs engine=python (the native engine posix_spawns sb-child)"
        return super().check_settings(cfg)

    def setup(self) -> None:
        if self.cfg["spawner"] == "popen":
            # The portable spawner does every operation of this instance.
            s = self._popen = PopenSpawner(self, self.cfg["child"])
            self.exact_exit_time = s.exact_exit_time
            self.op, self.poll, self.finish, self.teardown = s.op, s.poll, s.finish, s.teardown
            s.start()
            return
        self.program = child_program()
        self.exact_exit_time = self.program is not None
        if self.program is None:
            self.program = "/bin/true"
        self.pending: dict[int, tuple[int, int, int]] = {}  # pid -> (op, t_intended, t_spawned)
        self.reaped: list[tuple[int, int]] = []  # (pid, t_reaped), appended by the reaper
        self.capacity = 1 << 16
        self._open_slots()
        self._lifetime = str(int(self.cfg["lifetime_ms"] * 1000))  # sb-child takes us
        self._stop = threading.Event()
        self._reaper = threading.Thread(target=self._reap_loop, name="reaper", daemon=True)
        self._reaper.start()

    def _open_slots(self) -> None:
        fd = os.memfd_create("sb-slots")
        os.ftruncate(fd, self.capacity * 8)
        # Keep it off fd 3 itself: dup2(3, 3) in posix_spawn would not clear close-on-exec.
        self._slots_fd = os.dup(fd) if fd == _FD_SLOTS else fd
        if fd == _FD_SLOTS:
            os.close(fd)
        self._slots = mmap.mmap(self._slots_fd, self.capacity * 8)

    def op(self, i: int, t_intended: int) -> None:
        if i >= self.capacity:  # closed loop ran past the slots: grow the shared memory
            self.capacity *= 2
            os.ftruncate(self._slots_fd, self.capacity * 8)
            self._slots.resize(self.capacity * 8)
        argv = [self.program, f"{self.marker}-{i}", str(i), self._lifetime]
        clock = now_ns
        t0 = clock()
        try:
            pid = os.posix_spawn(self.program, argv, {},
                                 file_actions=[(os.POSIX_SPAWN_DUP2, self._slots_fd, _FD_SLOTS)])
        except OSError:
            self.errors += 1
            return
        t1 = clock()
        rec = self.ledger.record
        rec(i, Kind.proc_fork, pid, None, t_intended, t0, t1)
        rec(i, Kind.proc_exec, pid, None, t_intended, t0, t1)
        self.pending[pid] = (i, t_intended, t1)

    def _reap_loop(self) -> None:
        # waitpid releases the GIL; list.append is atomic, so the main thread can drain
        # ``reaped`` without a lock. Only the main thread writes the ledger.
        clock = now_ns
        while not self._stop.is_set():
            try:
                pid, _status = os.waitpid(-1, 0)
            except ChildProcessError:
                self._stop.wait(0.0005)  # no child yet
                continue
            self.reaped.append((pid, clock()))

    def _record_exits(self) -> None:
        n = len(self.reaped)
        batch, self.reaped[:n] = self.reaped[:n], []
        for pid, t_reaped in batch:
            entry = self.pending.pop(pid, None)
            if entry is None:
                continue
            i, t_intended, t_spawned = entry
            t_exit = 0
            if self.exact_exit_time:
                t_exit = int.from_bytes(self._slots[i * 8:i * 8 + 8], "little", signed=True)
            if t_exit <= 0:
                t_exit = t_spawned
            self.ledger.record(i, Kind.proc_exit, pid, None, t_intended, t_exit, t_reaped)

    def poll(self) -> None:
        self._record_exits()

    def finish(self) -> None:
        wait_reaped(self.pending, self._record_exits)

    def teardown(self) -> None:
        for pid in list(self.pending):
            try:
                os.kill(pid, 9)
            except OSError:
                pass
        self._stop.set()
        deadline = time.monotonic() + 5
        while self.pending and time.monotonic() < deadline:
            self._record_exits()
            time.sleep(0.001)
        self._reaper.join(timeout=1)
        self.pending.clear()
        self._slots.close()
        os.close(self._slots_fd)
