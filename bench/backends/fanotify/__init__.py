"""``fanotify``: a user-mode file sensor on fanotify with directory file handles and names.

The group reports FAN_REPORT_DFID_NAME (directory handle + entry name, no open file
descriptors), marked on the filesystem that holds the workload's directory by default: a
filesystem mark sees every change on that filesystem, as a real sensor would, so its cost
includes everyone else's file activity. Paths come from the directory handle
(open_by_handle_at, cached) plus the name. The kernel queue holds
``fs.fanotify.max_queued_events`` events unless ``unlimited_queue=1``; on overflow it
queues one FAN_Q_OVERFLOW, so ``self_reported_lost`` counts overflow notifications (a
lower bound), not events. fanotify gives the pid but no timestamp.

``parser=c`` (default): libsbfd.so reads and parses in C (``bench.backends._batch``) and
resolves each distinct directory identity once, when first seen (open_by_handle_at on
the ``DirResolver``'s filesystem fd, as the reference does), so it hands over full paths.
``parser=python`` is the reference, decoding every event here.
"""

from __future__ import annotations

import os

from bench.core.clock import now_ns
from bench.backends import _batch
from bench.backends._common import UNSAFE_UPDATE, FdBackend, max_queued_events
from bench.core.events import EventSink
from bench.backends.base import is_root
from bench.backends.fanotify.parse import (FAN_CLOSE_WRITE, FAN_CREATE, FAN_DELETE,
                                           FAN_EVENT_ON_CHILD, FAN_MODIFY, FAN_MOVED_TO, Decoder)
from bench.core.kinds import FILE_KINDS
from bench.core.settings import Setting, one_of


class FanotifyBackend(FdBackend):
    name = "fanotify"
    mode = "user"
    mechanism = "fanotify (FAN_REPORT_DFID_NAME)"
    kinds = FILE_KINDS
    description = "fanotify filesystem mark with directory handles and names"
    settings = {
        "mark": Setting(str, "filesystem", "what to mark: filesystem, mount or inode (the "
                        "workload directory)", one_of("filesystem", "mount", "inode")),
        "unlimited_queue": Setting(int, 0, "FAN_UNLIMITED_QUEUE: never overflow (0/1)"),
        "write_event": Setting(str, "close_write", "which event is file_write: close_write "
                               "or modify", one_of("close_write", "modify")),
        "parser": _batch.PARSER,
        "handoff_ms": _batch.HANDOFF_MS,
        "unsafe_update": UNSAFE_UPDATE,
    }
    update_cases = ("rules",)
    native: _batch.NativeReader | None = None

    @classmethod
    def available(cls) -> str | None:
        if not is_root():
            return "needs root (CAP_SYS_ADMIN for fanotify)"
        try:
            from bench.backends.fanotify import _linux

            os.close(_linux.init(False))
        except (OSError, AttributeError) as e:
            return f"fanotify with FAN_REPORT_DFID_NAME unavailable: {getattr(e, 'strerror', e)}"
        return _batch.missing()

    def _mask(self) -> int:
        write = FAN_MODIFY if self.cfg["write_event"] == "modify" else FAN_CLOSE_WRITE
        mask = FAN_CREATE | write | FAN_MOVED_TO | FAN_DELETE
        if self.cfg["mark"] == "inode":
            mask |= FAN_EVENT_ON_CHILD  # writes happen to children of the marked directory
        return mask

    def start(self, sink: EventSink) -> None:
        from bench.backends.fanotify import _linux

        self.sink = sink
        self.decoder = Decoder(self.cfg["write_event"])
        self.reads = 0
        self.unresolved = 0
        self.max_queued = None if self.cfg["unlimited_queue"] else max_queued_events("fanotify")
        workdir = os.path.realpath(self.ctx.workdir)
        self.fd = _linux.init(bool(self.cfg["unlimited_queue"]))
        # The workload's directory is known up front: no syscall to resolve its events.
        self.resolver = _linux.DirResolver(workdir, {_linux.dir_id(workdir): workdir})
        if self.cfg["parser"] == "c":
            opt = _batch.OPT_FAN_MODIFY if self.cfg["write_event"] == "modify" else 0
            self.reader = self.native = _batch.NativeReader(
                "fanotify", self.fd, sink, self._shape, "fanotify", self.cfg["handoff_ms"], opt)
            self.native.resolve_dirs(self.resolver.mount_fd, self.resolver.cache)
        _linux.mark(self.fd, self.cfg["mark"], self._mask(), workdir)
        if self.native is not None:
            self.native.start()
        else:
            self.start_reader("fanotify")

    def _shape(self, b: _batch.Batch):
        """parser=c: every record is an event with its full path."""
        return None, b.names

    def _drain(self) -> None:
        decode, add, resolve = self.decoder.decode, self.sink.add, self.resolver.path
        clock = now_ns
        for buf in self.chunks():
            for ev in decode(buf):
                d = resolve(ev.dir_id)
                if d is None:
                    self.unresolved += 1  # directory gone before we asked: name without a path
                    continue
                add(ev.kind, 0, f"{d}/{ev.name}", ev.pid, clock())

    def stop(self) -> None:
        super().stop()
        if getattr(self, "resolver", None) is not None:
            self.resolver.close()

    def stats(self) -> dict:
        d = getattr(self, "decoder", None)
        r = getattr(self, "resolver", None)
        st = {
            "self_reported_lost": d.overflows if d else None,
            "self_reported_lost_source": "FAN_Q_OVERFLOW notifications (one per overflow, "
                                         "not per lost event)",
            "parse_errors": d.parse_errors if d else 0,
            "max_queued_events": getattr(self, "max_queued", None),
            "unresolved_dirs": getattr(self, "unresolved", 0),
            "dir_lookups": r.lookups if r else 0,
            "events_skipped": d.skipped if d else 0,
            "reads": getattr(self, "reads", 0),
        }
        if self.native is not None:
            c = self.native.counters()
            st.update(self_reported_lost=c["overflows"], parse_errors=c["parse_errors"],
                      unresolved_dirs=c["unresolved"], dir_lookups=c["dir_lookups"],
                      events_skipped=c["skipped"], reads=c["reads"],
                      batches=self.native.batches)
        return st
