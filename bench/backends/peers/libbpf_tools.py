"""``execsnoop``, ``exitsnoop``, ``opensnoop`` from libbpf-tools (BCC's CO-RE tools).

Kernel-mode peers of our ``ebpf`` backend: each loads its own BPF programs on tracepoints
(``syscalls:sys_enter/exit_execve``, ``sched:sched_process_exit``,
``syscalls:sys_enter/exit_open(at)``) and prints one line per event through a perf buffer.

| tool      | kinds       | key         | path                   | timestamp           |
|-----------|-------------|-------------|------------------------|---------------------|
| execsnoop | proc_exec   | PID (tgid)  | argv (max 20 args)     | receive time only   |
| exitsnoop | proc_exit   | PID (tgid)  | -                      | receive time only   |
| opensnoop | file_create | 0           | PATH as passed to open | receive time only   |

None of them prints a kernel timestamp: ``execsnoop -t`` is user-space time since start and
``opensnoop -T``/``exitsnoop -t`` are wall-clock HH:MM:SS, so only the receive time is used.
opensnoop reports opens, not creates: an open whose FLAGS (``-e``, octal) carry O_CREAT and
that succeeded is a create. execsnoop without ``-x`` prints successful execs only. Lost
perf-buffer samples are printed on stderr ("Lost N events on CPU #c") and summed into
``self_reported_lost``. execsnoop prints argv raw: an argument containing a newline splits
the line, and the second half is counted as a parse error (it could even imitate a line).
opensnoop's ``scope=cell`` (default) keeps creates under the cell's directory only; the
tool itself still traces every open on the machine.
"""

from __future__ import annotations

import re

from bench.backends._common import ensure_tracefs
from bench.backends.peers.adapter import IGNORED, SCOPE_SETTING, Ev, ToolBackend
from bench.core.errors import SensorFailed
from bench.core.kinds import Kind

O_CREAT = 0o100

# libbpf-tools print these on stderr when they give up; libbpf's own "libbpf: ..." lines
# are warnings unless followed by one of these.
_FATAL = re.compile(r"^(failed to|Failed to|ERROR|error:)", re.I)


class LibbpfToolBackend(ToolBackend):
    package = "libbpf-tools"
    mode = "kernel"
    ready_must_be_first = True
    error_pattern = _FATAL
    lost_pattern = re.compile(r"Lost (\d+) events? on CPU")

    def prepare(self) -> None:
        # Root is required by available(); tracefs is mounted here, not there, so that
        # `doctor` changes nothing on the machine.
        ensure_tracefs(SensorFailed)


class ExecsnoopBackend(LibbpfToolBackend):
    name = "execsnoop"
    tool = "execsnoop"
    mechanism = "eBPF (libbpf-tools execsnoop, syscalls tracepoints)"
    kinds = frozenset({Kind.proc_exec})
    description = "libbpf-tools execsnoop: successful execve with argv"
    ready_pattern = re.compile(r"^PCOMM\s+PID\s+PPID\s+RET\s+ARGS\s*$")
    # "%-16s %-6d %-6d %3d %s": comm is at most 15 characters, so always padded to 16.
    _line = re.compile(r"^(?P<comm>.{16}) (?P<pid>\d+)\s+(?P<ppid>\d+)\s+(?P<ret>-?\d+) "
                       r"(?P<args>.*?)\s*$")

    def command(self) -> list[str]:
        return ["execsnoop"]

    def parse(self, line: str) -> list[Ev] | None:
        m = self._line.match(line)
        if not m:
            return None
        if int(m["ret"]) != 0:
            return IGNORED  # a failed exec (only printed with -x) is not an exec
        pid = int(m["pid"])
        return [Ev(Kind.proc_exec, pid, m["args"], pid)]


class ExitsnoopBackend(LibbpfToolBackend):
    name = "exitsnoop"
    tool = "exitsnoop"
    mechanism = "eBPF (libbpf-tools exitsnoop, sched_process_exit tracepoint)"
    kinds = frozenset({Kind.proc_exit})
    description = "libbpf-tools exitsnoop: process exits with age and exit code"
    ready_pattern = re.compile(r"^PCOMM\s+PID\s+PPID\s+TID\s+AGE\(s\)\s+EXIT_CODE\s*$")
    # "%-16s %-7d %-7d %-7d %-7.2f " then "0", "code N" or "signal N (NAME)".
    _line = re.compile(r"^(?P<comm>.{16}) (?P<pid>\d+)\s+(?P<ppid>\d+)\s+(?P<tid>\d+)\s+"
                       r"(?P<age>\d+\.\d+)\s+(?P<code>\d+|code \d+|signal \d+.*?)\s*$")

    def command(self) -> list[str]:
        return ["exitsnoop"]

    def parse(self, line: str) -> list[Ev] | None:
        m = self._line.match(line)
        if not m:
            return None
        pid = int(m["pid"])
        return [Ev(Kind.proc_exit, pid, None, pid)]


class OpensnoopBackend(LibbpfToolBackend):
    name = "opensnoop"
    tool = "opensnoop"
    mechanism = "eBPF (libbpf-tools opensnoop, open/openat syscall tracepoints)"
    kinds = frozenset({Kind.file_create})
    description = "libbpf-tools opensnoop -e: opens with flags; O_CREAT ones are creates"
    ready_pattern = re.compile(r"^PID\s+COMM\s+FD\s+ERR\s+FLAGS\s+PATH\s*$")
    settings = {"scope": SCOPE_SETTING}
    # "%-6d %-16s %3d %3d %08o %s"
    _line = re.compile(r"^(?P<pid>\d+)\s+(?P<comm>.{16})\s+(?P<fd>-?\d+)\s+(?P<err>\d+)\s+"
                       r"(?P<flags>[0-7]+) (?P<path>.*)$")

    def command(self) -> list[str]:
        return ["opensnoop", "-e"]

    def parse(self, line: str) -> list[Ev] | None:
        m = self._line.match(line)
        if not m:
            return None
        if int(m["err"]) != 0 or not int(m["flags"], 8) & O_CREAT:
            return IGNORED
        return [Ev(Kind.file_create, 0, m["path"], int(m["pid"]))]
