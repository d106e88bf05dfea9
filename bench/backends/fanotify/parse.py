"""Decoding of fanotify read buffers from a FAN_REPORT_DFID_NAME group: only bytes here.

Each event is a 24-byte ``struct fanotify_event_metadata`` (event_len, vers, reserved,
metadata_len, mask, fd, pid) followed by info records, each with a 4-byte header
(info_type, pad, len). A DFID_NAME record holds the filesystem id (8 bytes), a
``struct file_handle`` of the directory (handle_bytes, handle_type, f_handle) and the
NUL-terminated name of the entry. The kernel may merge queued events about the same
name into one event with several mask bits (create + close-write of one file, say), so
one event can yield several kinds. FAN_Q_OVERFLOW arrives as one event without info
records, however many were dropped.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from bench.core.kinds import Kind

META = struct.Struct("=IBBHQii")       # event_len, vers, reserved, metadata_len, mask, fd, pid
INFO_HDR = struct.Struct("=BBH")       # info_type, pad, len
FH_HDR = struct.Struct("=Ii")          # handle_bytes, handle_type
FANOTIFY_METADATA_VERSION = 3

FAN_MODIFY = 0x00000002
FAN_CLOSE_WRITE = 0x00000008
FAN_MOVED_FROM = 0x00000040
FAN_MOVED_TO = 0x00000080
FAN_CREATE = 0x00000100
FAN_DELETE = 0x00000200
FAN_Q_OVERFLOW = 0x00004000
FAN_EVENT_ON_CHILD = 0x08000000
FAN_ONDIR = 0x40000000

FAN_EVENT_INFO_TYPE_FID = 1
FAN_EVENT_INFO_TYPE_DFID_NAME = 2
FAN_EVENT_INFO_TYPE_DFID = 3


def kind_bits(write_event: str) -> tuple[tuple[int, Kind], ...]:
    """Mask bit -> kind. Exactly one bit stands for file_write, so one write+close is one
    event: close-write by default, or modify (every write(2), before the close)."""
    write_bit = FAN_MODIFY if write_event == "modify" else FAN_CLOSE_WRITE
    return ((FAN_CREATE, Kind.file_create), (write_bit, Kind.file_write),
            (FAN_MOVED_TO, Kind.file_rename), (FAN_DELETE, Kind.file_delete))


@dataclass(frozen=True)
class FanEvent:
    kind: Kind
    dir_id: bytes      # fsid + file_handle of the directory: the key to resolve it
    name: str
    pid: int


class Decoder:
    """Turns read buffers into FanEvents; counts overflows and what it cannot decode."""

    def __init__(self, write_event: str = "close_write") -> None:
        self.bits = kind_bits(write_event)
        self.parse_errors = 0
        self.overflows = 0
        self.skipped = 0           # well-formed events we do not report (directories, ...)

    def decode(self, buf: bytes | memoryview) -> list[FanEvent]:
        view = memoryview(buf)
        out: list[FanEvent] = []
        off, n = 0, len(view)
        while off < n:
            if n - off < META.size:
                self.parse_errors += 1
                break
            ev_len, vers, _r, meta_len, mask, _fd, pid = META.unpack_from(view, off)
            if ev_len < META.size or off + ev_len > n or meta_len < META.size \
                    or meta_len > ev_len or vers != FANOTIFY_METADATA_VERSION:
                self.parse_errors += 1  # event_len cannot be trusted: nothing after it can
                break
            if mask & FAN_Q_OVERFLOW:
                self.overflows += 1
            else:
                self._event(view[off + meta_len:off + ev_len], mask, pid, out)
            off += ev_len
        return out

    def _event(self, info: memoryview, mask: int, pid: int, out: list[FanEvent]) -> None:
        if mask & FAN_ONDIR:
            self.skipped += 1
            return
        rec = self._dfid_name(info)
        if rec is None:
            return
        dir_id, name = rec
        emitted = False
        for bit, kind in self.bits:
            if mask & bit:
                out.append(FanEvent(kind, dir_id, name, pid))
                emitted = True
        if not emitted:
            self.skipped += 1

    def _dfid_name(self, info: memoryview) -> tuple[bytes, str] | None:
        off, n = 0, len(info)
        while off < n:
            if n - off < INFO_HDR.size:
                self.parse_errors += 1
                return None
            itype, _pad, ilen = INFO_HDR.unpack_from(info, off)
            if ilen < INFO_HDR.size or off + ilen > n:
                self.parse_errors += 1
                return None
            if itype == FAN_EVENT_INFO_TYPE_DFID_NAME:
                return self._split_record(info[off + INFO_HDR.size:off + ilen])
            off += ilen
        self.parse_errors += 1  # a DFID_NAME group's event must carry one
        return None

    def _split_record(self, rec: memoryview) -> tuple[bytes, str] | None:
        # fsid (8) + file_handle header (8) + handle bytes + name NUL [+ padding]
        if len(rec) < 8 + FH_HDR.size:
            self.parse_errors += 1
            return None
        hbytes, _htype = FH_HDR.unpack_from(rec, 8)
        name_at = 8 + FH_HDR.size + hbytes
        if hbytes > 128 or name_at >= len(rec):
            self.parse_errors += 1
            return None
        raw = bytes(rec[name_at:])
        nul = raw.find(b"\0")
        if nul <= 0:  # no terminator, or an empty name
            self.parse_errors += 1
            return None
        name = raw[:nul]
        if b"/" in name:
            self.parse_errors += 1
            return None
        return bytes(rec[:name_at]), name.decode("utf-8", "surrogateescape")
