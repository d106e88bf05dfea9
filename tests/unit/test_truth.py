"""The ground-truth ledger: recording, growth, the side channel, save and load."""

import socket

import numpy as np

from bench.core.kinds import Kind
from bench.core.ledger import TAP_HEADER, Ledger, load


def test_record_grow_save_load(tmp_path):
    led = Ledger(16)
    for i in range(40):  # past the initial capacity
        path = f"/w/sbx-{i}.new" if i % 2 else None
        led.record(i, Kind.file_create if i % 2 else Kind.proc_fork, i * 3, path, i, i + 1, i + 2)
    led.save(tmp_path / "l.bin", {"workload": "t", "ops": 40})
    t = load(tmp_path / "l.bin")
    assert len(t) == 40 and t.meta == {"workload": "t", "ops": 40}
    assert t.cols["key"].tolist() == [i * 3 for i in range(40)]
    assert t.cols["t_done"][-1] == 41
    assert t.cols["path"][0] is None and t.cols["path"][1] == "/w/sbx-1.new"


def test_empty_ledger_round_trip(tmp_path):
    Ledger(4).save(tmp_path / "e.bin", {})
    t = load(tmp_path / "e.bin")
    assert len(t) == 0 and t.cols["path"].shape == (0,)


def test_tap_mirrors_rows():
    a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
    led = Ledger(4, tap=a)
    led.record(7, Kind.file_rename, 0, "/w/x.ren", 1, 2, 3)
    msg = b.recv(4096)
    kind, op, key, t_issue = TAP_HEADER.unpack_from(msg)
    assert (kind, op, key, t_issue) == (Kind.file_rename, 7, 0, 2)
    assert msg[TAP_HEADER.size:] == b"/w/x.ren"
    b.close()
    led.record(8, Kind.file_delete, 0, "/w/x.ren", 1, 2, 3)  # peer gone: counted, no raise
    assert led.tap_errors == 1 and led.n == 2
    a.close()


def test_arrays_are_int64_copies():
    led = Ledger(4)
    led.record(0, 1, 2, None, 3, 4, 5)
    cols = led.arrays()
    assert cols["t_issue"].dtype == np.int64 and cols["t_issue"].tolist() == [4]
