"""Parsers of the real-tool backends, fed with output captured from the real tools.

Fixtures in tests/fixtures/peers/ were captured on Debian 12 (kernel 6.18) from the Debian
packages: libbpf-tools 0.26.0, forkstat 0.03.01, fatrace 0.17.0, inotify-tools 3.22.6,
bpftrace 0.17.0, while a small script created/wrote/renamed/deleted files named
``sbcafe000N-*``, spawned ``sb-child`` children and made loopback connections. They keep the
odd lines the tools really print: repeated headers, an argv with a newline (execsnoop prints
it raw), failed execs and opens, "signal 9 (Killed)" exits, forkstat's ENOBUFS line and
``<unknown>`` command lines, fatrace's ``(deleted)`` paths and directory-only events,
bpftrace's "Lost N events" line and blank lines at exit, libbpf's attach errors without
tracefs. Fast: no tool is started.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.core.events import NO_TIME

from bench.backends.base import SensorContext
from bench.backends.peers.bpftrace import BpftraceBackend
from bench.backends.peers.fatrace import FatraceBackend
from bench.backends.peers.forkstat import ForkstatBackend
from bench.backends.peers.inotifywait import InotifywaitBackend
from bench.backends.peers.libbpf_tools import (ExecsnoopBackend, ExitsnoopBackend,
                                               OpensnoopBackend)
from bench.core.kinds import Kind, port_pair

FIX = Path(__file__).parents[1] / "fixtures" / "peers"


def make(cls, workdir="/nonexistent", **settings):
    values = {k: s.default for k, s in cls.settings.items()}
    values.update(settings)
    b = cls(values, SensorContext(marker="sbcafe0001", workdir=workdir))
    b.init_state()
    return b


def feed(b, name: str):
    """Every line of a fixture through the backend's line handler, as the reader does."""
    events = []
    for line in (FIX / name).read_text().splitlines():
        events.extend(b.handle_line(line))
    return events


def by_kind(events, kind):
    return [e for e in events if e.kind == kind]


# -- libbpf-tools -------------------------------------------------------------------------

def test_execsnoop_reports_marker_children_with_argv():
    b = make(ExecsnoopBackend)
    evs = feed(b, "execsnoop.txt")
    assert all(e.kind == Kind.proc_exec and e.t_kernel == NO_TIME for e in evs)
    ours = {e.key: e.path for e in evs if "sbcafe0002" in (e.path or "")}
    assert ours[11277] == "/work/main/workloads/native/sb-child sbcafe0002-0 0 1000"
    assert ours[11278].endswith("sbcafe0002-1 1 1000")
    # pid is the key and the reporting pid
    assert all(e.key == e.pid for e in evs)
    # 20-argument limit: execsnoop cuts and appends "..."; still one event for that pid
    truncated = [e for e in evs if e.path.startswith("/bin/true arg0")]
    assert truncated and all(e.path.endswith("...") for e in truncated)


def test_execsnoop_counts_argv_newline_continuation_as_parse_error():
    b = make(ExecsnoopBackend)
    evs = feed(b, "execsnoop.txt")
    # the header is the ready line; the second half of
    # "/bin/true 'line one\nE fake 1 2 3' sbcafe0003-x" is the one unparsable line
    assert b.parse_errors == 1 and b._ready.is_set()
    assert any(s.startswith("E fake 1 2 3") for s in b.bad_samples)
    nl = [e for e in evs if e.path.startswith("/bin/true line one")]
    assert len(nl) == 1 and nl[0].key == 8526


def test_execsnoop_ignores_failed_exec():
    b = make(ExecsnoopBackend)
    evs = feed(b, "execsnoop_x.txt")
    assert not any("nonexistent" in (e.path or "") for e in evs)
    assert any("sbcafe0002-0" in (e.path or "") for e in evs)


def test_exitsnoop_codes_and_signals():
    b = make(ExitsnoopBackend)
    evs = feed(b, "exitsnoop.txt")
    keys = {e.key for e in evs}
    assert {11280, 11296, 11298} <= keys          # "signal 9 (Killed)", "code 3", "0"
    assert all(e.kind == Kind.proc_exit and e.key == e.pid for e in evs)
    assert b.parse_errors == 0 and b._ready.is_set()   # the header is the ready line


def test_opensnoop_only_successful_creates():
    b = make(OpensnoopBackend, scope="all")
    evs = feed(b, "opensnoop.txt")
    paths = [e.path for e in evs]
    assert "/tmp/cap/wd2/sbcafe0002-0000000.new" in paths
    assert not any(p.endswith(".ren") for p in paths)      # failed open (ERR 2)
    assert all(e.kind == Kind.file_create and e.key == 0 for e in evs)
    assert b.parse_errors == 0


def test_opensnoop_scope_keeps_cell_directory_only():
    b = make(OpensnoopBackend, workdir="/tmp/cap/wd2")
    evs = feed(b, "opensnoop.txt")
    assert evs and all(e.path.startswith("/tmp/cap/wd2/") for e in evs)
    b_all = make(OpensnoopBackend, workdir="/tmp/cap/wd2", scope="all")
    assert len(feed(b_all, "opensnoop.txt")) == len(evs) + b.out_of_scope


def test_libbpf_lost_events_and_attach_errors_from_stderr():
    b = make(ExecsnoopBackend)
    b.handle_stderr_line("Lost 12 events on CPU #1!")
    b.handle_stderr_line("Lost 3 events on CPU #0!")
    assert b.stats()["self_reported_lost"] == 15
    assert b.fatal is None
    for line in (FIX / "execsnoop_no_tracefs.stderr").read_text().splitlines():
        b.handle_stderr_line(line)
    assert b.fatal and "failed to attach BPF programs" in b.fatal


def test_libbpf_unknown_header_fails_fast():
    b = make(OpensnoopBackend)
    b.handle_line("TIME     UID     PID    COMM              FD ERR FLAGS    PATH")
    assert b.fatal and "unexpected header" in b.fatal
    b = make(OpensnoopBackend)
    b.handle_line("PID    COMM              FD ERR FLAGS    PATH")
    assert b.fatal is None and b._ready.is_set()


def test_format_change_fails_the_cell():
    b = make(ExitsnoopBackend)
    b.handle_line("PCOMM            PID     PPID    TID     AGE(s)  EXIT_CODE")
    for i in range(30):  # e.g. a version that prints JSON
        b.handle_line(f'{{"pid": {i}, "comm": "x", "exit": 0}}')
    assert b.fatal and "format not recognised" in b.fatal


# -- forkstat -----------------------------------------------------------------------------

def test_forkstat_fork_exec_exit_of_children():
    b = make(ForkstatBackend)
    evs = feed(b, "forkstat.txt")
    for pid in (490, 491, 492):
        kinds = sorted(e.kind for e in evs if e.key == pid)
        assert kinds == [Kind.proc_fork, Kind.proc_exec, Kind.proc_exit]
    execs = {e.key: e.path for e in by_kind(evs, Kind.proc_exec)}
    assert execs[490] == "/work/main/workloads/native/sb-child sbcafe0001-0 0 1000"
    # parents are not forks; a parent pid 0 ([swapper]) never becomes an event
    assert not [e for e in by_kind(evs, Kind.proc_fork) if e.key in (396, 1023, 0)]


def test_forkstat_nobufs_and_repeated_header():
    b = make(ForkstatBackend)
    evs = feed(b, "forkstat.txt")
    assert b.stats()["self_reported_lost"] == 1
    # the first header is the ready line, the repeated one later is recognised too
    assert b.parse_errors == 0 and b._ready.is_set()
    # "<unknown>" command lines after ENOBUFS still give the pid
    assert [e.path for e in evs if e.key == 22277 and e.kind == Kind.proc_exec] == \
        ["<unknown>"] * 4


def test_forkstat_exit_of_a_long_lived_process_is_understood():
    """A host process that ran for minutes or hours exits during a cell: forkstat gives
    its run time in m or h (lines as a real run printed them)."""
    b = make(ForkstatBackend)
    for line, pid in (("19:58:57 exit    920      0   6.598m sleep 420 ", 920),
                      ("19:58:57 exit    914      0   2.342h line_io_tools/binary_backend --uid 0",
                       914),
                      ("19:58:57 exit    915      0   1.500d init", 915)):
        evs = b.parse(line)
        assert evs and [(e.kind, e.key) for e in evs] == [(Kind.proc_exit, pid)], line


# -- fatrace ------------------------------------------------------------------------------

def test_fatrace_open_is_create_close_write_is_write():
    b = make(FatraceBackend, workdir="/tmp/cap/wd")
    evs = feed(b, "fatrace_c.txt")
    creates = [e.path for e in by_kind(evs, Kind.file_create)]
    writes = [e.path for e in by_kind(evs, Kind.file_write)]
    expected = [f"/tmp/cap/wd/sbcafe0004-{k:07d}.new" for k in range(3)]
    assert [p for p in creates if "sbcafe0004" in p] == expected
    assert [p for p in writes if "sbcafe0004" in p] == expected
    assert b.parse_errors == 0
    st = b.stats()
    assert st["directory_events"] == 11   # "+", "D", "<>", "+D<>": the directory only
    assert st["unresolved_paths"] == 3    # "(deleted)"
    assert st["modify_events"] == 1       # "W" alone: the close-write follows
    assert st["self_reported_lost"] is None


def test_fatrace_timestamped_lines_and_scope():
    b = make(FatraceBackend, workdir="/tmp/cap/wd")
    evs = feed(b, "fatrace.txt")
    assert b.parse_errors == 0
    assert all(e.path.startswith("/tmp/cap/wd/") for e in evs)
    # late resolution: the open of ...0000000.new is printed with its later name
    assert [e.path for e in evs] == ["/tmp/cap/wd/sbcafe0001-0000000.ren"]
    assert b.stats()["unresolved_paths"] > 0


# -- inotifywait --------------------------------------------------------------------------

def test_inotifywait_four_kinds_per_file():
    b = make(InotifywaitBackend, workdir="/tmp/cap/wd")
    evs = feed(b, "inotifywait.txt")
    for k in range(3):
        base = f"/tmp/cap/wd/sbcafe0001-{k:07d}"
        mine = [(e.kind, e.path) for e in evs if e.path.startswith(base)]
        assert mine == [(Kind.file_create, base + ".new"), (Kind.file_write, base + ".new"),
                        (Kind.file_rename, base + ".ren"), (Kind.file_delete, base + ".ren")]
    assert b.parse_errors == 0


def test_inotifywait_ready_on_stderr_and_overflow():
    b = make(InotifywaitBackend)
    for line in (FIX / "inotifywait.stderr").read_text().splitlines():
        b.handle_stderr_line(line)
    assert b._ready.is_set() and b.fatal is None
    assert b.handle_line("Q_OVERFLOW ") == []
    assert b.stats()["self_reported_lost"] == 1
    b.handle_stderr_line("Couldn't watch /nonexistent: No such file or directory")
    assert b.fatal and "Couldn't watch" in b.fatal


# -- bpftrace -----------------------------------------------------------------------------

def test_bpftrace_all_kinds_with_kernel_time():
    b = make(BpftraceBackend, scope="all")
    evs = feed(b, "bpftrace.txt")
    assert b.parse_errors == 0
    assert all(e.t_kernel > 0 for e in evs)
    child = {e.kind: e for e in evs if e.key == 13027}
    assert set(child) == {Kind.proc_fork, Kind.proc_exec, Kind.proc_exit}
    assert child[Kind.proc_exec].path == "/work/main/workloads/native/sb-child"
    assert child[Kind.proc_fork].t_kernel < child[Kind.proc_exec].t_kernel \
        < child[Kind.proc_exit].t_kernel
    tcp = port_pair(57060, 58149)
    assert {e.kind for e in evs if e.key == tcp} == {Kind.net_connect, Kind.net_accept}
    assert [e.kind for e in evs if e.key == port_pair(59431, 36081)] == [Kind.net_send]
    base = "/tmp/cap/wd3/sbcafe0001-0000000"
    assert [(e.kind, e.path) for e in evs if (e.path or "").startswith(base)] == [
        (Kind.file_create, base + ".new"), (Kind.file_write, base + ".new"),
        (Kind.file_rename, base + ".ren"), (Kind.file_delete, base + ".ren")]
    assert b.stats()["self_reported_lost"] == 3360


def test_bpftrace_stderr_warnings_are_not_errors():
    b = make(BpftraceBackend)
    for line in (FIX / "bpftrace.stderr").read_text().splitlines():
        b.handle_stderr_line(line)  # "ERROR: ... RLIMIT_MEMLOCK" is printed and harmless
    assert b.fatal is None


@pytest.mark.parametrize("line", [
    "E create 1298787196277 12984 0",             # truncated: no path field
    "E connect 1298802002214 12984 57060: -",      # cut port pair
    "E bogus 1 2 3 -",
    "E create 12987871962", ])
def test_bpftrace_truncated_lines_are_parse_errors(line):
    b = make(BpftraceBackend)
    assert b.handle_line(line) == []
    assert b.parse_errors == 1


# -- auditd -------------------------------------------------------------------------------

def test_auditd_foreground_records_assemble_without_eoe():
    from bench.backends.peers.auditd import AuditdBackend

    b = make(AuditdBackend, workdir="/tmp/cap/wd4")
    b.offset_ns = 0  # keep the kernel's wall clock as is, to check the conversion
    evs = feed(b, "auditd.txt") + b.pending_events()
    assert b.parse_errors == 0
    for child in (1350, 1355, 1360):  # posix_spawn = clone3 (exit=child), execve, exit_group
        assert sorted(e.kind for e in evs if e.key == child) == \
            [Kind.proc_fork, Kind.proc_exec, Kind.proc_exit]
    exec_1350 = next(e for e in evs if e.key == 1350 and e.kind == Kind.proc_exec)
    assert exec_1350.path == "/work/main/workloads/native/sb-child sbcafe0001-0 0 1000"
    base = "/tmp/cap/wd4/sbcafe0001-0000000"
    assert [(e.kind, e.path) for e in evs if (e.path or "").startswith(base)] == [
        (Kind.file_create, base + ".new"), (Kind.file_write, base + ".new"),  # O_WRONLY
        (Kind.file_rename, base + ".ren"), (Kind.file_delete, base + ".ren")]
    # groups are closed by their PROCTITLE record; only those the fixture cut short (no
    # PROCTITLE) were left for the final flush
    import re

    text = (FIX / "auditd.txt").read_text()
    serial = re.compile(r"^type=(\w+) msg=audit\([\d.]+:(\d+)\)")
    groups: dict[str, set] = {}
    for line in text.splitlines():
        m = serial.match(line)
        if m and m[1] in ("SYSCALL", "PATH", "CWD", "EXECVE", "PROCTITLE", "SOCKADDR",
                          "BPRM_FCAPS"):
            groups.setdefault(m[2], set()).add(m[1])
    cut_short = sum("PROCTITLE" not in g for g in groups.values())
    assert b.asm.incomplete == cut_short < len(groups) / 10
    # audit(1795270...) wall-clock seconds, millisecond text
    assert all(e.t_kernel % 1_000_000 == 0 and e.t_kernel > 1.7e18 for e in evs)
    # the accept's server port comes from /proc, and the process is long gone
    assert b.stats()["unkeyed_accepts"] == 1


def test_auditd_rules_scoped_to_the_cell():
    from bench.backends.peers.auditd import AuditdBackend, rules_text

    cfg = {k: s.default for k, s in AuditdBackend.settings.items()}
    text = rules_text("sensorbench-sbcafe0001", "/work/cell", cfg)
    lines = text.splitlines()
    assert lines[0] == "-b 8192" and lines[-1] == "-e 1"
    rules = [ln for ln in lines if ln.startswith("-a ")]
    assert all(ln.endswith("-F key=sensorbench-sbcafe0001") for ln in rules)
    file_rule = next(ln for ln in rules if "openat" in ln)
    assert "-F dir=/work/cell" in file_rule
    assert sum("-F dir=" in ln for ln in rules) == 1


def test_auditd_odd_lines():
    from bench.backends.peers.auditd import AuditdBackend

    b = make(AuditdBackend)
    assert b.handle_line("type=DAEMON_START msg=audit(1795270072.001:9977): op=start "
                         "ver=3.0.9 format=raw") == []
    assert b.handle_line("type=UNKNOWN[1420] msg=audit(1795270072.001:1): x=1") == []
    assert b.handle_line("type=SYSCALL msg=audit(17952700") == []    # cut mid-line
    assert b.handle_line("Init complete, auditd 3.0.9 listening") == []
    assert b.parse_errors == 2
    b.handle_stderr_line("Unable to adjust out of memory score")     # real, harmless
    assert b.fatal is None
    b.handle_stderr_line("Error - space_left(1) must be larger than admin_space_left(1)")
    assert b.fatal and "space_left" in b.fatal
