"""Cost columns from constructed CPU readings whose truth is known (bench.harness.accounting,
bench.core.cpu.MachineCpu.delta)."""

import math

import numpy as np
import pytest

from bench.analysis.stats import t_quantile
from bench.harness.accounting import CellCpu, IdleRate, Reading, columns, idle_rate, marginal_cpu
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
    return CellCpu(start=start, run_end=run_end, end=end, idle=[idle_end],
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


# -- the marginal cost's interval ---------------------------------------------------------
# A sensor idling at 3 % of a core, read in four 0.1 s sub-windows that used 2, 4, 2 and
# 4 ms: the rate is 12 ms / 0.4 s; each window is 1 ms off rate × 0.1 s, so the variance
# per second of window is 4 × (1e-6 / 0.1) / 3 = 1.3333e-5 (sigma 3.6515e-3), and the
# rate's standard error sigma / √0.4 = 0.57735 % (the sd of the rates 2, 4, 2, 4 % over √4).
# The cell: 1.2 s, 1000 events of 50 µs on top of the idle 3 %: 0.086 s of CPU.
# The idle CPU over 1.2 s predicted from 0.4 s varies by sigma · √(1.2 · (1 + 1.2/0.4)) =
# √(1.3333e-5 · 4.8) = 8 ms; × t(3 df) 3.182446 = 25.4596 ms; plus the cgroup's 1 µs read
# once for the cell and once for the idle total scaled by 3: 4 µs. Per event: ± 25.4636 µs.
IDLE_MS = (2, 4, 2, 4)


def _idle_cell(idle_ms=IDLE_MS, event_s=0.05, source="cgroup", resolution_s=1e-6,
               events_scale=1.0) -> CellCpu:
    rate = sum(idle_ms) / 1e3 / (0.1 * len(idle_ms))
    start = Reading(10.0, 0.5)
    end = Reading(11.2, 0.5 + event_s + rate * 1.2)
    idle, cpu = [], end.sensor
    for i, ms in enumerate(idle_ms):
        cpu += ms / 1e3
        idle.append(Reading(11.2 + 0.1 * (i + 1), cpu))
    return CellCpu(start=start, run_end=Reading(11.0, end.sensor), end=end, idle=idle,
                   source=source, resolution_s=resolution_s, run_s=1.0)


def test_idle_rate_and_its_standard_error_from_sub_windows():
    c = _idle_cell()
    r = idle_rate([c.end, *c.idle], "sensor")
    assert r.rate == pytest.approx(0.03) and r.n == 4 and r.total_s == pytest.approx(0.4)
    assert r.sigma == pytest.approx(math.sqrt(4 * 1e-6 / 0.1 / 3))
    assert r.se == pytest.approx(0.0057735, rel=1e-4)


def test_marginal_interval_worked_by_hand():
    assert t_quantile(3) == pytest.approx(3.182446, abs=1e-6)
    c = columns(_idle_cell(), ops=1000, matched=1000)
    assert c["sensor_idle_cpu_pct"] == pytest.approx(3.0)
    assert c["sensor_idle_cpu_se_pct"] == pytest.approx(0.57735, rel=1e-4)
    assert c["sensor_marginal_us_per_event"] == pytest.approx(50.0)
    half = 25.4596 + 0.004
    assert c["sensor_marginal_ci_low_us"] == pytest.approx(50.0 - half, abs=1e-3)
    assert c["sensor_marginal_ci_high_us"] == pytest.approx(50.0 + half, abs=1e-3)


def test_a_sensor_with_no_per_event_cost_is_not_told_from_zero():
    """Nothing per event: the point lands on either side of zero with the idle noise, and
    the interval holds zero whichever side it lands."""
    for idle_ms in ((2, 4, 2, 4), (4, 2, 4, 2, 2)):
        c = columns(_idle_cell(idle_ms, event_s=0.0), ops=1000, matched=1000)
        assert c["sensor_marginal_ci_low_us"] < 0 < c["sensor_marginal_ci_high_us"], c
    # a sensor that used 5 ms less in the cell than its idle rate says: -5 µs/event, and
    # its interval (± 25.46) holds zero
    c = columns(_idle_cell(event_s=-0.005), ops=1000, matched=1000)
    assert c["sensor_marginal_us_per_event"] == pytest.approx(-5.0)
    assert c["sensor_marginal_ci_low_us"] < 0 < c["sensor_marginal_ci_high_us"]


def test_an_idle_stretch_that_reads_nothing_still_carries_the_resolution():
    """A process tree counted in 10 ms ticks (20 ms a difference) whose idle sub-windows all
    read zero: no spread, so the interval is the resolution alone, 20 ms for the cell and
    20 ms × 1.2/0.4 for the idle total: ± 80 µs over 1000 events, not ± 0."""
    c = columns(_idle_cell((0, 0, 0, 0), source="process tree", resolution_s=0.02),
                ops=1000, matched=1000)
    assert c["sensor_idle_cpu_se_pct"] == 0.0
    assert c["sensor_marginal_us_per_event"] == pytest.approx(50.0)
    assert c["sensor_marginal_ci_low_us"] == pytest.approx(50.0 - 80.0)
    assert c["sensor_marginal_ci_high_us"] == pytest.approx(50.0 + 80.0)


def test_one_idle_window_has_a_rate_but_no_interval():
    c = columns(_idle_cell((3,)), ops=1000, matched=1000)
    assert c["sensor_idle_cpu_pct"] == pytest.approx(3.0)
    assert c["sensor_marginal_us_per_event"] == pytest.approx(50.0)
    assert math.isnan(c["sensor_idle_cpu_se_pct"])
    assert math.isnan(c["sensor_marginal_ci_low_us"])
    assert math.isnan(c["sensor_marginal_ci_high_us"])


def test_no_events_or_no_idle_reading_give_no_marginal():
    c = columns(_idle_cell(), ops=1000, matched=0)      # a control that sees nothing
    assert math.isnan(c["sensor_marginal_us_per_event"])
    assert math.isnan(c["sensor_marginal_ci_low_us"])
    cell = _idle_cell()
    cell.idle = []
    c = columns(cell, ops=1000, matched=1000)
    assert math.isnan(c["sensor_idle_cpu_pct"]) and math.isnan(c["sensor_marginal_us_per_event"])
    assert all(math.isnan(x) for x in marginal_cpu(0.1, 1.0, IdleRate(), 1e-6))


def test_the_interval_covers_a_known_cost_at_its_level():
    """Idle CPU that arrives in random wake-ups (a Poisson count of 0.2 ms bursts, 100 a
    second): the cell's idle part and the idle stretch's are drawn alike, 50 µs an event
    on top. The interval, built from six sub-windows, holds the 50 µs in about 95 % of
    cells (a little more: the resolution is added whole, and the t quantile is for a
    normal spread)."""
    rng = np.random.default_rng(11)
    wall, d, k, burst, lam = 0.7, 0.05, 6, 2e-4, 100.0
    hits = 0
    for _ in range(2000):
        cell_cpu = 0.05 + burst * rng.poisson(lam * wall)
        t, cpu, idle = 1.0 + wall, 1.0 + cell_cpu, []
        for _ in range(k):
            t, cpu = t + d, cpu + burst * rng.poisson(lam * d)
            idle.append(Reading(t, cpu))
        c = CellCpu(start=Reading(1.0, 1.0), end=Reading(1.0 + wall, 1.0 + cell_cpu),
                    idle=idle, resolution_s=1e-6)
        r = columns(c, ops=1000, matched=1000)
        hits += r["sensor_marginal_ci_low_us"] <= 50.0 <= r["sensor_marginal_ci_high_us"]
    assert 0.93 < hits / 2000 < 0.995, hits
