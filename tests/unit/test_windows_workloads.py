"""The workloads' Windows side, tested where it can be on Linux, for real where the code is
shared: the popen spawner (Windows's only process spawner) runs real children here; the
file workload's paths and the network workload's socket options are chosen by pure
functions, tested for both platforms. Tests marked ``windows`` also run on Windows.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from bench.core.clock import now_ns
from bench.core.kinds import FILE_KINDS, NET_KINDS, PROC_KINDS, Kind
from bench.core.ledger import Ledger
from workloads import _process_popen as pp
from workloads.file import FileWorkload, path_prefix
from workloads.network import NetworkWorkload, socket_options
from workloads.process import ProcessWorkload

LINUX = sys.platform.startswith("linux")
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _rows(ledger: Ledger) -> list[tuple]:
    """(op, kind, key, path, t_intended, t_issue, t_done) per row, in recording order."""
    a = ledger.arrays()
    return [(int(a["op"][j]), Kind(int(a["kind"][j])), int(a["key"][j]), a["path"][j],
             int(a["t_intended"][j]), int(a["t_issue"][j]), int(a["t_done"][j]))
            for j in range(ledger.n)]


class _Spy:
    """Wraps subprocess.Popen in the spawner's module: the argv it built, the child's pid,
    and (Linux) the child's /proc/PID/cmdline read as soon as Popen returned (Popen returns
    when close-on-exec closes its error pipe, before the kernel has set the new argv up, so
    an empty read is tried again while the child lives)."""

    def __init__(self, monkeypatch):
        self.spawned: dict[int, tuple[list[str], bytes | None, subprocess.Popen]] = {}
        real = subprocess.Popen

        def popen(args, **kw):
            p = real(args, **kw)
            cmdline = None
            for _ in range(100 if LINUX else 0):
                try:
                    with open(f"/proc/{p.pid}/cmdline", "rb") as f:
                        cmdline = f.read()
                except OSError:
                    break
                if cmdline:
                    break
                time.sleep(0.0002)
            self.spawned[p.pid] = (list(args), cmdline, p)
            return p

        monkeypatch.setattr(pp.subprocess, "Popen", popen)


def _run_popen(tmp_path, monkeypatch, child: str, n: int, settings: dict | None = None):
    spy = _Spy(monkeypatch)
    ledger = Ledger(4 * n)
    w = ProcessWorkload(ledger, "sbwintest", str(tmp_path),
                        {"spawner": "popen", "child": child, **(settings or {})})
    w.setup()
    try:
        for i in range(n):
            w.op(i, now_ns())
            w.poll()
            time.sleep(0.002)
        w.finish()
    finally:
        w.teardown()
    return w, ledger, spy


def _check_process_rows(w, ledger, spy, n: int) -> None:
    rows = _rows(ledger)
    assert w.errors == 0
    expected_kinds = {Kind.proc_exec, Kind.proc_exit} | ({Kind.proc_fork} if LINUX else set())
    assert w.kinds == expected_kinds
    by_op: dict[int, dict[Kind, tuple]] = {}
    for j, r in enumerate(rows):
        assert r[1] not in by_op.setdefault(r[0], {}), "one row per kind per operation"
        by_op[r[0]][r[1]] = (j, *r)
    assert sorted(by_op) == list(range(n))
    pids = set()
    for i, kinds in by_op.items():
        assert set(kinds) == expected_kinds
        j_exec, _, _, pid, path, t_int, t0, t1 = kinds[Kind.proc_exec]
        j_exit, _, _, pid_exit, _, t_int_exit, t_exit, t_reaped = kinds[Kind.proc_exit]
        assert path is None and pid == pid_exit and pid > 0
        if Kind.proc_fork in kinds:
            assert kinds[Kind.proc_fork][3] == pid
        assert j_exit > j_exec                           # exit rows after exec rows
        assert t_int == t_int_exit and t_int <= t0 <= t1
        # no stamp (Linux, or the shell child): the exit is issued at the spawn's end
        assert t_exit == t1 if not w.exact_exit_time else t1 < t_exit
        assert t_exit <= t_reaped
        # a real child of ours, with the marker and op id in its argv, that ran and ended
        argv, cmdline, p = spy.spawned[pid]
        assert f"sbwintest-{i}" in argv
        assert p.returncode is not None
        if cmdline:                                      # the kernel's copy of its argv
            assert cmdline.split(b"\0")[:-1] == [a.encode() for a in argv]
        pids.add(pid)
    assert len(pids) == n


@pytest.mark.windows
def test_popen_spawner_shell_child_real(tmp_path, monkeypatch):
    """The default child (sh -c : here, cmd.exe /d /c rem on Windows), 50 real operations."""
    w, ledger, spy = _run_popen(tmp_path, monkeypatch, "shell", 50)
    _check_process_rows(w, ledger, spy, 50)
    assert not w.exact_exit_time
    for _, _, p in spy.spawned.values():
        assert p.returncode == 0


@pytest.mark.windows
def test_popen_spawner_python_child_real(tmp_path, monkeypatch):
    """The python child lives long enough (~15 ms) for /proc/PID/cmdline to be read at spawn
    every time: the kernel's argv of the child carries the marker."""
    w, ledger, spy = _run_popen(tmp_path, monkeypatch, "python", 12)
    _check_process_rows(w, ledger, spy, 12)
    assert w.exact_exit_time == (sys.platform == "win32")
    if LINUX:
        for pid, (_, cmdline, _) in spy.spawned.items():
            assert cmdline is not None and b"sbwintest-" in cmdline, pid


@pytest.mark.windows
def test_popen_teardown_kills_and_records_what_is_left(tmp_path, monkeypatch):
    """teardown without finish: children still running are killed, and their exits are
    still recorded (as the posix_spawn path does)."""
    spy = _Spy(monkeypatch)
    ledger = Ledger(64)
    w = ProcessWorkload(ledger, "sbwintest", str(tmp_path),
                        {"spawner": "popen", "child": "python"})
    w.setup()
    for i in range(3):
        w.op(i, now_ns())
    w.teardown()
    kinds = [r[1] for r in _rows(ledger)]
    assert kinds.count(Kind.proc_exec) == 3 and kinds.count(Kind.proc_exit) == 3
    assert all(p.returncode is not None for _, _, p in spy.spawned.values())


@pytest.mark.windows
def test_python_child_stamps_its_exit_in_its_exit_code():
    """The python child's own code, run here for real with os._exit swapped for a print (an
    exit code has 8 bits on Linux, 32 on Windows): its stamp lies between the spawn's start
    and the end of the wait, in µs after the base its argv carries."""
    shim = ("import os,sys\n"
            "os._exit = lambda n: (sys.stdout.write(str(n)), sys.stdout.flush(), "
            "sys.exit(0))\n"
            f"exec({pp.PYTHON_CHILD!r})\n")
    base = now_ns()
    r = subprocess.run([sys.executable, "-I", "-S", "-c", shim, "sbwintest-0", str(base)],
                       capture_output=True, text=True, check=True)
    t_reaped = now_ns()
    code = int(r.stdout)
    assert 2 <= code < 2**31
    t = pp.exit_time(code, base, t_reaped)
    assert t is not None and base < t <= t_reaped


@pytest.mark.windows
def test_exit_time_decoding():
    base, reaped = 1_000_000_000, 1_050_000_000
    assert pp.exit_time(30_000, base, reaped) == base + 30_000_000
    assert pp.exit_time(None, base, reaped) is None        # not waited
    assert pp.exit_time(0, base, reaped) is None           # plain exit: no stamp
    assert pp.exit_time(1, base, reaped) is None           # Python's error exit, a kill
    assert pp.exit_time(-9, base, reaped) is None          # killed by a signal (posix)
    assert pp.exit_time(0xC0000005, base, reaped) is None  # an NTSTATUS crash: after reaped


@pytest.mark.windows
def test_child_argv_per_platform(monkeypatch):
    monkeypatch.setenv("SystemRoot", r"C:\Windows")
    assert pp.child_argv("shell", "sbX-7", 5, windows=True) == \
        [r"C:\Windows\System32\cmd.exe", "/d", "/c", "rem", "sbX-7"]
    assert pp.child_argv("shell", "sbX-7", 5, windows=False) == ["/bin/sh", "-c", ":", "sbX-7"]
    py = pp.child_argv("python", "sbX-7", 5, windows=True)
    assert py[1:] == ["-I", "-S", "-c", pp.PYTHON_CHILD, "sbX-7", "5"]
    # Windows: the base interpreter, never a venv's launcher (a second process per child)
    monkeypatch.setattr(sys, "_base_executable", r"C:\Python311\python.exe", raising=False)
    assert pp.interpreter(windows=True) == r"C:\Python311\python.exe"
    assert pp.interpreter(windows=False) == sys.executable
    # how CreateProcess will see it: the marker is one argument of the command line
    line = subprocess.list2cmdline(pp.child_argv("shell", "sbX-7", 5, windows=True))
    assert line == r"C:\Windows\System32\cmd.exe /d /c rem sbX-7"
    with pytest.raises(ValueError):
        pp.child_argv("bash", "sbX-7", 5)


@pytest.mark.windows
def test_spawner_per_platform():
    """Windows: no fork rows (CreateProcess has no fork event), no console per child; the
    exit stamp only where exit codes have 32 bits and the child is python."""
    win = pp.PopenSpawner(None, "python", windows=True)
    assert not win.record_fork and win.exact_exit_time
    assert win.popen_args == {"creationflags": pp.DETACHED_PROCESS}
    assert not pp.PopenSpawner(None, "shell", windows=True).exact_exit_time
    lin = pp.PopenSpawner(None, "python", windows=False)
    assert lin.record_fork and not lin.exact_exit_time and lin.popen_args == {}
    with pytest.raises(ValueError):
        pp.PopenSpawner(None, "bash")


def _as_windows(code: str) -> str:
    """Run ``code`` in a fresh interpreter that takes itself for Windows (the platform is
    read once, at import)."""
    # third-party libraries pick their platform code themselves: imported before the lie
    prelude = "import psutil, sys\nsys.platform = 'win32'\n"
    r = subprocess.run([sys.executable, "-c", prelude + code],
                       capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 0, r.stderr
    return r.stdout.strip()


def test_process_workload_kinds_and_spawners_on_windows():
    out = _as_windows(
        "from workloads.process import ProcessWorkload as P, SPAWNERS\n"
        "print(sorted(k.name for k in P.kinds), P.rows_per_op, SPAWNERS,\n"
        "      P.settings['spawner'].default, P.settings['child'].default)")
    assert out == "['proc_exec', 'proc_exit'] 2.0 ('popen',) popen shell"


def test_linux_defaults_unchanged():
    if sys.platform == "win32":
        pytest.skip("Linux's defaults")
    assert ProcessWorkload.kinds == PROC_KINDS and ProcessWorkload.rows_per_op == 3.0
    assert ProcessWorkload.settings["spawner"].default == "posix_spawn"
    assert ProcessWorkload.settings["lifetime_ms"].default == 2.0
    assert FileWorkload.kinds == FILE_KINDS and NetworkWorkload.kinds == NET_KINDS


# ---- file ----------------------------------------------------------------------------

def test_file_paths_linux_byte_for_byte():
    """Linux: the directory as given, "/" and the name, exactly as before (no normalizing:
    a trailing slash stays, as the sensors' reports and the older ledgers have it)."""
    assert path_prefix("/var/tmp/sensorbench-0/run-1-ab/sbcafe", windows=False) == \
        "/var/tmp/sensorbench-0/run-1-ab/sbcafe/"
    assert path_prefix("/tmp/x/", windows=False) == "/tmp/x//"
    assert path_prefix("rel/dir", windows=False) == "rel/dir/"


def test_file_paths_windows_absolute_normalized():
    """Windows: absolute, normalized, backslashes, one separator before the name (ntpath,
    which is what os.path is there; realpath's links and 8.3 names need a real Windows,
    below)."""
    want = "C:\\Users\\runner\\AppData\\Local\\Temp\\sensorbench-0\\run-1-ab\\sbcafe\\"
    for given in ("C:\\Users\\runner\\AppData\\Local\\Temp\\sensorbench-0\\run-1-ab\\sbcafe",
                  "C:/Users/runner/AppData/Local/Temp/sensorbench-0/run-1-ab/sbcafe",
                  "C:\\Users\\runner\\AppData\\Local\\Temp\\sensorbench-0\\x\\..\\run-1-ab"
                  "\\.\\sbcafe\\"):
        assert path_prefix(given, windows=True) == want
    assert path_prefix("D:\\", windows=True) == "D:\\"
    assert path_prefix("D:\\", windows=True) + "sbcafe-0000001.new" == "D:\\sbcafe-0000001.new"


@pytest.mark.windows
@pytest.mark.skipif(sys.platform != "win32", reason="8.3 names and realpath need Windows")
def test_file_paths_windows_short_names_expanded(tmp_path):
    import ctypes

    long = tmp_path / "a long directory name"
    long.mkdir()
    buf = ctypes.create_unicode_buffer(1024)
    n = ctypes.windll.kernel32.GetShortPathNameW(str(long), buf, 1024)
    short = buf.value if n else str(long)
    assert path_prefix(short) == path_prefix(str(long)) == os.path.realpath(long) + "\\"


@pytest.mark.windows
def test_file_workload_real(tmp_path):
    """40 real operations: every row's path is the prefix and the name, and is the file the
    workload made (created, renamed, deleted: none left)."""
    ledger = Ledger(64)
    w = FileWorkload(ledger, "sbwintest", str(tmp_path))
    w.setup()
    try:
        for i in range(40):
            w.op(i, now_ns())
    finally:
        w.teardown()
    assert w.errors == 0
    prefix = path_prefix(str(tmp_path))
    if sys.platform != "win32":
        assert prefix == str(tmp_path) + "/"
    rows = _rows(ledger)
    assert [r[1] for r in rows] == [Kind.file_create, Kind.file_write, Kind.file_rename,
                                    Kind.file_delete] * 10
    for op, kind, key, path, *_ in rows:
        k = op // 4
        ext = ".new" if kind in (Kind.file_create, Kind.file_write) else ".ren"
        assert key == 0 and path == f"{prefix}sbwintest-{k:07d}{ext}"
    assert os.listdir(tmp_path) == []


# ---- network -------------------------------------------------------------------------

@pytest.mark.windows
def test_socket_options_per_platform():
    import struct

    lin, win = socket_options(windows=False), socket_options(windows=True)
    assert lin["listener"] == [("SOL_SOCKET", "SO_REUSEADDR", 1)]
    assert lin["linger"] == struct.pack("ii", 1, 0)
    # Windows: SO_REUSEADDR would let another socket take the listener's port
    assert win["listener"] == [("SOL_SOCKET", "SO_EXCLUSIVEADDRUSE", 1)]
    assert win["linger"] == struct.pack("<HH", 1, 0) and len(win["linger"]) == 4
    assert not any(opt == "SO_REUSEADDR" for _, opt, _ in win["listener"])


@pytest.mark.windows
def test_network_workload_real(tmp_path):
    """40 real operations on loopback: TCP rows keyed by (client port, listener port), UDP
    ones by (source port from the block, receiver port); no key used twice."""
    ledger = Ledger(128)
    w = NetworkWorkload(ledger, "sbwintest", str(tmp_path))
    w.setup()
    try:
        for i in range(40):
            w.op(i, now_ns())
            w.poll()
    finally:
        w.teardown()
    assert w.errors == 0
    rows = _rows(ledger)
    tcp = [r for r in rows if r[1] in (Kind.net_connect, Kind.net_accept)]
    udp = [r for r in rows if r[1] == Kind.net_send]
    assert len(tcp) == 40 and len(udp) == 20
    assert {r[2] & 0xFFFF for r in tcp} == {w.tcp_addr[1]}
    assert {r[2] & 0xFFFF for r in udp} == {w.udp_addr[1]}
    assert all(10_000 <= r[2] >> 16 < 32_768 for r in udp)
    assert len({r[2] for r in udp}) == 20 and len({r[2] for r in tcp}) == 20
