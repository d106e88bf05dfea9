"""ebpf backend, fast unit tests (no root): records -> ring.c callback -> numpy decode.

Recorded records (tests/fixtures/ebpf_records.json, written by
``python -m bench.backends.ebpf.capture``) are raw ring bytes of one operation of every
kind done by a child process on this kernel; synthetic ones cover the edge cases.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pytest

from bench.core.events import EventSink
from bench.core.kinds import Kind, port_pair

ebpf_lib = pytest.importorskip("bench.backends.ebpf.libbpf")
from bench.backends.ebpf.decode import EVENT_DTYPE, SB_PATH_MAX, decode, pack_records  # noqa: E402

FIXTURE = Path(__file__).parents[1] / "fixtures" / "ebpf_records.json"


def _consumer(keep_cgid=None):
    if not ebpf_lib.SHIM.exists():
        pytest.skip("libsbring.so not built (make -C bench/backends/ebpf)")
    try:
        shim = ebpf_lib.shim()
    except OSError as e:
        pytest.skip(f"libsbring.so not loadable: {e}")
    from bench.backends.ebpf.consumer import Consumer

    sink = EventSink()
    return Consumer(shim, -1, sink, keep_cgid), sink


def test_record_layout_matches_c():
    c, _ = _consumer()
    assert c.S.event_size() == EVENT_DTYPE.itemsize == 40


def test_recorded_records_decode_to_what_the_child_did():
    rec = json.loads(FIXTURE.read_text())
    did = rec["did"]
    c, sink = _consumer()
    before = time.monotonic_ns()
    n = c.feed(bytes.fromhex(rec["ring_hex"]))
    after = time.monotonic_ns()
    cols = sink.columns()
    assert n == len(cols["kind"]) and c.parse_errors == 0
    got = {(Kind(k).name, int(key), p) for k, key, p in zip(cols["kind"], cols["key"], cols["path"])
           if k not in (Kind.proc_exec,)}
    assert ("file_create", 0, did["new"]) in got
    assert ("file_write", 0, did["new"]) in got
    assert ("file_rename", 0, did["ren"]) in got
    assert ("file_delete", 0, did["ren"]) in got
    assert ("net_connect", port_pair(*did["tcp"]), None) in got
    assert ("net_accept", port_pair(*did["tcp"]), None) in got
    assert ("net_send", port_pair(*did["udp"]), None) in got
    assert ("proc_fork", did["spawned"], None) in got
    assert ("proc_exit", did["spawned"], None) in got
    execs = {int(k): p for kind, k, p in zip(cols["kind"], cols["key"], cols["path"])
             if kind == Kind.proc_exec}
    # argv arrives NUL-separated; the consumer joins it with spaces
    assert execs[did["spawned"]] == "/bin/true sbcap0001-arg"
    # one event per kind per operation: no duplicates of the file events
    files = [k for k in cols["kind"] if k in (1, 2, 3, 4)]
    assert sorted(files) == [1, 2, 3, 4]
    # the kernel timestamps are the recorded ones (taken at capture time, on another boot,
    # so not comparable with now), in the order the ring delivered them; t_seen is stamped
    # by the consumer when it decodes, i.e. during feed()
    assert (cols["t_kernel"] > 0).all() and (np.diff(cols["t_kernel"]) >= 0).all()
    assert ((cols["t_seen"] >= before) & (cols["t_seen"] <= after)).all()


def test_synthetic_edge_cases():
    long = "/x/" + "a" * 400
    rows = [
        (Kind.file_create, 0, 10, 1000, 5, 3, "/tmp/sb1/a.new"),
        (Kind.proc_exec, 11, 11, 1001, 5, 0, b"/bin/sb-child\0sb1-3\x003\x002000\0"),
        (Kind.proc_fork, 12, 10, 1002, 5, 0, None),
        (Kind.file_delete, 0, 10, 1003, 5, 0, b"\0\0"),  # path bytes, all NUL: empty path
        (Kind.file_rename, 0, 10, 1004, 5, 0, long),    # cut at SB_PATH_MAX
        (99, 1, 10, 1005, 5, 0, None),                   # unknown kind
        (Kind.net_send, port_pair(40000, 53), 10, 1006, 5, 0, None),
        (Kind.file_delete, 0, 10, 1007, 5, 0, ""),       # unreadable path: no path at all
    ]
    c, sink = _consumer()
    assert c.feed(pack_records(rows)) == len(rows)
    assert c.parse_errors == 1  # the unknown kind, not delivered
    cols = sink.columns()
    assert list(cols["kind"]) == [1, 6, 5, 4, 3, 10, 4]
    assert list(cols["path"]) == ["/tmp/sb1/a.new", "/bin/sb-child sb1-3 3 2000", None, "",
                                  long[:SB_PATH_MAX], None, None]
    assert list(cols["key"]) == [0, 11, 12, 0, 0, port_pair(40000, 53), 0]
    assert list(cols["t_kernel"]) == [1000, 1001, 1002, 1003, 1004, 1006, 1007]


def test_keep_cgid_counts_foreign_events():
    rows = [(Kind.proc_fork, i, 1, 100 + i, 7 if i % 3 else 8, 0, None) for i in range(30)]
    c, sink = _consumer(keep_cgid=8)
    c.feed(pack_records(rows))
    assert len(sink) == 10 and c.foreign == 20 and c.decoded == 30


def test_batches_larger_than_the_buffers_are_split_not_lost():
    rows = [(Kind.file_write, 0, 1, i, 1, 0, f"/p/{i}") for i in range(70_000)]
    c, sink = _consumer()
    assert c.feed(pack_records(rows)) == 70_000
    assert c.batches >= 2
    cols = sink.columns()
    assert (cols["t_kernel"] == np.arange(70_000)).all()
    assert cols["path"][69_999] == "/p/69999"


def test_decode_rejects_a_blob_that_does_not_match():
    meta = np.zeros(2, EVENT_DTYPE)
    meta["kind"] = 1
    meta["path_len"] = 3
    with pytest.raises(ValueError):
        decode(meta.tobytes(), b"abc\0")
    assert list(decode(meta.tobytes(), b"abc\0def\0")["path"]) == ["abc", "def"]
