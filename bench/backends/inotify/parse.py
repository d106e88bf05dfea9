"""Decoding of inotify read buffers: no file descriptors here, only bytes.

A read returns whole ``struct inotify_event`` records: wd, mask, cookie, len (16 bytes)
and ``len`` bytes of NUL-padded name. We map them to our kinds (create, close-write as
the one write event per write+close, moved-to as rename under the new name, delete) and
keep IN_Q_OVERFLOW: the kernel queues exactly one such record however many events it
dropped, so its count says that loss happened, not how much.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from bench.core.kinds import Kind

HDR = struct.Struct("=iIII")

IN_MODIFY = 0x00000002
IN_CLOSE_WRITE = 0x00000008
IN_MOVED_FROM = 0x00000040
IN_MOVED_TO = 0x00000080
IN_CREATE = 0x00000100
IN_DELETE = 0x00000200
IN_DELETE_SELF = 0x00000400
IN_Q_OVERFLOW = 0x00004000
IN_IGNORED = 0x00008000
IN_ISDIR = 0x40000000

# What we ask for. Not IN_MODIFY: close-write is the write event (one per operation).
WATCH_MASK = IN_CREATE | IN_CLOSE_WRITE | IN_MOVED_TO | IN_DELETE | IN_DELETE_SELF

_KINDS = ((IN_CREATE, Kind.file_create), (IN_CLOSE_WRITE, Kind.file_write),
          (IN_MOVED_TO, Kind.file_rename), (IN_DELETE, Kind.file_delete))


@dataclass(frozen=True)
class FileEvent:
    kind: Kind
    path: str


class Decoder:
    """Turns read buffers into FileEvents using the wd -> directory map it is given.

    ``new_dirs`` collects directories created under a watched one, so the backend can
    watch them too (a tree, not one directory)."""

    def __init__(self, dirs: dict[int, str] | None = None) -> None:
        self.dirs: dict[int, str] = dict(dirs or {})
        self.parse_errors = 0
        self.overflows = 0
        self.unknown_wd = 0
        self.new_dirs: list[str] = []

    def decode(self, buf: bytes | memoryview) -> list[FileEvent]:
        view = memoryview(buf)
        out: list[FileEvent] = []
        off, n = 0, len(view)
        while off < n:
            if n - off < HDR.size:
                self.parse_errors += 1
                break
            wd, mask, _cookie, length = HDR.unpack_from(view, off)
            end = off + HDR.size + length
            if end > n:
                self.parse_errors += 1
                break
            name = bytes(view[off + HDR.size:end]).rstrip(b"\0")
            off = end
            if mask & IN_Q_OVERFLOW:
                self.overflows += 1
                continue
            if mask & IN_IGNORED:
                self.dirs.pop(wd, None)
                continue
            base = self.dirs.get(wd)
            if base is None:
                self.unknown_wd += 1
                continue
            if not name or b"/" in name or b"\0" in name:
                if not mask & IN_DELETE_SELF:
                    self.parse_errors += 1
                continue
            path = f"{base}/{name.decode('utf-8', 'surrogateescape')}"
            if mask & IN_ISDIR:
                if mask & (IN_CREATE | IN_MOVED_TO):
                    self.new_dirs.append(path)
                continue
            for bit, kind in _KINDS:
                if mask & bit:
                    out.append(FileEvent(kind, path))
        return out
