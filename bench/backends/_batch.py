"""The C path of the user-mode consumers: libsbfd.so reads and parses an fd, this module
hands its batches to the sink as columns.

The inotify, fanotify and proc connector backends used to read their fd on a Python
thread and decode every event in Python (``_reader.ReaderThread`` + ``parse.py``), while
the eBPF consumer decodes in C and numpy: the kernel-vs-user comparison was partly
Python vs C. With ``parser=c`` (the default) the whole loop runs in C
(``bench/backends/_native``: poll, read with large buffers, parse, t_seen stamped once
per read call) with the GIL released; Python wakes once per handoff (``handoff_ms`` after
the first record held, sooner when the buffers fill, at once when a record needs it, and
at stop after a last drain), takes the rows as one numpy structured array and the names
with one decode and split, lets the backend turn its records into paths (``shape``) and
calls ``sink.add_batch`` once. The counters stay in C and are read by name.
``parser=python`` keeps the readable reference.

``NativeReader`` has what ``ReaderThread`` has (``start``, ``stop`` that drains first,
``error`` for the backend's ``fatal``), plus ``feed(bytes)``: the same parser and the same
delivery on bytes that no fd produced (tests, benchmarks).
"""

from __future__ import annotations

import ctypes
import errno
import os
import threading
from functools import lru_cache
from pathlib import Path
from collections.abc import Callable

import numpy as np

from bench.core.errors import BackendUnavailable, FacilityError, ParseError
from bench.core.events import EventSink
from bench.backends._common import HANDOFF_MS  # noqa: F401 (backends name it from here)
from bench.core.settings import Setting, one_of

LIB = Path(__file__).resolve().parent / "_native" / "build" / "libsbfd.so"
ABI = 4                                   # fdread.h's SBFD_ABI
MECHS = {"inotify": 1, "fanotify": 2, "cn_proc": 3, "audit": 4}
HANDOFF, FULL, URGENT, STOPPED = 1, 2, 4, 8   # why sbfd_run returned
NEW_DIR, WD_GONE = -1, -2                 # inotify's records that are not events
OPT_FAN_MODIFY = 1                        # fanotify: FAN_MODIFY is file_write
OPT_ARGV = 1                              # cn_proc: /proc/PID/cmdline on exec
CAP = 65536                               # records per batch at most

# struct sbfd_rec (fdread.h)
REC = np.dtype([("key", "<i8"), ("pid", "<i8"), ("t_seen", "<i8"), ("t_kernel", "<i8"),
                ("aux", "<i8"), ("name_len", "<i4"), ("kind", "<i2"), ("pad", "<i2")])


class _BatchInfo(ctypes.Structure):
    """struct sbfd_batch (fdread.h): read in place after each handoff, no call."""

    _fields_ = [("n", ctypes.c_uint64), ("named", ctypes.c_uint64),
                ("special", ctypes.c_uint64), ("blob_len", ctypes.c_uint64),
                ("rec", ctypes.c_void_p), ("blob", ctypes.c_void_p)]


PARSER = Setting(str, "c", "where events are read and decoded: c (libsbfd.so; Python takes "
                 "batches every handoff_ms) or python (the reference: a Python thread "
                 "decoding every event)", one_of("c", "python"))


class _Lib:
    """Typed handles on libsbfd.so (fdread.c)."""

    def __init__(self, path: Path):
        lib = ctypes.CDLL(str(path), use_errno=True)
        vp, sz, lg = ctypes.c_void_p, ctypes.c_size_t, ctypes.c_long

        def fn(name, restype, *argtypes):
            f = getattr(lib, name)
            f.restype, f.argtypes = restype, list(argtypes)
            return f

        self.abi = fn("sbfd_abi", ctypes.c_int)
        self.rec_size = fn("sbfd_rec_size", sz)
        self.open = fn("sbfd_open", vp, ctypes.c_int, ctypes.c_int, ctypes.c_uint64, sz)
        self.run = fn("sbfd_run", lg, vp, ctypes.c_int, ctypes.POINTER(ctypes.c_int))
        self.stop = fn("sbfd_stop", ctypes.c_int, vp)
        self.feed = fn("sbfd_feed", lg, vp, vp, sz, ctypes.POINTER(sz),
                       ctypes.POINTER(ctypes.c_int), ctypes.c_int)
        self.watch = fn("sbfd_watch", ctypes.c_int, vp, ctypes.c_int, ctypes.c_char_p, sz)
        self.set_mount = fn("sbfd_set_mount", None, vp, ctypes.c_int)
        self.set_poll = fn("sbfd_set_poll", None, vp, ctypes.c_int)
        self.dir_known = fn("sbfd_dir_known", ctypes.c_int, vp, ctypes.c_char_p, sz,
                            ctypes.c_char_p, sz)
        self.dir_key = fn("sbfd_dir_key", lg, vp, sz, ctypes.c_char_p, sz)
        self.batch = fn("sbfd_batch", vp, vp)
        self.counters = fn("sbfd_counters", vp, vp)
        self.counter_names = fn("sbfd_counter_names", ctypes.c_char_p)
        self.close = fn("sbfd_close", None, vp)
        self.flush = fn("sbfd_flush", lg, vp, ctypes.c_int, ctypes.POINTER(ctypes.c_int),
                        ctypes.c_int)
        self.audit_syscall = fn("sbfd_audit_syscall", ctypes.c_int, vp, lg, ctypes.c_int)
        self.audit_stale = fn("sbfd_audit_stale", ctypes.c_int, vp, ctypes.c_int64)
        self.audit_open_groups = fn("sbfd_audit_open_groups", lg, vp)


@lru_cache(maxsize=1)
def library() -> _Lib:
    return _Lib(LIB)


def missing() -> str | None:
    """Why the C reader cannot be used here (one line), or None."""
    if not LIB.exists():
        return "libsbfd.so (the C reader) is not built: run make native"
    try:
        lib = library()
        abi, size = lib.abi(), lib.rec_size()
    except (OSError, AttributeError) as e:
        return f"libsbfd.so not loadable ({e}): run make native"
    if abi != ABI or size != REC.itemsize:
        return f"libsbfd.so is of another version (ABI {abi}, want {ABI}): run make native"
    return None


class Batch:
    """One handoff's records: ``rec`` (REC rows) and ``names``, in order, the names of the
    records that carry one. ``special``: how many records are not events (kind < 0:
    NEW_DIR, WD_GONE)."""

    __slots__ = ("rec", "names", "special")

    def __init__(self, rec: np.ndarray, names: list[str], special: int):
        self.rec, self.names, self.special = rec, names, special

    @property
    def kind(self) -> np.ndarray:
        return self.rec["kind"]

    @property
    def aux(self) -> np.ndarray:
        return self.rec["aux"]

    def name_column(self) -> np.ndarray:
        """One entry per record: its name, or None."""
        out = np.full(len(self.rec), None, dtype=object)
        if self.names:
            out[self.rec["name_len"] >= 0] = np.array(self.names, dtype=object)
        return out


# What a backend makes of a batch: which records are events to deliver (a bool mask; None:
# all of them) and the path column of those (None: no paths).
Shape = Callable[[Batch], "tuple[np.ndarray | None, list | np.ndarray | None]"]


class NativeReader:
    """libsbfd's reader of one fd on a thread, delivering to ``sink`` through ``shape``."""

    def __init__(self, mech: str, fd: int, sink: EventSink, shape: Shape, name: str,
                 handoff_ms: int = HANDOFF_MS.default, opt: int = 0,
                 name_errors: str = "surrogateescape", cap: int = CAP):
        why = missing()
        if why:
            raise BackendUnavailable(f"parser=c: {why} (or use parser=python)")
        self.L = L = library()
        self.r = L.open(MECHS[mech], fd, opt, cap)
        if not self.r:
            raise FacilityError(ctypes.get_errno() or errno.ENOMEM, "cannot set up the C reader")
        self._info = _BatchInfo.from_address(L.batch(self.r))
        names = L.counter_names().decode().rstrip(",").split(",")
        self._counts = (ctypes.c_uint64 * len(names)).from_address(L.counters(self.r))
        self._index = {n: i for i, n in enumerate(names)}
        self._final: dict[str, int] | None = None
        self.sink, self.shape, self.name = sink, shape, name
        self.handoff_ms = handoff_ms
        self.name_errors = name_errors
        self.batches = 0
        self.error: str | None = None
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    # -- the thread -----------------------------------------------------------------------
    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        why = ctypes.c_int(0)
        run, r, ms, pwhy = self.L.run, self.r, self.handoff_ms, ctypes.byref(why)
        try:
            while True:
                n = run(r, ms, pwhy)   # the GIL is released in there
                if n < 0:
                    raise FacilityError(-n, f"{self.name} reader: {os.strerror(-n)}")
                if n:
                    self._take()
                if why.value & STOPPED:
                    return
        except Exception as e:  # kept for the harness: a dead reader must fail the cell
            self.error = f"{type(e).__name__}: {e}"

    def _take(self) -> None:
        """Copy the batch C holds, let the backend shape it, deliver it."""
        info = self._info
        # the batch's own, writable copy: a shape may rewrite columns in place (audit:
        # accept keys, kinds, wall-clock t_kernel to monotonic)
        rec = np.frombuffer(bytearray(ctypes.string_at(info.rec, info.n * REC.itemsize)), REC)
        names: list[str] = []
        if info.blob_len:
            names = ctypes.string_at(info.blob, info.blob_len).decode(
                "utf-8", self.name_errors).split("\0")
            names.pop()  # the NUL after the last name leaves an empty string
        if len(names) != info.named:
            raise ParseError(f"C reader: {len(names)} names for {info.named} named records")
        keep, path = self.shape(Batch(rec, names, info.special))
        self.batches += 1
        if keep is not None:
            rec = rec[keep]
            if not len(rec):
                return
        self.sink.add_batch(rec["kind"], rec["key"], rec["pid"], rec["t_seen"],
                            rec["t_kernel"], path)

    def stop(self, timeout: float = 5.0) -> None:
        """Wake the thread for its last drain, wait for it, free the reader. Safe to call
        twice and before ``start``; the fd stays open (its owner closes it)."""
        if self.r is None:
            return
        if self._thread.is_alive():
            self.L.stop(self.r)
            self._thread.join(timeout)
            if self._thread.is_alive():
                self.error = self.error or f"{self.name} reader did not stop in {timeout:g} s"
                return  # still inside C: leave its memory be
        self._final = self.counters()
        self.L.close(self.r)
        self.r = None

    # -- what Python asks of it -----------------------------------------------------------
    def counters(self) -> dict[str, int]:
        if self._final is not None:
            return dict(self._final)
        return dict(zip(self._index, self._counts))

    def counter(self, name: str) -> int:
        """One counter, without building the whole dict (per batch)."""
        if self._final is not None:
            return self._final[name]
        return self._counts[self._index[name]]

    def watch(self, wd: int, path: str) -> None:
        """inotify: a wd the backend now watches, and its directory (events of other wds
        are counted as unknown)."""
        raw = os.fsencode(path)
        if self.L.watch(self.r, wd, raw, len(raw)):
            raise FacilityError(errno.ENOMEM, "C reader: cannot grow the watch table")

    def resolve_dirs(self, mount_fd: int, known: dict[bytes, str]) -> None:
        """fanotify: open directory handles on ``mount_fd`` (borrowed: keep it open while
        reading); ``known``: identities whose path needs no lookup."""
        self.L.set_mount(self.r, mount_fd)
        for key, path in known.items():
            raw = os.fsencode(path)
            if self.L.dir_known(self.r, key, len(key), raw, len(raw)):
                raise FacilityError(errno.ENOMEM, "C reader: cannot grow the directory table")

    def dir_key(self, i: int) -> bytes:
        """fanotify: the identity (fsid + file_handle) of interned directory ``i``."""
        buf = ctypes.create_string_buffer(512)
        n = self.L.dir_key(self.r, i, buf, len(buf))
        if n < 0:
            raise ParseError(f"C reader: no directory {i}")
        return buf.raw[:n]

    def flush(self, everything: bool = True) -> None:
        """Deliver what the parser still holds as it would at the end of a run (audit:
        groups whose EOE never came; ``everything=False``: the stale ones only). For
        ``feed``'s users: a running reader does this itself when it stops."""
        why = ctypes.c_int(0)
        while True:
            n = self.L.flush(self.r, 1 if everything else 0, ctypes.byref(why), 0)
            if n < 0:
                raise FacilityError(-n, f"C reader: {os.strerror(-n)}")
            if n:
                self._take()
            if not why.value & FULL:
                return

    def feed(self, *reads: bytes) -> None:
        """Parse each of ``reads`` as if one read had returned it (for the proc connector:
        one datagram) and deliver the records: in one batch, unless the output fills or a
        record needs Python at once, as ``sbfd_run`` would hand them over."""
        used, why = ctypes.c_size_t(0), ctypes.c_int(0)
        held = 0
        for data in reads:
            base = ctypes.cast(ctypes.c_char_p(data), ctypes.c_void_p).value or 0
            off = 0
            while True:
                held = self.L.feed(self.r, base + off, len(data) - off, ctypes.byref(used),
                                   ctypes.byref(why), 1 if held else 0)
                if held < 0:
                    raise FacilityError(-held, f"C reader: {os.strerror(-held)}")
                off += used.value
                if why.value & (FULL | URGENT):
                    self._take()
                    held = 0
                if off >= len(data) or not why.value & (FULL | URGENT):
                    break
        if held:
            self._take()
