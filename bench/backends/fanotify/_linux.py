"""fanotify and file-handle system calls through ctypes (no binding in the stdlib).

``DirResolver`` turns the directory identity of an event (fsid + file handle) into a path:
open_by_handle_at(O_PATH) and the /proc/self/fd link, cached, because a directory's
handle is the same for every event in it and the syscall pair costs microseconds.
"""

from __future__ import annotations

import ctypes
import os
import struct

from bench.core._linux import check, libc

FAN_CLOEXEC = 0x1
FAN_NONBLOCK = 0x2
FAN_CLASS_NOTIF = 0x0
FAN_UNLIMITED_QUEUE = 0x10
FAN_REPORT_DFID_NAME = 0x400 | 0x800  # FAN_REPORT_DIR_FID | FAN_REPORT_NAME
FAN_MARK_ADD = 0x1
FAN_MARK_REMOVE = 0x2
MARKS = {"inode": 0x0, "mount": 0x10, "filesystem": 0x100}
AT_FDCWD = -100
MAX_HANDLE_SZ = 128

_libc = libc()
_libc.fanotify_init.argtypes = [ctypes.c_uint, ctypes.c_uint]
_libc.fanotify_mark.argtypes = [ctypes.c_int, ctypes.c_uint, ctypes.c_uint64, ctypes.c_int,
                                ctypes.c_char_p]
_libc.name_to_handle_at.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_void_p,
                                    ctypes.POINTER(ctypes.c_int), ctypes.c_int]
_libc.open_by_handle_at.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_int]


def init(unlimited_queue: bool) -> int:
    flags = FAN_CLASS_NOTIF | FAN_CLOEXEC | FAN_NONBLOCK | FAN_REPORT_DFID_NAME
    if unlimited_queue:
        flags |= FAN_UNLIMITED_QUEUE
    return check(_libc.fanotify_init(flags, os.O_RDONLY | os.O_LARGEFILE), "fanotify_init")


def mark(fd: int, how: str, mask: int, path: str, remove: bool = False) -> None:
    flags = (FAN_MARK_REMOVE if remove else FAN_MARK_ADD) | MARKS[how]
    check(_libc.fanotify_mark(fd, flags, mask, AT_FDCWD, os.fsencode(path)),
           f"fanotify_mark ({how}) {path}")


def dir_id(path: str) -> bytes:
    """fsid + struct file_handle of ``path``, laid out as fanotify reports it."""
    buf = ctypes.create_string_buffer(8 + MAX_HANDLE_SZ)
    struct.pack_into("=I", buf, 0, MAX_HANDLE_SZ)
    mount_id = ctypes.c_int()
    check(_libc.name_to_handle_at(AT_FDCWD, os.fsencode(path), buf, ctypes.byref(mount_id), 0),
           f"name_to_handle_at {path}")
    hbytes = struct.unpack_from("=I", buf, 0)[0]
    st = os.statvfs(path)
    # statfs f_fsid is two 32-bit words; statvfs folds them into one 64-bit f_fsid.
    fsid = struct.pack("=Q", st.f_fsid)
    return fsid + buf.raw[:8 + hbytes]


class DirResolver:
    """Directory identity -> path, with a cache (and a negative cache for stale handles)."""

    def __init__(self, mount_path: str, known: dict[bytes, str] | None = None):
        self.mount_fd = os.open(mount_path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        self.cache: dict[bytes, str | None] = dict(known or {})
        self.lookups = 0
        self.failed = 0

    def path(self, dir_id: bytes) -> str | None:
        try:
            return self.cache[dir_id]
        except KeyError:
            pass
        self.lookups += 1
        handle = ctypes.create_string_buffer(dir_id[8:], len(dir_id) - 8)
        try:
            fd = check(_libc.open_by_handle_at(self.mount_fd, handle, os.O_PATH | os.O_CLOEXEC),
                        "open_by_handle_at")
            try:
                p = os.readlink(f"/proc/self/fd/{fd}")
            finally:
                os.close(fd)
        except OSError:
            self.failed += 1
            p = None
        self.cache[dir_id] = p
        return p

    def close(self) -> None:
        if self.mount_fd >= 0:
            os.close(self.mount_fd)
            self.mount_fd = -1
