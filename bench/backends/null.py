"""``null_sensor``: the A/A control for every overhead number.

A sensor process that starts, says it is ready and then waits exactly like a user-mode
consumer waiting for events (a reader thread blocked in poll(2) on a file descriptor and
on its stop eventfd), but subscribes to nothing: no rule, mark, program or socket, so
nothing reaches it and it costs the workload nothing. Run against the no-sensor baseline,
its overhead interval must cover 0; one that does not says the method, not a sensor, is
at fault. It reports no kind (every row is ``unsupported``), yet its cells run: they exist
for the cost columns. (Not named plain ``null``: pandas and most CSV readers take the word
``null`` in a cell for a missing value, and the backend column would read back empty.)
"""

from __future__ import annotations

import os

from bench.backends._reader import ReaderThread
from bench.core.events import EventSink
from bench.backends.base import Backend


class NullBackend(Backend):
    name = "null_sensor"
    mode = "calibration"
    mechanism = "A/A control: a consumer that subscribes to nothing"
    kinds = frozenset()
    runs_without_kinds = True
    description = "idles like a consumer, sees nothing: the zero-overhead control"
    quiet_s = 0.05   # nothing will ever arrive: no need to wait for a drain

    def start(self, sink: EventSink) -> None:
        # An eventfd nobody writes: the fd a real consumer would wait on, never readable.
        self._fd = os.eventfd(0, os.EFD_CLOEXEC | os.EFD_NONBLOCK)
        self.reader = ReaderThread(self._fd, self._drain, "null")
        self.reader.start()

    def _drain(self) -> None:
        try:
            os.eventfd_read(self._fd)
        except BlockingIOError:
            pass

    def stop(self) -> None:
        if getattr(self, "reader", None) is not None:
            self.reader.stop()
            self.reader = None
        if getattr(self, "_fd", -1) >= 0:
            os.close(self._fd)
            self._fd = -1

    def stats(self) -> dict:
        return {"self_reported_lost": None}
