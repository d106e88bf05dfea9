"""Cost columns from constructed CPU readings whose truth is known (bench.harness.accounting,
bench.core.cpu.MachineCpu.delta)."""

import math

import pytest

from bench.harness.accounting import CellCpu, Reading, columns
from bench.core.cpu import MachineCpu, MachineSnapshot


def _cell(tool: bool = False) -> CellCpu:
    """A sensor cell: 1 s run, 0.2 s drain, 0.1 s idle stretch. The sensor uses 2 % of a
    core when idle and 0.05 s for its 1000 events; a tool (when there is one) does all of
    that, and our adapter adds 0.03 s of parsing during the run and 0.01 s after it."""
    def at(t, sensor, tool_cpu):
        return Reading(t, sensor, tool_cpu if tool else math.nan)

    idle = 0.02
    run_cpu, drain_cpu, idle_cpu = 0.05 + idle * 1.0, idle * 0.2, idle * 0.1
    adapter_run, adapter_drain = (0.03, 0.01) if tool else (0.0, 0.0)
    start = at(10.0, 0.5, 0.4)      # what start-up used before the run
    run_end = at(11.0, start.sensor + run_cpu + adapter_run, start.tool + run_cpu)
    end = at(11.2, run_end.sensor + drain_cpu + adapter_drain, run_end.tool + drain_cpu)
    idle_end = at(11.3, end.sensor + idle_cpu, end.tool + idle_cpu)
    return CellCpu(start=start, run_end=run_end, end=end, idle_end=idle_end,
                   source="cgroup", run_s=1.0, workload_us=120_000.0,
                   machine={"busy": 400_000.0, "user": 300_000.0, "system": 80_000.0,
                            "irq": 10_000.0, "steal": 20_000.0},
                   machine_source="cpuidle")


@pytest.mark.parametrize("tool", [False, True])
def test_sensor_cpu_split_into_fixed_and_per_event(tool):
    c = columns(_cell(tool), ops=1000, matched=1000)
    # the sensor's own CPU over run + drain: 0.05 s of events + 2 % of 1.2 s idle
    assert c["sensor_cpu_s"] == pytest.approx(0.05 + 0.02 * 1.2)
    assert c["sensor_idle_cpu_pct"] == pytest.approx(2.0)
    assert c["sensor_marginal_us_per_event"] == pytest.approx(50.0)
    assert c["cpu_us_per_event"] == pytest.approx((0.05 + 0.024) * 1e3)
    assert c["sensor_startup_cpu_s"] == pytest.approx(0.4 if tool else 0.5)
    if tool:
        # our parsing of the tool's output is never the tool's cost
        assert c["adapter_cpu_s"] == pytest.approx(0.04)
        assert c["sensor_cpu_source"] == "cgroup (tool)"
    else:
        assert math.isnan(c["adapter_cpu_s"])


@pytest.mark.parametrize("tool", [False, True])
def test_machine_cost_adds_the_drain_and_leaves_out_the_adapter(tool):
    c = columns(_cell(tool), ops=1000, matched=1000)
    # busy over the run, minus our adapter's parsing during the run, plus the sensor's
    # (the tool's) work after the run, per operation
    after = 0.02 * 0.2
    expect = (400_000.0 - (0.03e6 if tool else 0) + after * 1e6) / 1000
    assert c["machine_busy_us_per_op"] == pytest.approx(expect)
    assert c["workload_cpu_us_per_op"] == pytest.approx(120.0)
    assert c["machine_steal_us_per_op"] == pytest.approx(20.0)


def test_baseline_cell_has_machine_and_workload_cost_only():
    c = columns(_cell(), ops=500, matched=None)
    assert c["machine_busy_us_per_op"] == pytest.approx(800.0)
    assert c["workload_cpu_us_per_op"] == pytest.approx(240.0)
    assert "sensor_cpu_s" not in c


def test_machine_delta_prefers_idle_residency_over_ticks():
    a = MachineSnapshot({"user": 0, "nice": 0, "system": 0, "idle": 0, "iowait": 0, "irq": 0,
                         "softirq": 0, "steal": 0}, {0: (0, 1_000), 1: (5, 2_000)}, 0)
    b = MachineSnapshot({"user": 300_000, "nice": 10_000, "system": 100_000, "idle": 0,
                         "iowait": 0, "irq": 5_000, "softirq": 5_000, "steal": 20_000},
                        {0: (1_000_000_000, 801_000), 1: (1_000_000_005, 702_000)}, 10)
    d = MachineCpu.delta(a, b)
    # each CPU's wall time minus its idle residency: (1e6 - 800e3) + (1e6 - 700e3) µs
    assert d["busy"] == pytest.approx(500_000.0)
    assert d["user"] == 310_000 and d["irq"] == 10_000 and d["steal"] == 20_000
    # without residency on both sides: /proc/stat's busy fields, steal included
    d2 = MachineCpu.delta(MachineSnapshot(a.stat_us, {}, 0), MachineSnapshot(b.stat_us, {}, 0))
    assert d2["busy"] == pytest.approx(310_000 + 100_000 + 10_000 + 20_000)


def test_machine_cpu_reads_a_busy_machine_as_busy():
    """A real reading: a process spinning on one core for 0.3 s shows as at least that."""
    import time

    m = MachineCpu()
    a = m.snapshot()
    end = time.monotonic() + 0.3
    while time.monotonic() < end:
        pass
    d = MachineCpu.delta(a, m.snapshot())
    assert d["busy"] >= 0.3e6 * 0.9, d
