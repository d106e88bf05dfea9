"""What several backends need alike, written once (as psutil keeps its ``_common``).

- ``FdBackend``: a sensor that consumes one kernel queue behind a non-blocking fd (a
  fanotify group, an inotify instance) on a ``ReaderThread``;
- ``max_queued_events``: the kernel's queue limit of such an fd, for meta.json;
- ``ensure_tracefs`` / ``has_tracepoint``: tracefs for the tracepoint-based backends (ours
  and the peers'), mounted privately when the host lacks it (``bench.core._linux``).

Only what is the same logic in more than one backend belongs here; the harness's own
process and OS helpers live in ``bench.core._linux`` and ``bench.core.cpu``, below every backend.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

from bench.backends._reader import ReaderThread
from bench.backends.base import Backend
from bench.core.errors import BackendUnavailable, BenchError
from bench.core.settings import Setting, non_negative, one_of


# Why 100 ms. A handoff wakes Python, whose cold wake-up costs CPU whatever the batch holds;
# rarer handoffs make it a small share of a core. The price is what C holds when the sensor
# is killed (failure scenarios cap it at their forward_ms: a sensor that forwards what it saw
# hands it over). It never delays t_seen (stamped at the read), and it stays under the
# harness's 200 ms drain check, so a cell's last handoff falls inside the CPU it measures.
# The measurements: docs/lab-notes.md, "C consumers hand over to Python every 100 ms".
HANDOFF_MS = Setting(int, 100, "hand what the C consumer gathered to Python at most this "
                     "long after the first of it was read (ms; 0: after every read); "
                     "t_seen is stamped at the read, not here", non_negative)


# Our user-space consumers take a channel file while running (bad-update scenario); with
# this setting their parser trusts its header, as the consumer that crashes would.
UNSAFE_UPDATE = Setting(int, 0, "1: the content-update parser trusts the header of a "
                        "channel file (models a consumer that crashes on a malformed "
                        "update; bad-update scenario)", one_of(0, 1))


class FdBackend(Backend):
    """Base of a backend that reads one non-blocking fd: it sets ``self.fd``, then calls
    ``start_reader(name)``; its ``_drain`` loops over ``chunks()``. ``stop()`` is safe after
    a failed start and twice."""

    fd = -1
    reader: ReaderThread | None = None
    reads = 0

    def _drain(self) -> None:
        raise NotImplementedError

    def start_reader(self, name: str) -> None:
        self.reader = ReaderThread(self.fd, self._drain, name)
        self.reader.start()

    def chunks(self) -> Iterator[bytes]:
        """What the fd holds, one read(2) at a time (counted in ``reads``), until it would
        block."""
        while True:
            try:
                buf = os.read(self.fd, 65536)
            except BlockingIOError:
                return
            self.reads += 1
            yield buf

    def stop(self) -> None:
        if self.reader is not None:
            self.reader.stop()  # drains what is still queued first
        if self.fd >= 0:
            os.close(self.fd)  # closing the group / instance removes its marks / watches
            self.fd = -1


def max_queued_events(api: str) -> int | None:
    """``fs.<api>.max_queued_events`` (``api``: fanotify or inotify), or None."""
    try:
        with open(f"/proc/sys/fs/{api}/max_queued_events") as f:
            return int(f.read())
    except (OSError, ValueError):
        return None


def ensure_tracefs(error: type[BenchError] = BackendUnavailable) -> str:
    """Tracepoints are attached by id and described in tracefs: make sure it is there
    (``bench.core._linux.ensure_tracefs``: mounted privately when missing). Returns what was
    found or done (for meta.json); raises ``error`` with a one-line reason. Call it from
    ``start``, never from ``available``, so that ``doctor`` changes nothing."""
    try:
        from bench.core import _linux   # tracepoint backends are Linux only

        return _linux.ensure_tracefs()
    except OSError as e:
        raise error(f"cannot use tracefs: {e.strerror}") from None


def has_tracepoint(category: str, event: str) -> bool:
    from bench.core._linux import TRACEFS

    return os.path.isdir(os.path.join(TRACEFS, "events", category, event))
