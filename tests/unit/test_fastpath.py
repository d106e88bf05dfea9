"""The C path of the user-mode consumers (libsbfd.so through ``bench.backends._batch``)
against the Python reference decoders, on raw messages recorded on a real kernel
(``tests/fixtures``) and on every truncated and corrupted copy of them (``cuts``): the same
events (kind, key, pid, path or name, t_kernel) in the same order and the same counters,
and never a crash. The C records go through each backend's own ``_shape`` into a real
``EventSink``, as they do in a cell; only the fd is missing (``feed``)."""

from __future__ import annotations

import struct

import numpy as np
import pytest

from bench.backends import _batch
from bench.backends.base import SensorContext
from bench.backends.fanotify import FanotifyBackend
from bench.backends.fanotify.parse import Decoder as FanDecoder
from bench.backends.inotify import InotifyBackend
from bench.backends.inotify.parse import Decoder as InDecoder
from bench.backends.proc_connector import ProcConnectorBackend
from bench.backends.proc_connector.parse import Decoder as CnDecoder
from bench.core.events import NO_TIME, EventSink
from bench.core.kinds import Kind
from fixtures.frames import cuts, load, mutations

pytestmark = pytest.mark.skipif(_batch.missing() is not None,
                                reason=f"C reader: {_batch.missing()}")

U64 = (1 << 64) - 1


def _backend(cls, **settings):
    cfg = {k: s.default for k, s in cls.settings.items()}
    cfg.update(settings)
    return cls(cfg, SensorContext(marker="sbtest", workdir="/nonexistent"))


def _rows(sink: EventSink) -> list[tuple]:
    c = sink.columns()
    return list(zip(c["kind"].tolist(), c["key"].tolist(), c["pid"].tolist(),
                    c["path"].tolist(), c["t_kernel"].view(np.uint64).tolist()))


# --- inotify -------------------------------------------------------------------------------

class _InotifyC:
    """The inotify backend's C path on fed buffers; new directories are recorded, not
    watched (the Python decoder only lists them)."""

    def __init__(self, dirs: dict[int, str], cap: int = _batch.CAP):
        self.sink = EventSink()
        self.b = _backend(InotifyBackend)
        self.b.decoder = InDecoder(dirs)
        self.new_dirs: list[str] = []
        self.b._watch = self.new_dirs.append
        self.b.native = self.r = _batch.NativeReader("inotify", -1, self.sink, self.b._shape,
                                                     "test", cap=cap)
        for wd, path in dirs.items():
            self.r.watch(wd, path)

    def counters(self) -> dict:
        c = self.r.counters()
        return {"parse_errors": c["parse_errors"], "overflows": c["overflows"],
                "unknown_wd": c["unknown_wd"]}


def _inotify_py(dirs, buffers):
    d = InDecoder(dirs)
    rows = [(int(e.kind), 0, 0, e.path, NO_TIME & U64) for b in buffers for e in d.decode(b)]
    return d, rows


def _check_inotify(dirs, buffers, cap=_batch.CAP):
    d, want = _inotify_py(dirs, buffers)
    c = _InotifyC(dirs, cap)
    c.r.feed(*buffers)  # one read each, records held across them as the reader does
    assert _rows(c.sink) == want
    assert c.counters() == {"parse_errors": d.parse_errors, "overflows": d.overflows,
                            "unknown_wd": d.unknown_wd}
    assert c.new_dirs == d.new_dirs
    assert c.b.decoder.dirs == d.dirs  # IN_IGNORED dropped the same wds
    c.r.stop()
    return want


def test_inotify_recorded_buffers_same_as_python():
    frames, info = load("inotify")
    want = _check_inotify({info["wd"]: info["dir"]}, frames)
    assert len(want) == 4 * len(info["paths"])
    assert _check_inotify({info["wd"]: info["dir"]}, frames * 3) == want * 3
    _check_inotify({info["wd"]: info["dir"]}, [b"".join(frames)])


def test_inotify_every_cut_same_as_python():
    frames, info = load("inotify")
    for bad in cuts(b"".join(frames)):
        _check_inotify({info["wd"]: info["dir"]}, [bad], cap=64)
        _check_inotify({}, [bad], cap=64)  # every wd unknown


def _in_rec(wd: int, mask: int, name: bytes = b"", pad: int = 16) -> bytes:
    raw = name + b"\0" * (-len(name) % pad or (pad if name else 0))
    return struct.pack("=iIII", wd, mask, 0, len(raw)) + raw


def test_inotify_special_records_same_as_python():
    IN_CREATE, IN_ISDIR, IN_IGNORED, IN_MOVED_TO = 0x100, 0x40000000, 0x8000, 0x80
    buf = b"".join([
        _in_rec(1, IN_CREATE, b"a"),
        _in_rec(1, IN_CREATE | IN_ISDIR, b"sub"),      # a new directory: ends the batch
        _in_rec(1, IN_MOVED_TO | IN_ISDIR, b"moved"),  # and another
        _in_rec(1, IN_CREATE | 0x8 | IN_MOVED_TO | 0x200, b"merged"),  # four kinds
        _in_rec(2, IN_CREATE, b"b"),
        _in_rec(2, IN_IGNORED),                        # wd 2 dropped
        _in_rec(2, IN_CREATE, b"c"),                   # now unknown
        _in_rec(1, 0x400),                             # DELETE_SELF: no name, no error
        _in_rec(1, IN_CREATE, b"x/y"),                 # a name with '/': parse error
        _in_rec(1, IN_CREATE, b"n\0ul"),               # embedded NUL: parse error
        _in_rec(-1, 0x4000),                           # overflow
        _in_rec(1, 0x2, b"modify"),                    # not asked for: no event
    ])
    _check_inotify({1: "/w", 2: "/w/old"}, [buf])


def test_inotify_full_output_resumes_where_it_stopped():
    # 40 records of 4 kinds each through a 16-record output: many handoffs, same result.
    buf = b"".join(_in_rec(1, 0x100 | 0x8 | 0x80 | 0x200, f"f{i}".encode()) for i in range(40))
    want = _check_inotify({1: "/w"}, [buf], cap=16)
    assert len(want) == 160


# --- fanotify ------------------------------------------------------------------------------

class _Resolver:
    """DirResolver without the syscalls: the fixture's directory is known (as the backend
    knows its work directory), any other has gone (the C reader, given no filesystem fd,
    fails every lookup too)."""

    def __init__(self, known: dict[bytes, str]):
        self.cache = dict(known)
        self.lookups = 0

    def path(self, dir_id: bytes):
        if dir_id not in self.cache:
            self.lookups += 1
            self.cache[dir_id] = None
        return self.cache[dir_id]


def _fanotify_py(known, buffers, write_event):
    d, res = FanDecoder(write_event), _Resolver(known)
    rows, unresolved, ids = [], 0, []
    for b in buffers:
        for e in d.decode(b):
            if e.dir_id not in ids:
                ids.append(e.dir_id)
            p = res.path(e.dir_id)
            if p is None:
                unresolved += 1
                continue
            rows.append((int(e.kind), 0, e.pid, f"{p}/{e.name}", NO_TIME & U64))
    return d, rows, unresolved, ids, res.lookups


def _check_fanotify(known, buffers, write_event="close_write", cap=_batch.CAP):
    d, want, unresolved, ids, lookups = _fanotify_py(known, buffers, write_event)
    sink = EventSink()
    b = _backend(FanotifyBackend, write_event=write_event)
    opt = _batch.OPT_FAN_MODIFY if write_event == "modify" else 0
    b.native = r = _batch.NativeReader("fanotify", -1, sink, b._shape, "test", opt=opt, cap=cap)
    r.resolve_dirs(-1, known)
    r.feed(*buffers)
    assert _rows(sink) == want
    c = r.counters()
    assert (c["parse_errors"], c["overflows"], c["skipped"]) == \
        (d.parse_errors, d.overflows, d.skipped)
    assert (c["unresolved"], c["dir_lookups"]) == (unresolved, lookups)
    # the directories seen, each interned once (the known one first)
    assert [r.dir_key(i) for i in range(c["dirs"])] == \
        list(known) + [i for i in ids if i not in known]
    r.stop()
    return want


@pytest.mark.parametrize("write_event", ["close_write", "modify"])
def test_fanotify_recorded_buffers_same_as_python(write_event):
    frames, info = load("fanotify")
    known = {bytes.fromhex(info["dir_id"]): info["dir"]}
    want = _check_fanotify(known, frames, write_event)
    assert len(want) == 4 * len(info["paths"])
    _check_fanotify(known, [b"".join(frames)], write_event)
    _check_fanotify({}, frames, write_event)  # the directory gone: all unresolved


def test_fanotify_every_cut_same_as_python():
    frames, info = load("fanotify")
    known = {bytes.fromhex(info["dir_id"]): info["dir"]}
    for bad in cuts(b"".join(frames)):
        _check_fanotify(known, [bad], cap=64)


def test_fanotify_full_output_resumes_where_it_stopped():
    frames, info = load("fanotify")
    known = {bytes.fromhex(info["dir_id"]): info["dir"]}
    _check_fanotify(known, [b"".join(frames) * 20], cap=16)


# --- proc connector ------------------------------------------------------------------------

def _cn_py(buffers):
    d = CnDecoder()
    rows = [(int(e.kind), e.pid, e.pid, None, e.t_kernel & U64)
            for b in buffers for e in d.decode(b)]
    return d, rows


def _check_cn(buffers, cap=_batch.CAP, together=False):
    d, want = _cn_py(buffers)
    sink = EventSink()
    b = _backend(ProcConnectorBackend)
    r = _batch.NativeReader("cn_proc", -1, sink, b._shape, "test", name_errors="replace",
                            cap=cap)
    if together:  # one batch of many datagrams, as one recvmmsg gives them
        r.feed(*buffers)
    else:
        for buf in buffers:
            r.feed(buf)
    assert _rows(sink) == want
    c = r.counters()
    assert (c["parse_errors"], c["lost"], c["threads"], c["other"]) == \
        (d.parse_errors, d.lost, d.threads, d.other)
    r.stop()
    return want


def test_cn_proc_recorded_messages_same_as_python():
    frames, info = load("cn_proc")
    want = _check_cn(frames)
    assert _check_cn(frames, together=True) == want
    assert _check_cn(frames, cap=16, together=True) == want
    for pid in info["pids"]:
        assert [k for k, key, *_ in want if key == pid] == \
            [int(Kind.proc_fork), int(Kind.proc_exec), int(Kind.proc_exit)]
    assert all(t > 0 for *_, t in want)


def test_cn_proc_sequence_gaps_same_as_python():
    frames, _ = load("cn_proc")
    _check_cn(frames[::3])  # two of every three messages lost


def test_cn_proc_every_cut_same_as_python():
    frames, _ = load("cn_proc")
    for f in frames:
        for bad in cuts(f):
            _check_cn([bad], cap=64)
    # several messages in one datagram, then cut and corrupted as a whole
    joined = b"".join(frames[:6])
    for bad in cuts(joined):
        _check_cn([bad], cap=64)


def test_cn_proc_full_output_resumes_where_it_stopped():
    frames, _ = load("cn_proc")
    _check_cn([b"".join(frames)], cap=16)


# --- random damage (seeded): bytes flipped, dropped, repeated -------------------------------

def test_random_damage_same_as_python():
    frames, info = load("inotify")
    for bad in mutations(b"".join(frames), 300, 1):
        _check_inotify({info["wd"]: info["dir"]}, [bad], cap=64)
    frames, info = load("fanotify")
    known = {bytes.fromhex(info["dir_id"]): info["dir"]}
    for bad in mutations(b"".join(frames), 300, 2):
        _check_fanotify(known, [bad], cap=64)
    frames, _ = load("cn_proc")
    for bad in mutations(b"".join(frames[:8]), 300, 3):
        _check_cn([bad], cap=64)


# --- the library ---------------------------------------------------------------------------

def test_counter_names_match_the_struct():
    r = _batch.NativeReader("cn_proc", -1, EventSink(), lambda b: (None, None), "test")
    names = r.counters()
    assert len(names) == len(set(names)) and {"reads", "lost", "handoffs"} <= set(names)
    r.stop()
    r.stop()  # twice is fine
