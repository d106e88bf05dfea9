"""The two engines are one workload: the same cell run by the Python engine and by the
native one (sb-load) gives the same kinds, the same keys (paths with the cell's marker,
one pid per spawn, port pairs on the cell's own sockets), the same ledger columns and the
same schedule, and a backend correlates both to the same result. Also with threads: every
thread on its own keys, nothing lost, nothing left."""

from __future__ import annotations

import numpy as np
import pytest

from bench.core.kinds import Kind
from bench.core.ledger import COLUMNS
from bench.harness import spec as specmod
from bench.harness.cell import Cell, CellRunner
from tests.helpers import needs_root
from workloads.native import load_missing

pytestmark = [needs_root, pytest.mark.skipif(bool(load_missing()), reason=str(load_missing()))]

RATE, DURATION = "400", 0.5


class Recording(CellRunner):
    """A CellRunner that keeps each cell's ground truth for the test to read."""

    def _run_workload(self, a, on_mark=None):
        self.truth = super()._run_workload(a, on_mark)
        self.marker = a.marker
        return self.truth


def _cell(tmp_path, backend: str, workload: str):
    runner = Recording(tmp_path / "out", tmp_path / "wd")
    (tmp_path / "wd").mkdir(exist_ok=True)
    spec = specmod.parse_backend(backend)
    outcome = runner.run(Cell(0, 0, specmod.parse_workload(workload), RATE, DURATION, spec))
    return runner.truth, runner.marker, outcome


def _ops(truth) -> tuple[np.ndarray, np.ndarray]:
    ops, first = np.unique(truth.cols["op"], return_index=True)
    return ops, truth.cols["t_intended"][first] - truth.cols["t_intended"][first][0]


def _by_kind(rows) -> dict:
    return {r["kind"]: (r["status"], r["expected"], r["matched"]) for r in rows}


@pytest.mark.parametrize("workload", ["file", "process", "network"])
def test_both_engines_give_the_same_truth_and_correlation(tmp_path, leaves_nothing, workload):
    py, py_marker, py_out = _cell(tmp_path / "py", "synthetic", f"{workload}:engine=python")
    nat, nat_marker, nat_out = _cell(tmp_path / "nat", "synthetic", f"{workload}:engine=native")
    assert nat.meta["engine"] == "native" and py.meta["engine"] == "python"
    assert set(nat.cols) == set(py.cols) == {*COLUMNS, "path"}
    assert nat.meta["errors"] == py.meta["errors"] == 0
    # the same schedule: the same ops at the same offsets from the first
    (py_ops, py_t), (nat_ops, nat_t) = _ops(py), _ops(nat)
    assert nat_ops.tolist() == py_ops.tolist()
    assert np.abs(nat_t - py_t).max() <= 1
    # the same rows per op, kind by kind (the Python ledger records a child's exit when it
    # reaps it, after later spawns; the native one hands its rows over in op order)
    assert sorted(zip(nat.cols["op"].tolist(), nat.cols["kind"].tolist())) == \
        sorted(zip(py.cols["op"].tolist(), py.cols["kind"].tolist()))
    assert (nat.cols["t_issue"] >= nat.cols["t_intended"]).all()   # never issued early
    assert (nat.cols["t_done"] >= nat.cols["t_issue"]).all()
    kind, key = nat.cols["kind"], nat.cols["key"]
    if workload == "file":
        # <work dir>/<marker>/<marker>-<file>.<new|ren>, each in its own work dir
        same = [p.split("/wd/")[1].replace(nat_marker, "M") for p in nat.cols["path"]]
        assert same == [p.split("/wd/")[1].replace(py_marker, "M") for p in py.cols["path"]]
        assert (key == 0).all()
    elif workload == "process":
        for k in (Kind.proc_fork, Kind.proc_exec, Kind.proc_exit):
            assert len(set(key[kind == k])) == (kind == k).sum()   # one pid per spawn
        assert nat.meta["exact_exit_time"] is True
        exits = kind == Kind.proc_exit
        assert (nat.cols["t_issue"][exits] - nat.cols["t_intended"][exits] >= 2_000_000).all()
    else:
        tcp = (kind == Kind.net_connect) | (kind == Kind.net_accept)
        assert len(set(key[kind == Kind.net_connect])) == (kind == Kind.net_connect).sum()
        assert len(set(key[tcp] & 0xFFFF)) == 1                   # our one listener
        udp_client = key[kind == Kind.net_send] >> 16
        assert ((udp_client >= 10_000) & (udp_client < 32_768)).all()
    # the backend correlates both the same way: everything matched, nothing else
    assert _by_kind(nat_out.rows) == _by_kind(py_out.rows)
    assert all(s == "ok" and e == m for s, e, m in _by_kind(nat_out.rows).values())
    for r in nat_out.rows:
        assert (r["workload_engine"], r["workload_threads"]) == ("native", 1)
        assert r["unmatched"] == 0 and r["duplicates"] == 0


@pytest.mark.parametrize("protocols,kinds", [
    ("tcp", {Kind.net_connect, Kind.net_accept}), ("udp", {Kind.net_send})])
def test_network_protocols_alone_on_both_engines(tmp_path, leaves_nothing, protocols, kinds):
    """protocols=tcp makes every operation a connect+accept, protocols=udp every one a send,
    on both engines alike: the same ops, the kinds of that protocol only, all matched."""
    spec = f"network:protocols={protocols}"
    py, _, py_out = _cell(tmp_path / "py", "synthetic", f"{spec},engine=python")
    nat, _, nat_out = _cell(tmp_path / "nat", "synthetic", f"{spec},engine=native")
    for truth in (py, nat):
        assert truth.meta["errors"] == 0
        assert {Kind(k) for k in np.unique(truth.cols["kind"])} == kinds
        ops = np.unique(truth.cols["op"])
        assert ops.tolist() == list(range(int(float(RATE) * DURATION)))   # every op
        assert len(truth.cols["op"]) == len(ops) * len(kinds)              # its rows each
    assert _by_kind(nat_out.rows) == _by_kind(py_out.rows)
    assert all(s == "ok" and e == m for s, e, m in _by_kind(nat_out.rows).values())


# Real sensors see the system calls themselves (audit records accept's peer address,
# eBPF the syscall numbers): the native engine must make the Python engine's calls.
REAL = [("inotify", "file"), ("fanotify", "file"), ("audit", "file"), ("audit", "network"),
        ("proc_connector", "process"), ("ebpf", "process"), ("ebpf", "network")]


@pytest.mark.parametrize("backend,workload", REAL, ids=[f"{b}-{w}" for b, w in REAL])
def test_real_sensors_see_both_engines_alike(tmp_path, audit_exclusive, leaves_nothing,
                                             backend, workload):
    from bench import backends

    why = backends.availability(backend)
    if why:
        pytest.skip(f"{backend}: {why}")
    _, _, py = _cell(tmp_path / "py", backend, f"{workload}:engine=python")
    _, _, nat = _cell(tmp_path / "nat", backend, f"{workload}:engine=native")
    py_k, nat_k = _by_kind(py.rows), _by_kind(nat.rows)
    assert {k: v[:2] for k, v in nat_k.items()} == {k: v[:2] for k, v in py_k.items()}
    for kind, (status, expected, matched) in nat_k.items():
        if status == "ok":
            assert matched >= 0.99 * expected, (kind, nat_k, py_k)


@pytest.mark.parametrize("workload", ["file", "process", "network"])
def test_threads_work_on_keys_of_their_own(tmp_path, leaves_nothing, workload):
    truth, marker, out = _cell(tmp_path, "synthetic", f"{workload}:engine=native,threads=2,pin=1")
    ops = np.unique(truth.cols["op"])
    assert ops.tolist() == list(range(int(float(RATE) * DURATION)))   # every op, once
    assert truth.meta["threads"] == 2 and truth.meta["errors"] == 0
    kind, key, path = truth.cols["kind"], truth.cols["key"], truth.cols["path"]
    for k in np.unique(kind):
        keys = path[kind == k] if workload == "file" else key[kind == k]
        assert len(set(keys)) == len(keys), Kind(k).name      # no key twice
    if workload == "file":
        assert all(marker in p for p in path)
    if workload == "network":   # two listeners, one per thread
        assert len(set(key[kind == Kind.net_connect] & 0xFFFF)) == 2
    assert all(r["status"] == "ok" and r["expected"] == r["matched"] for r in out.rows)


def test_tmpfs_work_directory_the_file_sensors_and_the_generator_ceiling(tmp_path,
                                                                         leaves_nothing):
    """--tmpfs: the file workload runs on a tmpfs, the cells and meta.json say so, the
    file-sensing backends see it there as on ext4, and the run records what the generator
    could do on its own."""
    import json

    from bench import backends
    from tests.helpers import run_cells

    specs = [b for b in ("fanotify", "inotify") if not backends.availability(b)] or \
        pytest.skip("neither fanotify nor inotify can run here")
    cells = run_cells(tmp_path, "-b", ",".join(specs), "-w", "file:engine=native,threads=2",
                      "-r", "2000", "-d", "0.5", "--no-baseline", "--tmpfs")
    assert (cells["workdir_fs"] == "tmpfs").all()
    assert (cells["status"] == "ok").all(), cells[["backend", "kind", "status", "reason"]]
    assert (cells["drop_rate"] == 0).all(), cells[["backend", "kind", "drop_rate"]]
    meta = json.loads((tmp_path / "results" / "meta.json").read_text())
    assert meta["workdir"]["fs"] == "tmpfs"
    ceiling = meta["generator_ceiling"]["workloads"]["file:engine=native,threads=2"]
    assert ceiling["engine"] == "native" and ceiling["threads"] == 2
    assert ceiling["workdir_fs"] == "tmpfs" and ceiling["errors"] == 0
    assert ceiling["ops_per_s"] > 2000      # closed loop beats the cells' open-loop rate


def test_doctor_shows_the_generators_ceiling():
    import json

    from tests.helpers import sensorbench

    doc = json.loads(sensorbench("doctor", "--json", check=True).stdout)["generators"]
    assert doc["native_engine"] == "built"
    found = doc["workloads"]
    assert {"file", "process", "network"} <= set(found)
    for text, e in found.items():
        assert e["engine"] == "native" and e["errors"] == 0, (text, e)
        assert e["ops_per_s"] > 500 and e["workdir_fs"], (text, e)
        # every op, its events: at least as many events a second as operations, give or
        # take the rounding of each figure to 0.1 (doctor rounds them apiece, so four kinds
        # of 26,107.7 to 26,111.7/s summed to 0.1 below the 104,438.9 ops/s they came from)
        slack = 0.05 * (len(e["kinds_per_s"]) + 1)
        assert sum(e["kinds_per_s"].values()) >= e["ops_per_s"] - slack, (text, e)


def test_a_ceiling_of_several_bursts_keeps_each_workloads_fastest(tmp_path, leaves_nothing):
    """A search's cap: the workloads take turns, three bursts each, and each keeps its
    fastest, with every burst beside it."""
    from bench.harness import ceiling

    specs = [specmod.parse_workload(w) for w in ("file", "network")]
    (tmp_path / "wd").mkdir()
    found = ceiling.measure(specs, tmp_path / "wd", tmp_path / "s", bursts=3)
    assert found["bursts"] == 3
    for w in ("file", "network"):
        e = found["workloads"][w]
        assert len(e["bursts_ops_per_s"]) == 3, e
        assert e["ops_per_s"] == max(e["bursts_ops_per_s"]) > 500, e
        assert e["errors"] == 0 and e["kinds_per_s"], e
