"""File workload: create, write, rename and delete files under a per-run directory.

Operations cycle through the life of one file: op 4k creates ``<marker>-<k>.new``, 4k+1
writes to it and closes it, 4k+2 renames it to ``<marker>-<k>.ren``, 4k+3 deletes that.
Every path carries the run marker and the file number, which is how events are matched.

The same code runs on Linux and Windows, with the same kinds and keys. The key is the path
exactly as a sensor reports it, and the file is opened by that very string
(``path_prefix``): on Linux the cell's directory as the harness gives it, ``/`` and the
name (unchanged from before Windows support); on Windows the directory's final path
(``realpath``: absolute, normalized, long names, links resolved) and ``\\`` and the name,
which is what a Windows sensor reports once it has turned ``\\Device\\HarddiskVolumeN``
into a drive letter. ``realpath`` matters there: ``%TEMP%`` is often a short 8.3 name
(``C:\\Users\\RUNNER~1\\...`` on GitHub's runners) that a normalizing sensor (a minifilter
such as Sysmon's) expands, while one that reports the name as opened (ETW Kernel-File)
then reports the same long name, because that is the name we open. Files are opened with
O_BINARY where it exists (Windows; 0 elsewhere). ``os.rename`` fails on Windows when the
target exists, unlike ``rename(2)``; our target never exists (its number is new, and the
run's directory is new), so both platforms keep ``os.rename``.

Rates: docs/lab-notes.md ("Workload rates"). On Windows a delete can fail (counted in
``errors``) while a scanner still holds the file open.
"""

from __future__ import annotations

import ntpath
import os

from bench.core.clock import now_ns
from bench.core.kinds import FILE_KINDS, Kind
from bench.core.osapi import IS_WINDOWS
from workloads.base import Workload

_PAYLOAD = b"sensorbench" * 6
_CREATE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)


def path_prefix(workdir: str, windows: bool = IS_WINDOWS) -> str:
    """What every path of the cell starts with: the directory and its separator.

    Linux: ``workdir + "/"``, byte for byte what the workload always wrote. Windows: the
    directory's final path (absolute, normalized, 8.3 names expanded, links resolved) and a
    backslash: the string a Windows sensor reports after device-path conversion."""
    if not windows:
        return workdir + "/"
    return ntpath.join(ntpath.realpath(workdir), "")


class FileWorkload(Workload):
    name = "file"
    kinds = FILE_KINDS
    description = "create, write+close, rename, delete files under the cell's directory"

    def setup(self) -> None:
        # The harness makes the cell's directory before the sensor starts and removes it
        # after the sensor stops, so neither shows up as an event of ours.
        self.dir = self.workdir
        os.makedirs(self.dir, exist_ok=True)
        self.prefix = path_prefix(self.dir)  # after makedirs: realpath needs it to exist
        self._fd = -1

    def op(self, i: int, t_intended: int) -> None:
        k, step = divmod(i, 4)
        base = f"{self.prefix}{self.marker}-{k:07d}"
        clock = now_ns
        try:
            if step == 0:
                path = base + ".new"
                t0 = clock()
                self._fd = os.open(path, _CREATE_FLAGS, 0o600)
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
