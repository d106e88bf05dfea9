"""The native engine's ledger as the harness reads it: a memfd laid out as ledger.c writes
it (slices of 48-byte rows, then fixed-width file names), mapped into the same Truth the
Python ledger gives."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

from bench.core import native_ledger
from bench.core.ledger import COLUMNS
from bench.core.kinds import Kind

PREFIX = "/var/tmp/sensorbench-0/run-1-aa/sbfeed/"


def _write(slices: list[list[tuple]], names: list[list[bytes]] | None, cap: int,
           width: int = 32) -> tuple[int, dict]:
    """A memfd as sb-load leaves it: ``slices`` of rows (op, kind, key, t_int, t0, t1)."""
    rows_bytes = len(slices) * cap * native_ledger.ROW.itemsize
    names_off = -(-rows_bytes // 4096) * 4096
    size = names_off + (len(slices) * cap * width if names else 0)
    fd = native_ledger.create()
    os.ftruncate(fd, size)
    for s, rows in enumerate(slices):
        a = np.array(rows, dtype=np.int64).reshape(-1, len(COLUMNS))
        os.pwrite(fd, a.tobytes(), s * cap * native_ledger.ROW.itemsize)
        if names:
            blob = b"".join(n.ljust(width, b"\0") for n in names[s])
            os.pwrite(fd, blob, names_off + s * cap * width)
    summary = {"ops": 9, "engine": "native", "ledger": {
        "capacity": cap, "row_bytes": 48, "name_bytes": width if names else 0,
        "names_offset": names_off, "size": size, "path_prefix": PREFIX,
        "counts": [len(r) for r in slices]}}
    return fd, summary


def test_slices_merge_in_op_order_with_their_paths():
    # two threads (ops 0, 2 and 1, 3) and out-of-order recording inside a slice
    t0 = [(2, Kind.file_rename, 0, 20, 21, 22), (0, Kind.file_create, 0, 1, 2, 3)]
    t1 = [(1, Kind.file_write, 0, 10, 11, 12), (3, Kind.file_delete, 0, 30, 31, 32)]
    names = [[b"sbfeed-0000000.ren", b"sbfeed-0000000.new"],
             [b"sbfeed-0000001.new", b"sbfeed-0000001.ren"]]
    fd, summary = _write([t0, t1], names, cap=8)
    try:
        truth = native_ledger.load(fd, summary)
    finally:
        os.close(fd)
    assert truth.cols["op"].tolist() == [0, 1, 2, 3]
    assert truth.cols["kind"].tolist() == [Kind.file_create, Kind.file_write,
                                           Kind.file_rename, Kind.file_delete]
    assert truth.cols["t_issue"].tolist() == [2, 11, 21, 31]
    assert truth.cols["path"].tolist() == [PREFIX + "sbfeed-0000000.new",
                                           PREFIX + "sbfeed-0000001.new",
                                           PREFIX + "sbfeed-0000000.ren",
                                           PREFIX + "sbfeed-0000001.ren"]
    assert all(type(p) is str for p in truth.cols["path"])
    assert truth.meta == {"ops": 9, "engine": "native"}   # the layout is not the truth's
    for c in COLUMNS:
        assert truth.cols[c].dtype == np.int64 and truth.cols[c].flags["C_CONTIGUOUS"]


def test_an_ops_rows_keep_their_order_across_the_reapers_slice():
    # the spawner records fork and exec, the reaper (slice N) the exit: fork, exec, exit
    spawner = [(1, Kind.proc_fork, 501, 5, 6, 7), (1, Kind.proc_exec, 501, 5, 6, 7),
               (0, Kind.proc_fork, 500, 1, 2, 3), (0, Kind.proc_exec, 500, 1, 2, 3)]
    reaper = [(1, Kind.proc_exit, 501, 5, 9, 10), (0, Kind.proc_exit, 500, 1, 8, 9)]
    fd, summary = _write([spawner, reaper], None, cap=4)
    try:
        truth = native_ledger.load(fd, summary)
    finally:
        os.close(fd)
    assert list(zip(truth.cols["op"].tolist(), truth.cols["kind"].tolist())) == [
        (0, Kind.proc_fork), (0, Kind.proc_exec), (0, Kind.proc_exit),
        (1, Kind.proc_fork), (1, Kind.proc_exec), (1, Kind.proc_exit)]
    assert truth.cols["path"].tolist() == [None] * 6


def test_non_ascii_directories_are_decoded_as_utf8():
    fd, summary = _write([[(0, Kind.file_create, 0, 1, 2, 3)]], [[b"sbfeed-0000000.new"]], 2)
    summary["ledger"]["path_prefix"] = "/tmp/caf\u00e9/sbfeed/"
    try:
        truth = native_ledger.load(fd, summary)
    finally:
        os.close(fd)
    assert truth.cols["path"].tolist() == ["/tmp/caf\u00e9/sbfeed/sbfeed-0000000.new"]


def test_an_empty_ledger_has_empty_columns():
    fd, summary = _write([[], []], None, cap=4)
    try:
        truth = native_ledger.load(fd, summary)
    finally:
        os.close(fd)
    assert len(truth) == 0 and truth.cols["path"].dtype == object


@pytest.mark.parametrize("damage", ["row_bytes", "counts", "size"])
def test_a_summary_that_does_not_fit_the_memfd_is_refused(damage):
    fd, summary = _write([[(0, Kind.net_send, 7, 1, 2, 3)]], None, cap=2)
    led = summary["ledger"]
    if damage == "row_bytes":
        led["row_bytes"] = 40          # another layout
    elif damage == "counts":
        led["counts"] = [3]            # more rows than a slice holds
    else:
        led["size"] *= 2               # a memfd smaller than it should be
    try:
        with pytest.raises(ValueError):
            native_ledger.load(fd, json.loads(json.dumps(summary)))
    finally:
        os.close(fd)


def test_the_memfd_is_inheritable_for_the_workload():
    fd = native_ledger.create()
    try:
        assert os.get_inheritable(fd)
    finally:
        os.close(fd)
