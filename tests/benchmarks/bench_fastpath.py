"""Kept benchmark: the user-mode consumers' decode rate, C path (libsbfd.so) against the
Python reference, on synthetic inotify and proc connector input.

200,000 events go through each backend's own delivery as a cell would take them (C parser
through ``NativeReader.feed``, ``_shape`` and the sink; or the Python decoder and one
``sink.add`` per event), in reads of at most 256 KiB as the C reader makes them. This
leaves out what costs most in a cell, the wake-ups per read, which a benchmark without a
kernel queue cannot show: ``sensorbench run`` measures that. Run with
``pytest tests/benchmarks/bench_fastpath.py --benchmark-only``.
"""

from __future__ import annotations

import struct

import pytest

from bench.backends import _batch
from bench.backends.base import SensorContext
from bench.backends.inotify import InotifyBackend
from bench.backends.inotify.parse import Decoder as InDecoder
from bench.backends.proc_connector import ProcConnectorBackend
from bench.backends.proc_connector.parse import Decoder as CnDecoder
from bench.core.events import EventSink

pytestmark = pytest.mark.skipif(_batch.missing() is not None,
                                reason=f"C reader: {_batch.missing()}")

N = 200_000
TARGET = 1_000_000  # events/s, C path
DIR = "/var/tmp/sensorbench-0/run-1/sb1234abcd"


def _chunks(records: list[bytes], size: int = 256 * 1024) -> list[bytes]:
    out, cur = [], bytearray()
    for r in records:
        if len(cur) + len(r) > size:
            out.append(bytes(cur))
            cur = bytearray()
        cur += r
    return out + [bytes(cur)]


@pytest.fixture(scope="module")
def inotify_reads() -> list[bytes]:
    recs = []
    for i in range(N):
        name = f"sb1234abcd-{i // 4:07d}.new".encode()
        raw = name + b"\0" * (-len(name) % 16 or 16)
        mask = (0x100, 0x8, 0x80, 0x200)[i % 4]
        recs.append(struct.pack("=iIII", 1, mask, 0, len(raw)) + raw)
    return _chunks(recs)


@pytest.fixture(scope="module")
def cn_reads() -> list[bytes]:
    recs = []
    for i in range(N):
        what = (1, 2, 0x80000000)[i % 3]
        pid = 100_000 + i // 3
        body = struct.pack("=IIII", 1, 1, pid, pid) if what == 1 else \
            struct.pack("=II", pid, pid) if what == 2 else struct.pack("=IIII", pid, pid, 0, 0)
        ev = struct.pack("=IIQ", what, 0, 10**12 + i) + body
        cn = struct.pack("=IIIIHH", 1, 1, i, 0, len(ev), 0) + ev
        recs.append(struct.pack("=IHHII", 16 + len(cn), 3, 0, 0, 0) + cn)
    return recs  # one datagram per message, as the kernel sends them


def _backend(cls, **settings):
    cfg = {k: s.default for k, s in cls.settings.items()}
    cfg.update(settings)
    return cls(cfg, SensorContext(marker="sb1234abcd", workdir=DIR))


def _inotify_c(reads):
    sink = EventSink()
    b = _backend(InotifyBackend)
    b.decoder = InDecoder({1: DIR})
    b.native = r = _batch.NativeReader("inotify", -1, sink, b._shape, "bench")
    r.watch(1, DIR)
    r.feed(*reads)
    r.stop()
    return len(sink)


def _inotify_py(reads):
    sink, d = EventSink(), InDecoder({1: DIR})
    for buf in reads:
        for ev in d.decode(buf):
            sink.add(ev.kind, 0, ev.path, 0)
    return len(sink)


def _cn_c(reads):
    sink = EventSink()
    b = _backend(ProcConnectorBackend)
    r = _batch.NativeReader("cn_proc", -1, sink, b._shape, "bench")
    # recvmmsg takes up to 256 datagrams a call: fed as 256 messages in one buffer (valid
    # netlink framing), so the benchmark pays one ctypes call per read as the reader does
    for i in range(0, len(reads), 256):
        r.feed(b"".join(reads[i:i + 256]))
    r.stop()
    return len(sink)


def _cn_py(reads):
    sink, d = EventSink(), CnDecoder()
    for buf in reads:
        for ev in d.decode(buf):
            sink.add(ev.kind, ev.pid, None, ev.pid, None, ev.t_kernel)
    return len(sink)


def _rate(benchmark, what: str, path: str, decode, reads) -> None:
    """Benchmark one decode path; the C one must reach TARGET events/s."""
    n = benchmark(decode, reads)
    assert n == N
    rate = N / benchmark.stats.stats.mean
    benchmark.extra_info["events_per_s"] = rate
    print(f"\n{what} decode ({path}): {rate:,.0f} events/s")
    if path == "c":
        assert rate >= TARGET, f"C decode {rate:,.0f} events/s is below {TARGET:,}"


@pytest.mark.parametrize("path", ["c", "python"])
def test_inotify_decode_rate(benchmark, inotify_reads, path):
    _rate(benchmark, "inotify", path, _inotify_c if path == "c" else _inotify_py,
          inotify_reads)


@pytest.mark.parametrize("path", ["c", "python"])
def test_cn_proc_decode_rate(benchmark, cn_reads, path):
    _rate(benchmark, "cn_proc", path, _cn_c if path == "c" else _cn_py, cn_reads)
