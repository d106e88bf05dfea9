"""The audit consumer's C path (``audit:parser=c``) in real cells on this kernel: a second of
the file and network workloads at 1000 ops/s, every kind it reports seen with no drop and
no parse error, the C reader's own counters in meta.json, and nothing left behind (audit
rules and settings restored, no process, no file). Once at the defaults (``parser=c``,
looking at the socket every 1 ms while records flow: the run test_usermode_cells reads too,
made once, tests/helpers/live_runs.py), once woken by every arrival (``poll_ms=0``)."""

from __future__ import annotations

import json

import pytest

from bench.backends import _batch
from tests.helpers import live_runs, needs_root, run_cells

pytestmark = [needs_root,
              pytest.mark.skipif(_batch.missing() is not None,
                                 reason=f"C reader: {_batch.missing()}")]

KINDS = {"file_create", "file_write", "file_rename", "file_delete", "net_connect",
         "net_accept"}


@pytest.mark.parametrize("spec", ["audit", "audit:parser=c,poll_ms=0"])
def test_a_parser_c_cell_sees_everything(tmp_path, audit_exclusive, leaves_nothing, spec):
    from bench.backends import availability

    why = availability("audit")
    if why:
        pytest.skip(f"audit: {why}")
    if spec == "audit":   # the defaults: the shared run, whose process cells are not ours
        folder, cells = live_runs.audit_defaults()
        cells = cells[cells["workload"].isin(["file", "network"])]
    else:
        folder = tmp_path / "results"
        cells = run_cells(tmp_path, "-b", spec, "-w", "file,network", "-r", "1000",
                          "-d", "1", "--no-baseline")
    ok = cells[cells["status"] == "ok"]
    assert set(ok["kind"]) == KINDS, cells[["workload", "kind", "status", "reason"]]
    assert (ok["expected"] >= 200).all(), ok[["kind", "expected"]]  # ops split across kinds
    assert (ok["matched"] == ok["expected"]).all(), ok[["kind", "expected", "matched"]]
    assert (ok["drop_rate"] == 0).all()
    assert (ok["parse_errors"] == 0).all()
    assert (ok["self_reported_lost"] == 0).all()
    timed = ok[~ok["match_key"].str.contains("untimed", na=False)]
    assert (timed["latency_p50_us"] > 0).all() and timed["latency_p99_us"].notna().all()
    meta = json.loads((folder / "meta.json").read_text())
    stats = [st for cell, st in meta["backend_stats"].items()
             if cell.split("|")[:2] in ([spec, "file"], [spec, "network"])]
    assert len(stats) == 2
    for st in stats:
        assert st["parser"] == "c"
        assert st["batches"] >= 1 and st["reads"] >= st["batches"]
        assert st["datagrams"] >= st["records"] > 0   # every datagram parsed
        assert st["truncated"] == 0 and st["lost_by_path"]["socket_overruns"] == 0
        assert st["parse_error_samples"] == [] and st["tamper_events"] == []
        if "poll_ms=0" in spec:   # woken for every read
            assert st["looks"] == 0 and st["wakeups"] >= st["reads"]
        else:                     # looked at the socket on a timer while records flowed
            assert st["looks"] > st["wakeups"] > 0
