"""``injected_cost``: the kernel busy-waits a known time on each workload operation, and the
harness's overhead number must show it (a smoke test: the precise recovery check is the
calibration benchmark).

The program runs on the one syscall that starts each operation, so its run count is the
cell's operation count plus the few hooked calls the workload process makes outside its
timed window, whatever the op count (saving the ledger and printing its summary: about 30
openat and write calls).
"""

import json

import pytest

from tests.helpers import needs_root, run_cells

pytestmark = [pytest.mark.integration, needs_root]

NS = 10_000


def test_injected_cost_is_paid_once_per_op_and_measured(tmp_path, leaves_nothing):
    cells = run_cells(tmp_path, "-b", f"injected_cost:ns={NS}", "-w", "file", "-r", "1000",
                      "-d", "0.5", "-n", "3")
    c = cells[cells["backend"] == "injected_cost"]
    # It reports no kind, like null_sensor: its rows are 'unsupported' (a failed cell would
    # say 'failed'), yet its cells ran: a measured sensor in each of the three blocks.
    assert len(c) and (c["status"] == "unsupported").all(), c[["status", "reason"]]
    assert c["sensor_cpu_s"].notna().all() and (c["mode"] == "calibration").all()
    assert (c["blocks_used"] == 3).all(), c["blocks_used"]

    meta = json.loads((tmp_path / "results" / "meta.json").read_text())
    ops = c.groupby("cell")["ops"].first()
    assert len(ops) == 3
    for cell, n_ops in ops.items():
        st = meta["backend_stats"][cell]
        assert st["missing_syscalls"] == [] and st["capped_runs"] == 0, st
        # once per operation, plus the few calls of the workload process in its cgroup
        # outside its timed windows (its start and done lines, a thread it starts)
        assert n_ops <= st["injected_runs"] <= n_ops + 10, (n_ops, st)
        assert st["injected_ns_per_run"] >= NS, st

    overhead = c["overhead_ns_per_op"].dropna().unique()
    assert len(overhead) == 1, c["overhead_ns_per_op"]
    assert 0.5 * NS <= overhead[0] <= 2 * NS, overhead
