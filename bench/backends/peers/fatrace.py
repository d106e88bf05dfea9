"""``fatrace``: fanotify as a widely deployed tool uses it.

User-mode peer of our ``fanotify`` backend. fatrace 0.17 marks the whole filesystem of its
working directory (``-c``, run in the cell's directory) in FAN_REPORT_FID mode and prints

    python3(448): O   /work/sb1a2b/sb1a2b-0000000.new
    python3(448): CW  (deleted)
    python3(448): +   /work/sb1a2b

It resolves each event's file handle to a path only when it reads the event, through
/proc/self/fd: a file renamed since shows its new name, a deleted one ``(deleted)``. Its
create/delete/move events (``+``, ``D``, ``<>``) carry the *directory* only, because it asks
for FAN_REPORT_FID, not FAN_REPORT_DFID_NAME: they name no file and can match nothing.

| kind        | fatrace event       | key | path                                   |
|-------------|---------------------|-----|----------------------------------------|
| file_create | O (open) of a file  | 0   | path at read time (may be the new name) |
| file_write  | CW (close-write)    | 0   | path at read time                       |
| file_rename | unsupported: ``<>`` names the directory only                      |||
| file_delete | unsupported: ``D`` names the directory only                       |||

file_create is matched on the open: the file workload opens each file exactly once, with
O_CREAT, and fatrace cannot tell a create from an open. A late-resolved path shows up as a
duplicate or an unmatched event with our marker; ``(deleted)`` paths are counted in
``unresolved_paths``. With ``scope=cell`` (default) only events under the cell's directory
are kept (the mark covers the whole filesystem). Timestamps (``-t``) are gettimeofday() at read: receive time only.
Readiness: fatrace prints nothing when it starts, so the sensor writes a canary file next
to the cell's directory until fatrace reports it.
"""

from __future__ import annotations

import os
import re
import threading
import time

from bench.backends.peers.adapter import IGNORED, SCOPE_SETTING, Ev, ToolBackend
from bench.core.errors import SensorFailed
from bench.core.kinds import Kind
from bench.core.settings import Setting

# "comm(pid): FLAGS path", optionally after a timestamp; comm may contain anything.
_LINE = re.compile(r"^(?:[\d:.]+ )?(?P<comm>.*?)\((?P<pid>\d+)\): (?P<flags>[RCWO+D<>]+)\s+"
                   r"(?P<path>.*)$")


def _filter(v: str) -> str:
    if v != "all" and not re.fullmatch(r"[RCWOD+<>]+", v):
        raise ValueError(v)
    return v


class FatraceBackend(ToolBackend):
    name = "fatrace"
    same_mechanism = "fanotify"
    tool = "fatrace"
    package = "fatrace"
    mode = "user"
    mechanism = "fanotify (fatrace)"
    kinds = frozenset({Kind.file_create, Kind.file_write})
    description = "fatrace -c on the cell's filesystem; O = create, CW = write"
    error_pattern = re.compile(r"^(Cannot initialize|Failed to add watch|You need to run)")
    settings = {
        "filter": Setting(_filter, "OW", "fatrace --filter event types (RCWOD+<>), "
                          "or 'all' for everything fatrace prints"),
        "scope": SCOPE_SETTING,
    }

    def command(self) -> list[str]:
        cmd = ["fatrace", "-c"]
        if self.cfg["filter"] != "all":
            cmd += ["-f", self.cfg["filter"]]
        return cmd

    def cwd(self) -> str:
        return self.ctx.workdir

    def init_state(self) -> None:
        super().init_state()
        self.unresolved = 0
        self.dir_events = 0
        self.modify_only = 0
        self._canary = os.path.join(os.path.dirname(self.ctx.workdir.rstrip("/")),
                                    f".sb-fatrace-canary-{os.getpid()}")
        self._canary_seen = threading.Event()

    def wait_ready(self, deadline: float) -> None:
        # fatrace says nothing once its mark is in place; write a file until it reports it.
        try:
            while not self._canary_seen.is_set():
                self._check_alive("while starting")
                if time.monotonic() > deadline:
                    raise SensorFailed(f"fatrace did not report a canary file within "
                                       f"{self.start_timeout_s:.0f} s" + self._stderr_suffix())
                fd = os.open(self._canary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
                os.write(fd, b"ready?")
                os.close(fd)
                self._canary_seen.wait(0.1)
        finally:
            try:
                os.unlink(self._canary)
            except FileNotFoundError:
                pass
        self._ready.set()

    def parse(self, line: str) -> list[Ev] | None:
        m = _LINE.match(line)
        if not m:
            return None
        flags, path = m["flags"], m["path"]
        if not self._canary_seen.is_set() and path == self._canary:
            self._canary_seen.set()
            return IGNORED
        if set(flags) & set("+D<>"):
            self.dir_events += 1  # names the directory, not the file
            return IGNORED
        if path == "(deleted)":
            self.unresolved += 1
            return IGNORED
        pid = int(m["pid"])
        out = []
        if "O" in flags:
            out.append(Ev(Kind.file_create, 0, path, pid))
        if "C" in flags and "W" in flags:
            out.append(Ev(Kind.file_write, 0, path, pid))
        elif "W" in flags:
            self.modify_only += 1  # FAN_MODIFY; the close-write that follows is the write
        return out or IGNORED

    def extra_stats(self) -> dict:
        # fatrace has no loss counter: in FID mode a queue overflow ends it with an error.
        return {"self_reported_lost": None,
                "unresolved_paths": getattr(self, "unresolved", 0),
                "directory_events": getattr(self, "dir_events", 0),
                "modify_events": getattr(self, "modify_only", 0)}
