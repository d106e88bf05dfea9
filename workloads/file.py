"""File workload: create, write, rename and delete files under a per-run directory.

Operations cycle through the life of one file: op 4k creates ``<marker>-<k>.new``, 4k+1
writes to it and closes it, 4k+2 renames it to ``<marker>-<k>.ren``, 4k+3 deletes that.
Every path carries the run marker and the file number, which is how events are matched.
"""

from __future__ import annotations

import os
import time

from bench.core.kinds import FILE_KINDS, Kind
from workloads.base import Workload

_PAYLOAD = b"sensorbench" * 6


class FileWorkload(Workload):
    name = "file"
    kinds = FILE_KINDS
    description = "create, write+close, rename, delete files under the cell's directory"

    def setup(self) -> None:
        # The harness makes the cell's directory before the sensor starts and removes it
        # after the sensor stops, so neither shows up as an event of ours.
        self.dir = self.workdir
        os.makedirs(self.dir, exist_ok=True)
        self._fd = -1

    def op(self, i: int, t_intended: int) -> None:
        k, step = divmod(i, 4)
        base = f"{self.dir}/{self.marker}-{k:07d}"
        clock = time.monotonic_ns
        try:
            if step == 0:
                path = base + ".new"
                t0 = clock()
                self._fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                t1 = clock()
                kind = Kind.file_create
            elif step == 1:
                path = base + ".new"
                t0 = clock()
                os.write(self._fd, _PAYLOAD)
                os.close(self._fd)
                t1 = clock()
                self._fd = -1
                kind = Kind.file_write
            elif step == 2:
                path = base + ".ren"
                t0 = clock()
                os.rename(base + ".new", path)
                t1 = clock()
                kind = Kind.file_rename
            else:
                path = base + ".ren"
                t0 = clock()
                os.unlink(path)
                t1 = clock()
                kind = Kind.file_delete
        except OSError:
            self.errors += 1
            return
        self.ledger.record(i, kind, 0, path, t_intended, t0, t1)

    def teardown(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
