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

from bench.backends._reader import ReaderThread
from bench.backends.base import Backend, EventSink
from bench.kinds import Kind
from bench.backends.inotify.parse import WATCH_MASK, Decoder


class InotifyBackend(Backend):
    name = "inotify"
    mode = "user"
    mechanism = "inotify (directory watches)"
    kinds = frozenset({Kind.file_create, Kind.file_write, Kind.file_rename, Kind.file_delete})
    description = "inotify watches on the workload's directory tree; IN_Q_OVERFLOW counted"
    settings: dict = {}

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
        self.max_queued = _linux.max_queued_events()
        self.fd = _linux.init()
        for root, _dirs, _files in os.walk(self.ctx.workdir):
            self._watch(root)
        self.reader = ReaderThread(self.fd, self._drain, "inotify")
        self.reader.start()

    def _watch(self, path: str) -> None:
        from bench.backends.inotify import _linux

        wd = _linux.add_watch(self.fd, path, WATCH_MASK)
        self.decoder.dirs[wd] = path

    def _drain(self) -> None:
        read, decode, add = os.read, self.decoder.decode, self.sink.add
        clock = time.monotonic_ns
        while True:
            try:
                buf = read(self.fd, 65536)
            except BlockingIOError:
                return
            self.reads += 1
            for ev in decode(buf):
                add(ev.kind, 0, ev.path, 0, clock())
            while self.decoder.new_dirs:  # a new subdirectory: watch it too (racy by nature)
                try:
                    self._watch(self.decoder.new_dirs.pop())
                except OSError:
                    pass

    def stop(self) -> None:
        if getattr(self, "reader", None) is not None:
            self.reader.stop()
        if getattr(self, "fd", -1) >= 0:
            os.close(self.fd)  # closing the instance removes every watch
            self.fd = -1

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
