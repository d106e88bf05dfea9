"""ctypes bindings: the few libbpf (libbpf.so.1) calls the loader needs, and our ring shim.

Only what is used is declared, each with its real C signature, so a wrong argument is a
TypeError here rather than a crash in the kernel-facing library. libbpf 1.x reports errors
as NULL / negative returns with errno set; ``check_ptr`` / ``check_int`` turn those into
OSError with the errno name.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import os
from functools import lru_cache
from pathlib import Path

from bench.core.errors import FacilityError

HERE = Path(__file__).resolve().parent
BUILD = HERE / "build"
# SENSORBENCH_EBPF_OBJECT: load another build of the sensor (a modified program, or the
# test that proves a verifier rejection fails the cell with its log saved).
BPF_OBJECT = Path(os.environ.get("SENSORBENCH_EBPF_OBJECT") or BUILD / "sensor.bpf.o")
PROBE_OBJECT = BUILD / "probe.bpf.o"
COST_OBJECT = BUILD / "cost.bpf.o"
BAD_UPDATE_OBJECT = BUILD / "bad_update.bpf.o"   # the update the verifier must refuse
SHIM = BUILD / "libsbring.so"

BPF_STATS_RUN_TIME = 0

c_void_p, c_char_p, c_int, c_size_t = ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int, ctypes.c_size_t


def _fn(lib, name, restype, *argtypes):
    f = getattr(lib, name)
    f.restype, f.argtypes = restype, list(argtypes)
    return f


class Libbpf:
    """Typed handles on libbpf.so.1 functions."""

    def __init__(self, path: str = "libbpf.so.1"):
        lib = ctypes.CDLL(path, use_errno=True)
        self.lib = lib
        self.open_file = _fn(lib, "bpf_object__open_file", c_void_p, c_char_p, c_void_p)
        self.load = _fn(lib, "bpf_object__load", c_int, c_void_p)
        self.close = _fn(lib, "bpf_object__close", None, c_void_p)
        self.find_map = _fn(lib, "bpf_object__find_map_by_name", c_void_p, c_void_p, c_char_p)
        self.next_program = _fn(lib, "bpf_object__next_program", c_void_p, c_void_p, c_void_p)
        self.find_program = _fn(lib, "bpf_object__find_program_by_name", c_void_p, c_void_p,
                                c_char_p)
        self.prog_name = _fn(lib, "bpf_program__name", c_char_p, c_void_p)
        self.prog_section = _fn(lib, "bpf_program__section_name", c_char_p, c_void_p)
        self.prog_fd = _fn(lib, "bpf_program__fd", c_int, c_void_p)
        self.set_autoload = _fn(lib, "bpf_program__set_autoload", c_int, c_void_p, ctypes.c_bool)
        self.attach = _fn(lib, "bpf_program__attach", c_void_p, c_void_p)
        self.attach_tracepoint = _fn(lib, "bpf_program__attach_tracepoint", c_void_p, c_void_p,
                                     c_char_p, c_char_p)
        self.link_destroy = _fn(lib, "bpf_link__destroy", c_int, c_void_p)
        self.map_fd = _fn(lib, "bpf_map__fd", c_int, c_void_p)
        self.map_set_max_entries = _fn(lib, "bpf_map__set_max_entries", c_int, c_void_p,
                                       ctypes.c_uint32)
        self.map_initial_value = _fn(lib, "bpf_map__initial_value", c_void_p, c_void_p,
                                     ctypes.POINTER(c_size_t))
        self.map_lookup_elem = _fn(lib, "bpf_map_lookup_elem", c_int, c_int, c_void_p, c_void_p)
        self.map_get_next_key = _fn(lib, "bpf_map_get_next_key", c_int, c_int, c_void_p,
                                    c_void_p)
        self.map_update_elem = _fn(lib, "bpf_map_update_elem", c_int, c_int, c_void_p,
                                   c_void_p, ctypes.c_uint64)
        self.enable_stats = _fn(lib, "bpf_enable_stats", c_int, c_int)
        self.num_possible_cpus = _fn(lib, "libbpf_num_possible_cpus", c_int)
        self.version_string = _fn(lib, "libbpf_version_string", c_char_p)


class Shim:
    """Typed handles on libsbring.so (ring.c)."""

    def __init__(self, path: Path = SHIM):
        lib = ctypes.CDLL(str(path), use_errno=True)
        self.lib = lib
        self.open = _fn(lib, "sb_open", c_void_p, c_int, c_size_t)
        self.poll = _fn(lib, "sb_poll", ctypes.c_long, c_void_p)
        self.run = _fn(lib, "sb_run", ctypes.c_long, c_void_p, c_int, c_int, c_int)
        self.adaptive = _fn(lib, "sb_adaptive", c_int, c_void_p, c_int)
        self.sleeps = _fn(lib, "sb_sleeps", ctypes.c_uint64, c_void_p)
        self.stop = _fn(lib, "sb_stop", None, c_void_p)
        self.seen = _fn(lib, "sb_seen", c_void_p, c_void_p)
        self.wakeups = _fn(lib, "sb_wakeups", ctypes.c_uint64, c_void_p)
        self.feed = _fn(lib, "sb_feed", ctypes.c_long, c_void_p, c_void_p, c_size_t,
                        ctypes.POINTER(c_size_t))
        self.meta = _fn(lib, "sb_meta", c_void_p, c_void_p)
        self.blob = _fn(lib, "sb_blob", c_void_p, c_void_p)
        self.blob_len = _fn(lib, "sb_blob_len", c_size_t, c_void_p)
        self.bad = _fn(lib, "sb_bad", ctypes.c_uint64, c_void_p)
        self.event_size = _fn(lib, "sb_event_size", c_size_t)
        self.close = _fn(lib, "sb_close", None, c_void_p)
        self.prog_stats = _fn(lib, "sb_prog_stats", c_int, c_int, ctypes.POINTER(ctypes.c_uint64))
        self.log_to = _fn(lib, "sb_log_to", c_int, c_char_p)


@lru_cache(maxsize=1)
def libbpf() -> Libbpf:
    return Libbpf()


@lru_cache(maxsize=1)
def shim() -> Shim:
    return Shim()


def errno_text(e: int) -> str:
    e = abs(e)
    return f"{errno.errorcode.get(e, str(e))} ({os.strerror(e)})"


def check_ptr(ptr, what: str):
    """A libbpf pointer result, or OSError naming ``what`` and the errno."""
    if not ptr:
        e = ctypes.get_errno() or errno.EINVAL
        raise FacilityError(e, f"{what}: {errno_text(e)}")
    return ptr


def check_int(ret: int, what: str) -> int:
    """A libbpf int result (negative errno on failure), or OSError."""
    if ret < 0:
        raise FacilityError(-ret, f"{what}: {errno_text(ret)}")
    return ret
