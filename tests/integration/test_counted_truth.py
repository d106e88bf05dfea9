"""The counted truth (bench.harness.counter) against the ledger: on the synthetic
workloads, which record every operation, the kernel's per-kind count of what the cell's
cgroup did and the ledger agree to within 0.1 % per kind, on both engines and with
threads. Where they differ, the message says which kind and which of the two is larger,
so it says whether the counter or the ledger is wrong."""

from __future__ import annotations

import os

import numpy as np
import pytest

from bench.core.kinds import Kind
from bench.harness import counter, spec as specmod
from bench.harness.cell import Cell, CellRunner
from tests.helpers import needs_root
from workloads.native import load_missing

pytestmark = [needs_root,
              pytest.mark.skipif(bool(load_missing()), reason=str(load_missing())),
              pytest.mark.skipif(bool(counter.missing()), reason=str(counter.missing()))]

AGREE_WITHIN = 0.001   # 0.1 % per kind


class Counting(CellRunner):
    """A CellRunner that counts, and keeps each cell's ground truth for the test."""

    count = True

    def _run_workload(self, a, on_mark=None):
        self.truth = super()._run_workload(a, on_mark)
        return self.truth


def _baseline(tmp_path, workload: str, rate: str = "2000", duration: float = 0.5):
    runner = Counting(tmp_path / "out", tmp_path / "wd")
    (tmp_path / "wd").mkdir(exist_ok=True)
    runner.run(Cell(0, 0, specmod.parse_workload(workload), rate, duration, None))
    return runner.truth


def disagreements(ledger_kinds: np.ndarray, counted: dict) -> list[str]:
    """'kind: ledger N, counted M' for every kind whose two truths differ by more than
    AGREE_WITHIN of the ledger's count (a kind the ledger never holds must count 0)."""
    out = []
    for k in Kind:
        want = int((ledger_kinds == k).sum())
        got = counted[k.name]
        if abs(got - want) > AGREE_WITHIN * want:
            side = "the counter counts more" if got > want else "the ledger holds more"
            out.append(f"{k.name}: ledger {want}, counted {got} ({side})")
    return out


WORKLOADS = ["file", "process", "network", "file:threads=2", "process:threads=2",
             "network:threads=2", "file:engine=python", "process:engine=python",
             "network:engine=python"]


@pytest.mark.parametrize("workload", WORKLOADS)
def test_the_counter_and_the_ledger_agree_kind_by_kind(tmp_path, leaves_nothing, workload):
    truth = _baseline(tmp_path, workload)
    counted = truth.meta["counted"]
    assert truth.meta["errors"] == 0
    assert counted["unpaired"] == 0
    kinds = truth.cols["kind"]
    assert len(kinds) > 500                       # a cell with something to count
    assert disagreements(kinds, counted["counts"]) == []
    # the set of the cgroup's processes holds the workload process, and on the process
    # workload every child whose fork the ledger recorded
    assert counted["pids_full"] == 0 and truth.meta["pid"] in counted["pids"]
    children = truth.cols["key"][kinds == Kind.proc_fork]
    assert set(children.tolist()) <= set(counted["pids"])


def test_the_counter_counts_at_the_generators_pace(tmp_path, leaves_nothing):
    """Closed loop, two threads: tens of thousands of operations a second, still exact."""
    # Earlier tests' writes, left to ext4 to write back during the cell, held it to 8,800
    # operations after test_recipes (as the generator's ceiling flushes before its bursts)
    os.sync()
    truth = _baseline(tmp_path, "file:threads=2", rate="max", duration=0.5)
    assert truth.meta["ops"] > 10_000
    assert disagreements(truth.cols["kind"], truth.meta["counted"]["counts"]) == []


def test_a_disagreement_names_the_kind_and_the_side():
    kinds = np.array([Kind.file_create] * 1000 + [Kind.file_write] * 1000)
    counted = {k.name: 0 for k in Kind} | {"file_create": 1000, "file_write": 990,
                                          "proc_exec": 3}
    assert disagreements(kinds, counted) == [
        "file_write: ledger 1000, counted 990 (the ledger holds more)",
        "proc_exec: ledger 0, counted 3 (the counter counts more)"]
    counted["file_write"] = 999   # 0.1 %: agreed
    assert disagreements(kinds, counted) == ["proc_exec: ledger 0, counted 3 "
                                             "(the counter counts more)"]
