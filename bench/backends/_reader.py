"""A thread that waits for one file descriptor to become readable and drains it in Python.

The user-mode backends (audit, fanotify, inotify, proc connector) all consume a kernel
queue behind one fd. With ``parser=python`` (their readable reference; the default reads
in C, ``bench.backends._batch``) they do it on this thread. They block in poll(2) on that fd and on an eventfd that ``stop()``
writes to, so an idle sensor costs no wake-ups (a receive timeout would) and stopping is
immediate. What is still queued on the fd when ``stop()`` is called is drained once more
before the thread ends: those events are late, not lost. An exception in the drain callback
does not vanish with the thread: it is kept in ``error`` and the backend reports it as
``fatal`` (the harness fails the cell). The fd must be non-blocking.
"""

from __future__ import annotations

import os
import select
import threading
from collections.abc import Callable


class ReaderThread:
    def __init__(self, fd: int, drain: Callable[[], None], name: str):
        self._fd = fd
        self._drain = drain
        self._efd = os.eventfd(0, os.EFD_CLOEXEC | os.EFD_NONBLOCK)
        self.error: str | None = None
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        poller = select.poll()
        poller.register(self._fd, select.POLLIN)
        poller.register(self._efd, select.POLLIN)
        try:
            while True:
                ready = poller.poll()
                if any(fd == self._efd for fd, _ in ready):
                    if select.select([self._fd], [], [], 0)[0]:
                        self._drain()  # what arrived before the stop is still ours
                    return
                self._drain()
        except Exception as e:  # kept for the harness: a dead reader must fail the cell
            self.error = f"{type(e).__name__}: {e}"

    def stop(self, timeout: float = 5.0) -> None:
        """Wake the thread, wait for it, close the eventfd. Safe to call twice."""
        if self._efd < 0:
            return
        os.eventfd_write(self._efd, 1)
        if self._thread.is_alive():
            self._thread.join(timeout)
        os.close(self._efd)
        self._efd = -1
