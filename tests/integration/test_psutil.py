"""The polling backend misses short-lived processes, less so when it polls more often."""

import pytest

from tests.helpers import needs_root, run_cells


@pytest.fixture(scope="module")
def cells(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("psutil")
    return run_cells(tmp, "-b", "psutil:interval_ms=100", "-b", "psutil:interval_ms=10",
                     "-w", "process", "-r", "200", "-d", "3", "--no-baseline")


def test_short_interval_loses_less_and_costs_more(cells):
    slow = cells[cells["spec"] == "psutil:interval_ms=100"]
    fast = cells[cells["spec"] == "psutil:interval_ms=10"]
    fork_slow = slow[slow["kind"] == "proc_fork"].iloc[0]
    fork_fast = fast[fast["kind"] == "proc_fork"].iloc[0]
    assert fork_slow["status"] == "ok" and fork_fast["status"] == "ok"
    assert fork_slow["drop_rate"] > 0.5  # 2 ms children, 100 ms polls: most are missed
    assert fork_fast["drop_rate"] < fork_slow["drop_rate"] - 0.1
    assert fork_fast["sensor_cpu_pct"] > fork_slow["sensor_cpu_pct"]


def test_polling_has_no_loss_counter(cells):
    # What a poller misses it never learns of: no self-reported number, only ground truth.
    assert cells["self_reported_lost"].isna().all()


@needs_root
def test_network_kinds_seen_udp_unsupported(tmp_path):
    c = run_cells(tmp_path, "-b", "psutil:interval_ms=20", "-w", "network", "-r", "100",
                  "-d", "1", "--no-baseline")
    by_kind = c.set_index("kind")
    assert by_kind.loc["net_send", "status"] == "unsupported"
    assert by_kind.loc["net_connect", "status"] == "ok"
