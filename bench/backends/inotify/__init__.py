"""``inotify``: a user-mode file sensor with watches on the workload's directory tree.

inotify reports names relative to a watched directory, so the sensor must watch every
directory it cares about (here: the cell's work directory and whatever is created below
it). The kernel queue holds ``fs.inotify.max_queued_events`` events per instance; past
that it drops and queues a single IN_Q_OVERFLOW, so ``self_reported_lost`` counts overflow
notifications (a lower bound: at least that many bursts were lost), not events. inotify
gives no timestamps and no pid.

``parser=c`` (default): libsbfd.so reads and parses in C (``bench.backends._batch``); it
is told each watch's directory and hands over full paths. A new subdirectory ends a batch
at once so that it is watched before the next read, as the Python reference
(``parser=python``) does.
"""

from __future__ import annotations

import os

import numpy as np

from bench.core.clock import now_ns
from bench.backends import _batch
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
    settings: dict = {"parser": _batch.PARSER, "handoff_ms": _batch.HANDOFF_MS,
                      "unsafe_update": UNSAFE_UPDATE}
    native: _batch.NativeReader | None = None
    update_cases = ("rules",)

    @classmethod
    def available(cls) -> str | None:
        try:
            from bench.backends.inotify import _linux

            os.close(_linux.init())
        except OSError as e:
            return f"inotify unavailable: {e.strerror or e}"
        return _batch.missing()

    def start(self, sink: EventSink) -> None:
        from bench.backends.inotify import _linux

        self.sink = sink
        self.decoder = Decoder()
        self.reads = 0
        self.max_queued = max_queued_events("inotify")
        self.fd = _linux.init()
        if self.cfg["parser"] == "c":
            self.reader = self.native = _batch.NativeReader(
                "inotify", self.fd, sink, self._shape, "inotify", self.cfg["handoff_ms"])
        for root, _dirs, _files in os.walk(self.ctx.workdir):
            self._watch(root)
        if self.native is not None:
            self.native.start()
        else:
            self.start_reader("inotify")

    def _watch(self, path: str) -> None:
        from bench.backends.inotify import _linux

        wd = _linux.add_watch(self.fd, path, WATCH_MASK)
        self.decoder.dirs[wd] = path
        if self.native is not None:
            self.native.watch(wd, path)

    def _shape(self, b: _batch.Batch):
        """parser=c: the records' paths, then what the records that are not events ask
        for: watch a new directory, forget a wd the kernel dropped."""
        if not b.special:  # only events
            return None, b.names
        names = b.name_column()
        for i in np.flatnonzero(b.kind < 0).tolist():
            if b.kind[i] == _batch.WD_GONE:
                self.decoder.dirs.pop(int(b.aux[i]), None)
                continue
            try:  # a new subdirectory: watch it too (racy by nature)
                self._watch(names[i])
            except OSError:
                pass
        ev = b.kind >= 0
        return ev, names[ev]

    def _drain(self) -> None:
        decode, add = self.decoder.decode, self.sink.add
        clock = now_ns
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
        st = {
            "self_reported_lost": d.overflows if d else None,
            "self_reported_lost_source": "IN_Q_OVERFLOW notifications (one per overflow, "
                                         "not per lost event)",
            "parse_errors": d.parse_errors if d else 0,
            "max_queued_events": getattr(self, "max_queued", None),
            "watches": len(d.dirs) if d else 0,
            "reads": getattr(self, "reads", 0),
        }
        if self.native is not None:
            c = self.native.counters()
            st.update(self_reported_lost=c["overflows"], parse_errors=c["parse_errors"],
                      reads=c["reads"], batches=self.native.batches,
                      unknown_wd=c["unknown_wd"])
        return st
