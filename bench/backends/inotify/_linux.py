"""inotify system calls through ctypes (the stdlib has no binding; nothing to install)."""

from __future__ import annotations

import ctypes
import os

from bench.core._linux import check, libc

IN_NONBLOCK = os.O_NONBLOCK
IN_CLOEXEC = os.O_CLOEXEC

_libc = libc()
_libc.inotify_init1.argtypes = [ctypes.c_int]
_libc.inotify_add_watch.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_uint32]


def init() -> int:
    return check(_libc.inotify_init1(IN_NONBLOCK | IN_CLOEXEC), "inotify_init1")


def add_watch(fd: int, path: str, mask: int) -> int:
    return check(_libc.inotify_add_watch(fd, os.fsencode(path), mask),
                  f"inotify_add_watch {path}")
