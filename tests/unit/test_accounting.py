"""Cost columns from constructed CPU readings whose truth is known (bench.harness.accounting,
bench.core.cpu.MachineCpu.delta), and the calibration summary's verdicts (bench.results.calibrate)."""

import math

import pytest

from bench.harness.accounting import CellCpu, Reading, columns
from bench.results.calibrate import Summary, findings
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


def _summary(control="null_sensor", covered=19, runs=20, half=1.5, steal=1.0, truth=0.0,
             injected=0.0, bias=0.1, bias_se=0.1):
    return Summary("file", control, injected, 0.0, truth, runs, covered, truth + bias, bias,
                   bias_se, half, 3, 0, steal)


def test_findings_pass_and_fail():
    notes, ok = findings([_summary()])
    assert ok and notes == []
    notes, ok = findings([_summary(covered=12)])
    assert not ok and "12 of 20" in notes[0]
    # an effect smaller than the A/A half-width cannot be resolved; the blocks it would need
    notes, ok = findings([_summary(half=2.0)], effect_us=1.0)
    assert not ok and "about 12 blocks" in notes[0]
    notes, ok = findings([_summary(steal=9.0)])
    assert ok and "up to 9 %" in notes[0]
    # a median estimate off the truth by more than 0.5 µs, or 10 % of a larger injection
    notes, ok = findings([_summary("injected_cost:ns=2000", truth=2.8, injected=2.0, bias=0.45)])
    assert ok and notes == []
    notes, ok = findings([_summary("injected_cost:ns=2000", truth=2.8, injected=2.0, bias=-0.6)])
    assert not ok and "-0.60 µs from the truth" in notes[0]
    notes, ok = findings([_summary("injected_cost:ns=10000", truth=11, injected=10, bias=0.9)])
    assert ok and notes == []
    notes, ok = findings([_summary("injected_cost:ns=10000", truth=11, injected=10, bias=1.1)])
    assert not ok and "tolerance ±1.00 µs" in notes[0]
    # ...unless the median itself is that noisy: then it says so, and passes
    notes, ok = findings([_summary("injected_cost:ns=2000", truth=2.8, injected=2.0, bias=-0.9,
                                   bias_se=0.6)])
    assert ok and "within the noise" in notes[0] and "± 0.60 µs" in notes[0]
    # the arm that measures the program's fixed cost has no truth to cover
    notes, ok = findings([_summary("injected_cost:ns=0", covered=0, truth=math.nan)])
    assert ok and notes == []


def _calibration_folder(tmp_path, fixed_ns=700.0, n_blocks=12, blocks_per_run=3):
    """A results folder as `calibrate` writes it, with op times whose truth is known: the
    null sensor adds nothing, ``injected_cost:ns=X`` adds what it spun plus the program's
    fixed cost; every block has its own machine state (shared by its two cells)."""
    import json

    import numpy as np

    from bench.results.store import ResultsDir

    rng = np.random.default_rng(7)
    res = ResultsDir(tmp_path / "cal")
    stats = {}
    spun = {"null_sensor": 0.0, "injected_cost:ns=0": 100.0, "injected_cost:ns=2000": 2150.0}
    for spec, s in spun.items():
        added = s + (fixed_ns if spec != "null_sensor" else 0.0)
        for r in range(n_blocks):
            state = rng.normal(15_000, 2_000)
            block = f"{spec}|file|1000|{r}"
            for side, extra in (("sensor", added), ("baseline", 0.0)):
                sensor = side == "sensor"
                cell = block if sensor else f"baseline~{block}"
                row = {"cell": cell, "backend": spec.split(":")[0] if sensor else "baseline",
                       "spec": spec if sensor else "baseline", "workload": "file",
                       "workload_spec": "file", "kind": "file_create",
                       "status": "unsupported" if sensor else "ok", "rate_target": "1000",
                       "repeat": r, "block": block if sensor else "",
                       "baseline_cell": f"baseline~{block}" if sensor else "",
                       "machine_steal_pct": 1.0}
                ops = state + extra + rng.normal(0, 300, 500)
                res.add_cell([row], None, ops.astype(np.int64), cell)
            if spec != "null_sensor":
                stats[block] = {"injected_ns_per_run": s}
    res.write_meta({"backend_stats": stats})
    return res.path


def test_calibration_summary_recovers_what_was_injected(tmp_path):
    from bench.results.calibrate import analyse

    folder = _calibration_folder(tmp_path)
    by = {s.control: s for s in analyse(folder, 3)}
    assert set(by) == {"null_sensor", "injected_cost:ns=0", "injected_cost:ns=2000"}
    assert all(s.runs == 4 and s.blocks_per_run == 3 for s in by.values())
    null, zero, two = by["null_sensor"], by["injected_cost:ns=0"], by["injected_cost:ns=2000"]
    assert null.truth_us == 0 and null.fixed_us == 0
    # the ns=0 arm measures the fixed cost (what it adds above its own spin) and has no
    # truth of its own; the other arm's truth is its spin plus that measured fixed cost
    assert math.isnan(zero.truth_us) and zero.estimate_us == pytest.approx(0.8, abs=0.3)
    assert two.injected_us == pytest.approx(2.15)
    assert two.truth_us == pytest.approx(2.15 + two.fixed_us)
    assert two.fixed_us == pytest.approx(0.7, abs=0.3)
    assert abs(two.bias_us) < 0.4 and two.covered >= 3
    # every pair of cells differs by the machine state only through noise: intervals of
    # a few hundred ns
    assert null.half_width_us < 1.0
