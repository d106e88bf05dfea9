"""``inotify``: a user-mode file sensor with watches on the workload's directory tree.

inotify reports names relative to a watched directory, so the sensor must watch every
directory it cares about (here: the cell's work directory and whatever is created below
it). The kernel queue holds ``fs.inotify.max_queued_events`` events per instance; past
that it drops and queues a single IN_Q_OVERFLOW, so ``self_reported_lost`` counts overflow
notifications (a lower bound: at least that many bursts were lost), not events. inotify
gives no timestamps and no pid.
"""

from __future__ import annotations

import os
import sys
import time

from bench.backends._common import UNSAFE_UPDATE, FdBackend, max_queued_events
from bench.core.events import EventSink
from bench.backends.inotify.parse import WATCH_MASK, Decoder
from bench.core.kinds import FILE_KINDS


class InotifyBackend(FdBackend):
    name = "inotify"
    mode = "user"
    mechanism = "inotify (directory watches)"
    kinds = FILE_KINDS
    description = "inotify watches on the workload's directory tree; IN_Q_OVERFLOW counted"
    settings: dict = {"unsafe_update": UNSAFE_UPDATE}
    update_cases = ("rules",)

    @classmethod
    def available(cls) -> str | None:
        if not sys.platform.startswith("linux"):
            return "needs Linux (inotify)"
        try:
            from bench.backends.inotify import _linux

            os.close(_linux.init())
        except OSError as e:
            return f"inotify unavailable: {e.strerror or e}"
        return None

    def start(self, sink: EventSink) -> None:
        from bench.backends.inotify import _linux

        self.sink = sink
        self.decoder = Decoder()
        self.reads = 0
        self.max_queued = max_queued_events("inotify")
        self.fd = _linux.init()
        for root, _dirs, _files in os.walk(self.ctx.workdir):
            self._watch(root)
        self.start_reader("inotify")

    def _watch(self, path: str) -> None:
        from bench.backends.inotify import _linux

        wd = _linux.add_watch(self.fd, path, WATCH_MASK)
        self.decoder.dirs[wd] = path

    def _drain(self) -> None:
        decode, add = self.decoder.decode, self.sink.add
        clock = time.monotonic_ns
        for buf in self.chunks():
            for ev in decode(buf):
                add(ev.kind, 0, ev.path, 0, clock())
            while self.decoder.new_dirs:  # a new subdirectory: watch it too (racy by nature)
                try:
                    self._watch(self.decoder.new_dirs.pop())
                except OSError:
                    pass

    def stats(self) -> dict:
        d = getattr(self, "decoder", None)
        return {
            "self_reported_lost": d.overflows if d else None,
            "self_reported_lost_source": "IN_Q_OVERFLOW notifications (one per overflow, "
                                         "not per lost event)",
            "parse_errors": d.parse_errors if d else 0,
            "max_queued_events": getattr(self, "max_queued", None),
            "watches": len(d.dirs) if d else 0,
            "reads": getattr(self, "reads", 0),
        }
