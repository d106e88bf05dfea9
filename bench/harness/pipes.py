"""Reading a child's stdout with a timeout, on either platform.

The harness talks to its sensor host and its workload over pipes and must not wait for
ever on one that died or hangs. On Linux a pipe can be selected; on Windows ``select``
takes sockets only, so a thread reads the pipe and the caller waits on a queue. One class
with ``read(timeout)``, chosen once.
"""

from __future__ import annotations

import os
import queue
import selectors
import threading

from bench.core.osapi import IS_WINDOWS

CHUNK = 65536


class _SelectReader:
    """POSIX: wait for the fd to be readable, then read what is there."""

    def __init__(self, fd: int):
        self.fd = fd
        self._sel = selectors.DefaultSelector()
        self._sel.register(fd, selectors.EVENT_READ)

    def read(self, timeout: float) -> bytes | None:
        """Up to CHUNK bytes; b"" at end of file; None when nothing came within timeout."""
        if not self._sel.select(max(0.0, timeout)):
            return None
        return os.read(self.fd, CHUNK)

    def close(self) -> None:
        self._sel.close()


class _ThreadReader:
    """Windows: a daemon thread does the blocking reads; ``read`` waits on its queue."""

    def __init__(self, fd: int):
        self.fd = fd
        self._q: queue.Queue[bytes] = queue.Queue()
        self._eof = False
        threading.Thread(target=self._pump, name=f"pipe-{fd}", daemon=True).start()

    def _pump(self) -> None:
        while True:
            try:
                chunk = os.read(self.fd, CHUNK)
            except OSError:
                chunk = b""
            self._q.put(chunk)
            if not chunk:
                return

    def read(self, timeout: float) -> bytes | None:
        if self._eof:
            return b""
        try:
            chunk = self._q.get(timeout=max(0.0, timeout))
        except queue.Empty:
            return None
        self._eof = not chunk
        return chunk

    def close(self) -> None:
        pass   # the thread ends at end of file, which closing the process brings


PipeReader = _ThreadReader if IS_WINDOWS else _SelectReader
