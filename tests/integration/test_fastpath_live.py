"""The C readers (``parser=c``) of the user-mode backends on the real kernel: each backend
runs for about a second against real activity (files in a temporary directory and a
subdirectory made meanwhile, real forks and execs), its events arrive with their paths
or pids and a t_seen between the operation and the stop, what was queued when ``stop()``
was called is delivered (late, not lost), a reader that dies fails the cell through
``fatal``, and ``stop()`` leaves no thread and no file descriptor behind."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import threading
import time

import pytest

from bench.backends import _batch, availability
from bench.backends.base import SensorContext
from bench.backends.fanotify import FanotifyBackend
from bench.backends.inotify import InotifyBackend
from bench.backends.proc_connector import ProcConnectorBackend
from bench.core.events import EventSink
from bench.core.kinds import Kind
from tests.helpers import IS_ROOT

pytestmark = pytest.mark.skipif(_batch.missing() is not None,
                                reason=f"C reader: {_batch.missing()}")


@pytest.fixture
def workdir():
    """A fresh directory under /var/tmp, where the file workload writes (a disk-backed
    filesystem: fanotify needs file handles)."""
    d = tempfile.mkdtemp(prefix="sbfast-", dir="/var/tmp")
    yield d
    shutil.rmtree(d, ignore_errors=True)


def _skip_unavailable(cls) -> None:
    why = availability(cls.name)
    if why:
        pytest.skip(f"{cls.name}: {why}")


def _fds() -> set[str]:
    return set(os.listdir("/proc/self/fd"))


def _threads() -> set[str]:
    return {t.name for t in threading.enumerate()}


class _Run:
    """One backend with parser=c in this process, checked for leftovers at stop."""

    def __init__(self, cls, workdir: str, **settings):
        _skip_unavailable(cls)
        cfg = {k: s.default for k, s in cls.settings.items()}
        cfg.update(parser="c", **settings)
        self.b = cls(cfg, SensorContext(marker="sbtest", workdir=workdir))
        self.sink = EventSink()
        self.fds, self.threads = _fds(), _threads()

    def __enter__(self):
        self.t_start = time.monotonic_ns()
        self.b.start(self.sink)
        assert self.b.reader is self.b.native and self.b.native._thread.is_alive()
        return self

    def __exit__(self, *exc):
        self.b.stop()
        self.t_stop = time.monotonic_ns()
        if exc[0] is None:
            assert _threads() == self.threads, "a reader thread outlived stop()"
            assert _fds() == self.fds, "stop() left file descriptors open"
            assert self.b.native.r is None  # freed
        return False

    def columns(self):
        return self.sink.columns()


def _file_ops(d: str, n: int, pause: float = 0.0) -> dict[str, int]:
    """create+write, rename, delete of n files in d; the monotonic ns before each."""
    issued = {}
    for i in range(n):
        new, ren = f"{d}/sbtest-{i:05d}.new", f"{d}/sbtest-{i:05d}.ren"
        issued[new] = time.monotonic_ns()
        fd = os.open(new, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        os.write(fd, b"sensorbench")
        os.close(fd)
        issued[ren] = time.monotonic_ns()
        os.rename(new, ren)
        os.unlink(ren)
        if pause:
            time.sleep(pause)
    return issued


def _check_files(run: _Run, issued: dict[str, int]) -> None:
    c = run.columns()
    seen: dict[tuple[int, str], int] = {}
    for k, p, t in zip(c["kind"].tolist(), c["path"].tolist(), c["t_seen"].tolist()):
        seen.setdefault((k, p), t)
    for path, t_issue in issued.items():
        kinds = ((Kind.file_create, Kind.file_write) if path.endswith(".new")
                 else (Kind.file_rename, Kind.file_delete))
        for k in kinds:
            t = seen.get((int(k), path))
            assert t is not None, f"no {k.name} for {path}"
            assert t_issue <= t <= run.t_stop, (k.name, path, t_issue, t, run.t_stop)


def _live_files(cls, d: str, **settings) -> _Run:
    with _Run(cls, d, **settings) as run:
        issued = _file_ops(d, 100, pause=0.005)     # about 0.6 s
        os.mkdir(f"{d}/sub")                        # a directory made while running
        time.sleep(0.05)                            # inotify watches it from its event
        issued.update(_file_ops(f"{d}/sub", 50, pause=0.005))
        time.sleep(0.2)
    _check_files(run, issued)
    st = run.b.stats()
    assert st["parse_errors"] == 0 and st["self_reported_lost"] == 0
    assert st["batches"] >= 1 and st["reads"] >= st["batches"]
    return run


def test_inotify_live(workdir):
    run = _live_files(InotifyBackend, workdir)
    assert run.b.stats()["watches"] == 2


@pytest.mark.skipif(not IS_ROOT, reason="needs root: fanotify")
def test_fanotify_live(workdir):
    run = _live_files(FanotifyBackend, workdir)
    assert run.b.stats()["dir_lookups"] >= 1  # sub/ (at least) resolved in C, when first seen


@pytest.mark.skipif(not IS_ROOT, reason="needs root: the proc connector")
def test_proc_connector_live(workdir):
    marker = f"0.00000{os.getpid()}"  # an argument sleep adds up, and ours alone
    with _Run(ProcConnectorBackend, workdir, argv=1) as run:
        pids, issued = [], []
        t_end = time.monotonic() + 1.0
        while time.monotonic() < t_end:
            issued.append(time.monotonic_ns())
            # sleep: the exec'd process lives long enough for its cmdline to be read
            p = subprocess.Popen(["/bin/sleep", "0.02", marker])
            pids.append(p.pid)
            p.wait()
        time.sleep(0.2)
    c = run.columns()
    by_pid: dict[int, dict[int, tuple]] = {}
    for k, key, path, ts, tk in zip(c["kind"].tolist(), c["key"].tolist(),
                                    c["path"].tolist(), c["t_seen"].tolist(),
                                    c["t_kernel"].tolist()):
        by_pid.setdefault(key, {}).setdefault(k, (path, ts, tk))
    argv_seen = 0
    for pid, t_issue in zip(pids, issued):
        got = by_pid.get(pid, {})
        assert set(got) >= {int(Kind.proc_fork), int(Kind.proc_exec), int(Kind.proc_exit)}, \
            (pid, got)
        for _path, ts, tk in got.values():
            assert t_issue <= tk <= ts <= run.t_stop  # kernel time, then ours
        argv_seen += marker in (got[int(Kind.proc_exec)][0] or "")
    assert argv_seen >= len(pids) * 0.9, (argv_seen, len(pids))
    st = run.b.stats()
    assert st["parse_errors"] == 0 and st["messages"] >= 3 * len(pids)


def test_stop_delivers_what_was_queued(workdir):
    """With a handoff far longer than the run, everything arrives at stop() anyway."""
    d = workdir
    with _Run(InotifyBackend, d, handoff_ms=60000) as run:
        issued = _file_ops(d, 200)
        assert len(run.sink) == 0  # all of it still in C
    _check_files(run, issued)
    assert run.b.stats()["batches"] <= 2


def test_a_dead_reader_fails_the_cell(workdir):
    d = workdir
    with _Run(InotifyBackend, d, handoff_ms=0) as run:
        def broken(batch):
            raise RuntimeError("shape failed")

        run.b.native.shape = broken
        _file_ops(d, 3)
        deadline = time.monotonic() + 5
        while run.b.fatal is None and time.monotonic() < deadline:
            time.sleep(0.01)
        assert "shape failed" in (run.b.fatal or "")
        assert not run.b.native._thread.is_alive()
