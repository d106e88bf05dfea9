"""``sensorbench calibrate``'s summary (bench.results.calibrate): runs of paired blocks of
the A/A null sensor and the injected-cost controls, read from a results folder built with
chosen numbers (tests.helpers.constructed), so that coverage, bias, the truth (what was
spun + the fixed cost the ns=0 arm measures) and the half-width are known by hand; and the
verdicts ``findings`` draws from summaries."""

import json
import math

import numpy as np
import pytest

from bench.results.calibrate import (BIAS_SE, COVERAGE_FLOOR, FIXED, NULL, Summary, analyse,
                                     control_specs, findings, save)
from bench.core.errors import BadInput
from bench.results.store import ResultsDir
from tests.helpers.constructed import cell_rows, write_folder

T1 = 12.706204736174694     # Student's t, 97.5 %, 1 degree of freedom (2 blocks a run)
INJ = "injected_cost:ns=2000"
BASE_NS = 10_000


class _Folder:
    """The rows, op times and backend stats of a calibration folder, block by block."""

    def __init__(self):
        self.rows, self.op_times, self.stats = [], {}, {}

    def block(self, spec, repeat, diff_ns, *, workload="file", spun=None, status="unsupported",
              steal=1.0, base_steal=1.0, base_status="ok"):
        """One paired block: a baseline cell of mean BASE_NS + 1000 * repeat (every block
        its own machine state) and the control's cell ``diff_ns`` above it."""
        block = f"{spec}|{workload}|1000|{repeat}"      # the sensor cell's id
        base_id = f"baseline~{block}"
        self.rows += cell_rows(spec, ("file_create", "file_write"), workload=workload,
                               repeat=repeat, block=block, baseline_cell=base_id,
                               status=status, machine_steal_pct=steal, mode="calibration")
        self.rows += cell_rows("baseline", workload=workload, repeat=repeat, block=block,
                               cell=base_id, status=base_status, machine_steal_pct=base_steal)
        base = BASE_NS + 1000 * repeat
        self.op_times[block] = np.full(100, base + diff_ns)
        self.op_times[base_id] = np.full(100, base)
        if spun is not None:
            self.stats[block] = {"injected_ns_per_run": spun}

    def write(self, path):
        write_folder(path, self.rows, meta={"backend_stats": self.stats})
        store = _OpTimesOnly(path)
        for cell, times in self.op_times.items():
            store.add_cell([], None, times, cell)
        return path


class _OpTimesOnly(ResultsDir):
    """The store adding cells' op times without rewriting its table after each (the rows
    are all there already): forty cells would otherwise take seconds."""

    def write_cells(self) -> None:
        pass


def _folder(tmp_path):
    """Two blocks a run. Per run: the estimate is the mean of its two differences and the
    half-width T1 * |d1 - d2| / 2 (sd |d1 - d2| / sqrt 2, over sqrt 2 blocks).

    - process, ns=2000: one run, [1000, 1200]; no ns=0 arm on this workload: no truth.
    - null (truth 0): run 0 [-100, 100]: 0 ± 100 T1, covers; run 1 [490, 510]: 500 ± 10 T1
      (lo 372.9), misses. A cell outside any block is left out.
    - ns=0: spun 100 (80 and 120), 100, 150; [790, 810] 800 ± 10 T1, [880, 920] 900 ± 20 T1,
      [1490, 1510] 1500 ± 10 T1; a fourth run whose cells both failed. Fixed cost: the
      median of 700, 800, 1350 = 800 ns.
    - ns=2000: spun 2000 (1900 and 2100; then a count that is no number), truth 2800;
      [2750, 2850] 2800 ± 50 T1 covers, [3490, 3510] 3500 ± 10 T1 misses, [2840, 2860]
      2850 ± 10 T1 covers; a fourth run with one failed cell (one block: no interval).
      Steal: 7.5 % on a baseline cell, none known on a sensor cell.
    """
    f = _Folder()
    f.block(INJ, 0, 1000, workload="process", spun=2000)
    f.block(INJ, 1, 1200, workload="process", spun=2000)
    for r, d in enumerate([-100, 100, 490, 510]):
        f.block(NULL, r, d)
    f.rows += cell_rows(NULL, workload="file", repeat=9)      # no block: not a calibration cell
    f.op_times[f"{NULL}|file|1000|9"] = np.full(100, 99_000)
    for r, (d, s) in enumerate(zip([790, 810, 880, 920, 1490, 1510],
                                   [80, 120, 100, 100, 150, 150])):
        f.block(FIXED, r, d, spun=s)
    f.block(FIXED, 6, 800, spun=100, status="failed")
    f.block(FIXED, 7, 800, spun=100, base_status="failed")
    f.block(INJ, 0, 2750, spun=1900, status="ok")
    f.block(INJ, 1, 2850, spun=2100, status="ok")
    f.block(INJ, 2, 3490, spun=2000, base_steal=7.5)
    f.block(INJ, 3, 3510, spun=2000)
    f.block(INJ, 4, 2840, spun=2000, steal=None)
    f.block(INJ, 5, 2860, spun="n/a")
    f.block(INJ, 6, 2800, spun=2000, status="failed")
    f.block(INJ, 7, 2800, spun=2000)
    return f.write(tmp_path / "cal")


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return _folder(tmp_path_factory.mktemp("calibrate"))


@pytest.fixture
def summaries(folder):
    # analysed in each test, not once per module: mutmut runs, for each mutant, the tests
    # that called the mutated function
    return analyse(folder, 2)


def _by(summaries):
    return {(s.workload, s.control): s for s in summaries}


def test_one_summary_per_workload_and_control_in_order(summaries):
    assert [(s.workload, s.control) for s in summaries] == [
        ("file", FIXED), ("file", INJ), ("file", NULL), ("process", INJ)]
    assert all(s.blocks_per_run == 2 for s in summaries)


def test_null_sensor_coverage_bias_and_half_width(summaries):
    s = _by(summaries)["file", NULL]
    assert s.runs == 2 and s.covered == 1 and s.coverage == 0.5
    assert s.truth_us == 0.0 and s.injected_us == 0.0 and s.fixed_us == 0.0
    assert s.estimate_us == pytest.approx(0.25)          # median of 0 and 500 ns
    assert s.bias_us == pytest.approx(0.25)
    # 1.2533 sd / sqrt 2 of (0, 500): 1.2533 * 353.55 / 1.4142 = 313.3 ns
    assert s.bias_se_us == pytest.approx(1.2533 * 250 / 1e3)
    assert s.half_width_us == pytest.approx((100 * T1 + 10 * T1) / 2 / 1e3)
    # the cell outside any block made no run and dropped nothing
    assert s.blocks_dropped == 0
    assert s.steal_pct_max == 1.0


def test_fixed_cost_arm_measures_and_has_no_truth(summaries):
    s = _by(summaries)["file", FIXED]
    assert s.runs == 3 and s.covered == 0 and s.coverage == 0.0
    assert math.isnan(s.truth_us) and math.isnan(s.fixed_us)
    assert math.isnan(s.bias_us) and math.isnan(s.bias_se_us)
    assert s.injected_us == pytest.approx(0.1)           # median of 100, 100, 150 ns
    assert s.estimate_us == pytest.approx(0.9)           # median of 800, 900, 1500 ns
    assert s.half_width_us == pytest.approx(10 * T1 / 1e3)
    assert s.blocks_dropped == 2                         # the fourth run's two blocks


def test_injected_arm_truth_is_spun_plus_the_measured_fixed_cost(summaries):
    s = _by(summaries)["file", INJ]
    assert s.injected_us == pytest.approx(2.0)
    assert s.fixed_us == pytest.approx(0.8)              # median(700, 800, 1350) ns
    assert s.truth_us == pytest.approx(2.8)
    assert s.runs == 3 and s.covered == 2
    assert s.estimate_us == pytest.approx(2.85)          # median of 2800, 3500, 2850 ns
    assert s.bias_us == pytest.approx(0.05)              # median of 0, 700, 50 ns
    # 1.2533 sd / sqrt 3 of (0, 700, 50): sd = sqrt(305000 / 2) = 390.5 ns -> 282.6 ns
    assert s.bias_se_us == pytest.approx(1.2533 * math.sqrt(305_000 / 2) / math.sqrt(3) / 1e3)
    assert s.half_width_us == pytest.approx(10 * T1 / 1e3)   # median of 50, 10, 10 T1
    assert s.blocks_dropped == 1
    assert s.steal_pct_max == 7.5                        # a baseline cell's steal counts


def test_the_bias_and_its_noise_are_of_each_runs_own_truth(tmp_path):
    # The spin counted differs from run to run (1900 then 2300 ns), so does the truth
    # (+ the 700 ns fixed cost): 2600 and 3000 ns. Estimates 2600 and 3100 ns are off by
    # 0 and 100 ns: bias their median, its standard error 1.2533 sd(0, 100) / sqrt 2.
    f = _Folder()
    f.block(FIXED, 0, 800, spun=100)
    f.block(FIXED, 1, 800, spun=100)
    for r, (d, spun) in enumerate([(2590, 1900), (2610, 1900), (3090, 2300), (3110, 2300)]):
        f.block(INJ, r, d, spun=spun)
    s = _by(analyse(f.write(tmp_path / "cal"), 2))["file", INJ]
    assert s.fixed_us == pytest.approx(0.7) and s.truth_us == pytest.approx(2.8)
    assert s.bias_us == pytest.approx(0.05)
    assert s.bias_se_us == pytest.approx(1.2533 * math.sqrt(5000) / math.sqrt(2) / 1e3)


def test_a_workload_without_the_fixed_cost_arm_has_no_truth(summaries):
    s = _by(summaries)["process", INJ]
    assert s.runs == 1 and s.covered == 0
    assert s.estimate_us == pytest.approx(1.1)
    assert s.injected_us == pytest.approx(2.0)
    assert math.isnan(s.fixed_us) and math.isnan(s.truth_us) and math.isnan(s.bias_us)
    assert s.half_width_us == pytest.approx(100 * T1 / 1e3)


def test_a_control_whose_cells_all_failed_has_no_run(tmp_path):
    f = _Folder()
    f.block(NULL, 0, 0, status="failed")
    f.block(NULL, 1, 0, status="failed", steal=None, base_steal=None)
    (s,) = analyse(f.write(tmp_path / "cal"), 2)
    assert s.runs == 0 and math.isnan(s.coverage) and s.blocks_dropped == 2
    assert math.isnan(s.estimate_us) and math.isnan(s.half_width_us)
    assert s.steal_pct_max == 1.0
    notes, ok = findings([s])
    assert ok is False and notes == [
        f"{NULL} on file: no run produced an interval (cells failed?)"]


@pytest.mark.filterwarnings("error")   # no numpy warnings over empty or all-NaN runs
def test_single_runs_and_unknowns_are_computed_quietly(tmp_path):
    f = _Folder()
    # the null sensor: one run of two identical blocks, a zero-width interval at 0 ns:
    # the truth on its edges is held
    f.block(NULL, 0, 0)
    f.block(NULL, 1, 0)
    # the ns=0 arm: every cell failed, no fixed cost known
    f.block(FIXED, 0, 800, spun=100, status="failed")
    f.block(FIXED, 1, 800, spun=100, status="failed")
    # ns=2000 without its counts: nothing known injected
    f.block(INJ, 0, 1000)
    f.block(INJ, 1, 1200)
    by = {s.control: s for s in analyse(f.write(tmp_path / "cal"), 2)}
    null, fixed, inj = by[NULL], by[FIXED], by[INJ]
    assert null.runs == 1 and null.covered == 1 and null.half_width_us == 0.0
    assert null.bias_us == 0.0 and math.isnan(null.bias_se_us)    # one run: no spread
    assert fixed.runs == 0 and fixed.blocks_dropped == 2
    assert math.isnan(fixed.estimate_us) and math.isnan(fixed.injected_us)
    assert inj.runs == 1 and math.isnan(inj.injected_us) and math.isnan(inj.fixed_us)
    assert math.isnan(inj.truth_us) and inj.estimate_us == pytest.approx(1.1)


def test_a_folder_that_is_not_there_is_bad_input_and_stays_absent(tmp_path):
    with pytest.raises(BadInput):
        analyse(tmp_path / "nothing", 2)
    assert not (tmp_path / "nothing").exists()


def test_a_block_whose_baseline_is_missing_is_dropped(tmp_path):
    f = _Folder()
    for r in range(3):
        f.block(NULL, r, 100)
    f.rows = [r for r in f.rows if r["cell"] != f"baseline~{NULL}|file|1000|2"]
    (s,) = analyse(f.write(tmp_path / "cal"), 3)
    assert s.blocks_dropped == 1 and s.runs == 1 and s.estimate_us == pytest.approx(0.1)


def test_no_steal_known_is_no_steal_figure(tmp_path):
    f = _Folder()
    f.block(NULL, 0, 0, steal=None, base_steal=None)
    f.block(NULL, 1, 10, steal=None, base_steal=None)
    (s,) = analyse(f.write(tmp_path / "cal"), 2)
    assert math.isnan(s.steal_pct_max)
    assert findings([s]) == ([], True)


def test_control_specs_name_the_arms():
    assert control_specs([2000, 10000.0, 0.5]) == [
        NULL, FIXED, "injected_cost:ns=2000", "injected_cost:ns=10000", "injected_cost:ns=0.5"]


# a noisy folder: the truth recovered within the noise ------------------------------------

def _calibration_folder(tmp_path, fixed_ns=700.0, n_blocks=12, blocks_per_run=3):
    """A results folder as `calibrate` writes it, with op times whose truth is known: the
    null sensor adds nothing, ``injected_cost:ns=X`` adds what it spun plus the program's
    fixed cost; every block has its own machine state (shared by its two cells)."""
    rng = np.random.default_rng(7)
    f = _Folder()
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
                f.rows.append(row)
                f.op_times[cell] = (state + extra + rng.normal(0, 300, 500)).astype(np.int64)
            if spec != "null_sensor":
                f.stats[block] = {"injected_ns_per_run": s}
    return f.write(tmp_path / "cal")


def test_calibration_summary_recovers_what_was_injected(tmp_path):
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


# Summary -------------------------------------------------------------------------------

def _summary(control=NULL, covered=19, runs=20, half=1.5, steal=1.0, truth=0.0,
             injected=0.0, bias=0.1, bias_se=0.1, workload="file", blocks=3):
    return Summary(workload, control, injected, 0.0, truth, runs, covered, truth + bias, bias,
                   bias_se, half, blocks, 0, steal)


def test_blocks_to_resolve_scale_with_the_square_of_the_half_width():
    # 3 blocks x (2 / 1)^2 = 12; 3 x (4 / 2)^2 = 12
    assert _summary(half=2.0).blocks_to_resolve(1.0) == 12
    assert _summary(half=4.0).blocks_to_resolve(2.0) == 12
    # 3 x 1.2^2 = 4.32, rounded up
    assert _summary(half=1.2).blocks_to_resolve(1.0) == 5
    # 4 x 1.5^2 = 9 exactly
    assert _summary(half=1.5, blocks=4).blocks_to_resolve(1.0) == 9
    # never fewer than two blocks (an interval needs two)
    assert _summary(half=0.1).blocks_to_resolve(1.0) == 2
    assert _summary(half=math.nan).blocks_to_resolve(1.0) is None
    assert _summary().blocks_to_resolve(0.0) is None


# findings ------------------------------------------------------------------------------

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


def test_coverage_floor_is_inclusive():
    assert COVERAGE_FLOOR == 0.85
    assert findings([_summary(covered=17)]) == ([], True)          # 17 / 20 = 0.85
    notes, ok = findings([_summary(covered=16)])                   # 0.80
    assert ok is False and notes == [
        (f"{NULL} on file: the 95 % interval held the truth in only 16 of 20 runs: overhead "
         "intervals are too narrow on this machine at these settings (more blocks, longer "
         "cells, a quieter machine)")]


def test_bias_tolerance_edges():
    # exactly the 0.5 µs floor passes; a NaN injection leaves the floor
    assert findings([_summary(bias=0.5)]) == ([], True)
    assert findings([_summary(bias=-0.5, injected=math.nan)]) == ([], True)
    assert not findings([_summary(bias=-0.51, injected=math.nan)])[1]
    # 10 % of 8 µs is 0.8 µs: 0.79 passes, -0.81 fails
    assert findings([_summary(INJ, truth=9.0, injected=8.0, bias=0.79)]) == ([], True)
    notes, ok = findings([_summary(INJ, truth=9.0, injected=8.0, bias=-0.81, bias_se=0.1)])
    assert ok is False and notes == [
        (f"{INJ} on file: the estimates sit -0.81 µs from the truth (median of 20 runs, ± 0.10 "
         "µs; tolerance ±0.80 µs): the method is biased here")]


def test_bias_within_twice_its_standard_error_is_noise():
    assert BIAS_SE == 2.0
    # |bias| 0.8 = 2 x 0.4: within the noise, said and passed
    notes, ok = findings([_summary(bias=0.8, bias_se=0.4)])
    assert ok and notes == [
        (f"{NULL} on file: the median estimate sits +0.80 µs from the truth, within the "
         "noise of a median of 20 runs (± 0.40 µs): too noisy here to check the ±0.50 µs "
         "tolerance; more runs would")]
    # just over it: biased
    assert not findings([_summary(bias=-0.81, bias_se=0.4)])[1]


def test_a_control_without_runs_does_not_stop_the_others():
    notes, ok = findings([_summary(runs=0, covered=0), _summary(workload="process", covered=3)])
    assert ok is False and len(notes) == 2
    assert notes[0].startswith(f"{NULL} on file: no run")
    assert notes[1].startswith(f"{NULL} on process: the 95 % interval held the truth in only 3")


def test_no_truth_no_bias_check():
    assert findings([_summary(FIXED, covered=0, truth=math.nan, bias=math.nan)]) == ([], True)


def test_effect_resolution_is_judged_on_the_null_sensor_only():
    notes, ok = findings([_summary(half=2.0)], effect_us=1.0)
    assert ok is False and notes == [
        ("file: cannot resolve 1 µs per operation: the A/A interval is ±2.0 µs with 3 "
         "blocks; about 12 blocks a run would resolve it")]
    # a half-width equal to the effect resolves it
    assert findings([_summary(half=1.0)], effect_us=1.0) == ([], True)
    # an injected arm's wide interval says nothing about resolving an effect
    assert findings([_summary(INJ, truth=2.8, injected=2.0, half=5.0)], effect_us=1.0) == \
        ([], True)


def test_steal_warning_names_the_worst_and_counts_the_controls():
    s = [_summary(steal=5.0), _summary(INJ, truth=2.8, injected=2.0, steal=6.0),
         _summary(workload="process", steal=12.4), _summary(workload="net", steal=math.nan)]
    notes, ok = findings(s)
    # 5 % itself is not over the limit: two controls, the worst 12 % on process
    assert ok and notes == [
        ("the hypervisor stole more than 5 % of CPU time in cells of 2 control(s), up to 12 % "
         "(process): those blocks are noisier")]


# save ----------------------------------------------------------------------------------

def test_save_writes_settings_and_summaries_with_coverage(tmp_path):
    s = _summary(covered=15, runs=20)
    path = save(tmp_path, [s], {"blocks": 3, "out": tmp_path})
    assert path == tmp_path / "calibration.json"
    text = path.read_text()
    assert text.endswith("}\n") and text.startswith('{\n  "settings": {\n    "blocks": 3')
    doc = json.loads(text)
    assert doc["settings"] == {"blocks": 3, "out": str(tmp_path)}
    (row,) = doc["summaries"]
    assert row["coverage"] == 0.75 and row["covered"] == 15 and row["control"] == NULL
    assert row["half_width_us"] == 1.5 and row["blocks_per_run"] == 3
