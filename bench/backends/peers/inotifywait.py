"""``inotifywait`` (inotify-tools): inotify watches, as a widely used shell-level sensor.

User-mode peer of our ``inotify`` backend, with the same event mask. It runs as

    inotifywait -m -r --format '%e %w%f' -e create -e close_write -e moved_to -e delete DIR

on the cell's work directory and prints ``EVENTS PATH`` per event, e.g.
``CLOSE_WRITE,CLOSE /work/sb1a2b/sb1a2b-0000003.new``. It says "Watches established." on
stderr once the watches are in place, which is when the sensor is ready.

| kind        | inotify event | key | path                       |
|-------------|---------------|-----|----------------------------|
| file_create | CREATE        | 0   | watched dir + name         |
| file_write  | CLOSE_WRITE   | 0   | watched dir + name         |
| file_rename | MOVED_TO      | 0   | the new name               |
| file_delete | DELETE        | 0   | watched dir + name         |

No pid, no timestamp (``%T`` is wall-clock with one-second resolution): receive time only.
inotify drops events when its queue is full and queues one IN_Q_OVERFLOW; inotifywait
prints it as a ``Q_OVERFLOW`` line, counted in ``self_reported_lost`` (bursts, not events).
A name containing a newline would split into two lines: the second is a parse error.
"""

from __future__ import annotations

import re

from bench.backends.peers.adapter import IGNORED, Ev, ToolBackend
from bench.core.kinds import FILE_KINDS, Kind

_KINDS = {"CREATE": Kind.file_create, "CLOSE_WRITE": Kind.file_write,
          "MOVED_TO": Kind.file_rename, "DELETE": Kind.file_delete}
_KNOWN = set(_KINDS) | {"CLOSE", "ISDIR", "DELETE_SELF", "IGNORED", "UNMOUNT", "MOVE_SELF",
                        "Q_OVERFLOW", "MOVED_FROM", "OPEN", "MODIFY", "ACCESS", "ATTRIB",
                        "CLOSE_NOWRITE", "MOVE"}
_LINE = re.compile(r"^(?P<events>[A-Z_]+(?:,[A-Z_]+)*) (?P<path>.*)$")


class InotifywaitBackend(ToolBackend):
    name = "inotifywait"
    same_mechanism = "inotify"
    tool = "inotifywait"
    package = "inotify-tools"
    mode = "user"
    mechanism = "inotify (inotifywait)"
    kinds = FILE_KINDS
    description = "inotifywait -m -r on the cell's directory"
    ready_pattern = re.compile(r"^Watches established\.")
    ready_stream = "stderr"
    error_pattern = re.compile(r"^(Couldn't|Failed|Error|inotifywait: )", re.I)

    def command(self) -> list[str]:
        return ["inotifywait", "-m", "-r", "--format", "%e %w%f",
                "-e", "create", "-e", "close_write", "-e", "moved_to", "-e", "delete",
                self.ctx.workdir]

    def init_state(self) -> None:
        super().init_state()
        self.overflows = 0

    def parse(self, line: str) -> list[Ev] | None:
        m = _LINE.match(line)
        if m is None:
            # "Q_OVERFLOW " has an empty path; the regex needs a space then anything.
            return None
        events = m["events"].split(",")
        if not set(events) <= _KNOWN:
            return None
        if "Q_OVERFLOW" in events:
            self.overflows += 1
            return IGNORED
        if "ISDIR" in events:
            return IGNORED  # the workload makes no directories; -r handles any that appear
        out = [Ev(_KINDS[e], 0, m["path"], 0) for e in events if e in _KINDS]
        return out or IGNORED

    def extra_stats(self) -> dict:
        return {"self_reported_lost": getattr(self, "overflows", None)}
