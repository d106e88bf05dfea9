"""``forkstat``: the proc connector (netlink ``cn_proc``) as seen by a real tool.

User-mode peer of our ``proc_connector`` backend. ``forkstat -l -e fork,exec,exit`` prints

    Time     Event   PID Info   Duration Process
    13:55:34 fork    396 parent          bash /dev/fd/3
    13:55:34 fork    490 child           /work/.../sb-child sb1a2b3c4d-0 0 2000
    13:55:34 exec    490                 /work/.../sb-child sb1a2b3c4d-0 0 2000
    13:55:34 exit    490      0   0.002s /work/.../sb-child sb1a2b3c4d-0 0 2000
    13:55:40 recv ----- nobufs          (No buffer space available)

| kind      | key            | path                                   |
|-----------|----------------|----------------------------------------|
| proc_fork | PID of "child" | -                                      |
| proc_exec | PID            | command line forkstat read from /proc  |
| proc_exit | PID            | -                                      |

Timestamps are wall-clock seconds (HH:MM:SS): receive time only. The "parent" half of a
fork is ignored (the child line carries the key). Each ``recv ... nobufs`` line is one
ENOBUFS from the netlink socket: the kernel dropped messages without saying how many, so
``self_reported_lost`` counts those occurrences, a lower bound of the loss.
"""

from __future__ import annotations

import re

from bench.backends.peers.adapter import IGNORED, Ev, ToolBackend
from bench.core.kinds import PROC_KINDS, Kind

_TIME = r"(?:\d\d:\d\d:\d\d|--:--:--)"
_LINE = re.compile(rf"^{_TIME} (?P<ev>fork|clone|exec|exit)\s+(?P<pid>\d+) (?P<rest>.*)$")
_NOBUFS = re.compile(rf"^{_TIME} recv -+ nobufs")
# the run time of an exited process: seconds, or minutes, hours, days... for a long-lived
# one ("6.598m", "2.342h": another process on the host exiting while a cell runs)
_EXIT = re.compile(r"^\s*(?P<code>-?\d+)\s+(?P<dur>[\d.]+[smhdwy]?|unknown)\s(?P<cmd>.*)$")


class ForkstatBackend(ToolBackend):
    name = "forkstat"
    same_mechanism = "proc_connector"
    tool = "forkstat"
    package = "forkstat"
    mode = "user"
    mechanism = "proc connector (forkstat)"
    kinds = PROC_KINDS
    description = "forkstat: fork/exec/exit from the netlink proc connector"
    line_buffering = "native"   # forkstat -l sets line buffering itself
    ready_pattern = re.compile(r"^Time\s+Event\s+PID\s+Info\s+Duration\s+Process\s*$")
    ready_must_be_first = True
    error_pattern = re.compile(r"failed|Cannot|Need to run", re.I)

    def command(self) -> list[str]:
        return ["forkstat", "-l", "-e", "fork,exec,exit"]

    def init_state(self) -> None:
        super().init_state()
        self.nobufs = 0

    def parse(self, line: str) -> list[Ev] | None:
        m = _LINE.match(line)
        if not m:
            if self.ready_pattern.match(line):
                return IGNORED  # forkstat repeats its heading every screenful of rows
            if _NOBUFS.match(line):
                self.nobufs += 1
                return IGNORED
            return None
        ev, pid, rest = m["ev"], int(m["pid"]), m["rest"]
        if ev == "fork":
            role = rest.split(None, 1)[0] if rest.strip() else ""
            if role == "child":
                return [Ev(Kind.proc_fork, pid, None, pid)]
            if role == "parent":
                return IGNORED
            return None
        if ev == "exec":
            return [Ev(Kind.proc_exec, pid, rest.strip() or None, pid)]
        if ev == "exit":
            if not _EXIT.match(rest):
                return None
            return [Ev(Kind.proc_exit, pid, None, pid)]
        return IGNORED  # clone: a thread, not asked for but harmless

    def extra_stats(self) -> dict:
        return {"self_reported_lost": getattr(self, "nobufs", None),
                "nobufs_lines": getattr(self, "nobufs", None)}
