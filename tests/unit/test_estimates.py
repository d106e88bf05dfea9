"""The paired-block estimates, computed when a folder is read (bench.results.estimates via
RunData.load), never stored: on folders built from chosen numbers whose estimates are
worked out by hand here; two runs of one machine pooled; a resumed folder whose older
cells keep their times in ``.parts``; a folder written when the runner stored its
estimates (kept apart from runs with times, its counts recomputed); and the published
reference run, whose every estimate the read model must give again, value for value.
Saturation is judged against the block's own baseline cell, or the median baseline, with
the run's own overhead limit; ``with_estimates`` gives each row its own estimates, in the
schema's types."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from bench.results.estimates import with_estimates
from bench.results.merge import merge
from bench.results.rundata import RunData
from bench.results.schema import DTYPES, ESTIMATES
from tests.helpers import ROOT
from tests.helpers.constructed import MACHINE, cell_rows, write_folder

T1 = 12.706204736174694     # Student's t, 97.5 %, 1 degree of freedom (two blocks)
NAN = float("nan")

# Two blocks of psutil at 1000/s, each a sensor cell and its own baseline cell:
#   time per operation    sensor 1100, 1300 ns; baselines 1000, 1000 -> differences 100, 300
#   machine CPU per op    sensor 5, 7 µs;       baselines 4, 4       -> differences 1, 3
#   achieved rate         sensor 990, 1000;     baselines 1000, 1000 -> ratios 0.99, 1
#   schedule lag growth   sensor 30, 50 ms;     baselines 5, 5       -> added 25, 45
SENSOR = [dict(op_time_ns=1100.0, machine_busy_us_per_op=5.0, rate_achieved=990.0,
               schedule_lag_growth_ms=30.0),
          dict(op_time_ns=1300.0, machine_busy_us_per_op=7.0, rate_achieved=1000.0,
               schedule_lag_growth_ms=50.0)]
BASE = dict(op_time_ns=1000.0, machine_busy_us_per_op=4.0, rate_achieved=1000.0,
            schedule_lag_growth_ms=5.0)


def _block(repeat: int, sensor: dict, base: dict, spec: str = "psutil",
           drops: float = 0.0) -> list[dict]:
    cell = f"{spec}|process|1000|{repeat}"
    base_id = f"baseline~{spec}|process|1000|{repeat}"
    matched = round(1000 * (1 - drops))
    return (cell_rows(spec, {"proc_exec": dict(matched=matched)}, repeat=repeat, block=cell,
                      baseline_cell=base_id, **sensor)
            + cell_rows("baseline", repeat=repeat, cell=base_id, **base))


def _rows(drops=(0.0, 0.0)) -> list[dict]:
    return [r for i in (0, 1) for r in _block(i, SENSOR[i], BASE, drops=drops[i])]


def _sensor_rows(run: RunData) -> pd.DataFrame:
    return run.raw[run.raw["backend"] == "psutil"].reset_index(drop=True)


def test_the_estimates_are_computed_from_what_each_cell_measured(tmp_path):
    folder = write_folder(tmp_path / "r", _rows(drops=(0.0, 0.05)))
    stored = pd.read_parquet(folder / "cells.parquet")
    assert not set(ESTIMATES) & set(stored.columns)          # only what was measured
    run = RunData.load(folder)
    c = run.cells.iloc[0]
    assert c["overhead_ns_per_op"] == 200.0 and c["blocks_used"] == 2
    assert c["overhead_ci_low_ns"] == pytest.approx(200 - T1 * 100)
    assert c["overhead_ci_high_ns"] == pytest.approx(200 + T1 * 100)
    assert c["slowdown_pct"] == pytest.approx((math.sqrt(1.1 * 1.3) - 1) * 100)
    assert c["machine_cpu_us_per_op"] == 2.0
    assert c["machine_cpu_ci_high_us"] == pytest.approx(2 + T1)
    assert c["rate_ratio"] == pytest.approx(math.sqrt(0.99))
    assert c["blocks_dropped"] == 0
    rows = _sensor_rows(run)
    assert list(rows["block_overhead_ns"]) == [100.0, 300.0]
    assert list(rows["lag_growth_added_ms"]) == [35.0, 35.0]
    # the second block dropped 5 %; lag grew 25 and 45 ms more than the baselines', an
    # interval (35 ± 10 T1) that does not lie wholly above 20 ms: no queueing
    assert list(rows["saturation"]) == ["", "drops"]
    assert run.raw.loc[run.raw["backend"] == "baseline", "overhead_ns_per_op"].isna().all()


def test_keeping_up_is_judged_on_the_blocks(tmp_path):
    # achieved 500 and 510 of 1000 where the baselines made 1000 (ratios 0.5, 0.51: behind);
    # the lag grew 100 and 102 ms against 5 (added 96 ± T1 ms, lower end above 20: queues);
    # the workload's own CPU 3 and 4 µs per operation against 1 (added 2.5 ± T1 / 2)
    rows = [r for i in (0, 1) for r in _block(
        i, {**SENSOR[i], "rate_achieved": 500.0 + 10 * i, "schedule_lag_growth_ms": 100.0 + 2 * i,
            "workload_cpu_us_per_op": 3.0 + i},
        {**BASE, "workload_cpu_us_per_op": 1.0})]
    run = RunData.load(write_folder(tmp_path / "r", rows))
    r = _sensor_rows(run).iloc[0]
    assert r["rate_ratio"] == pytest.approx(math.sqrt(0.5 * 0.51))
    assert r["rate_ratio_ci_high"] < 0.95 and r["lag_growth_added_ms"] == 96.0
    assert r["lag_growth_added_ci_low_ms"] == pytest.approx(96 - T1)
    assert r["workload_cpu_added_us_per_op"] == 2.5
    assert r["workload_cpu_added_ci_low_us"] == pytest.approx(2.5 - T1 / 2)
    assert set(_sensor_rows(run)["saturation"]) == {"behind+queues"}


def test_a_block_named_on_its_baselines_rows_pairs_too(tmp_path):
    # folders from before baselines were shared: the baseline's rows carry the block, the
    # sensor's no baseline_cell
    rows = _rows()
    for r in rows:
        if r["backend"] == "baseline":
            r["block"] = "psutil|process|1000|" + r["cell"][-1]
        else:
            r["baseline_cell"] = None
    c = RunData.load(write_folder(tmp_path / "r", rows)).cells.iloc[0]
    assert c["blocks_used"] == 2 and c["overhead_ns_per_op"] == 200.0


def test_a_failed_cell_drops_its_block(tmp_path):
    rows = _rows()
    for r in rows:
        if r["cell"] == "baseline~psutil|process|1000|1":
            r.update(status="failed", reason="workload died")
    c = RunData.load(write_folder(tmp_path / "r", rows)).cells.iloc[0]
    assert (c["blocks_used"], c["blocks_dropped"]) == (1, 1)
    assert c["overhead_ns_per_op"] == 100.0 and math.isnan(c["overhead_ci_low_ns"])


def test_a_cell_without_a_block_is_judged_against_the_median_baseline(tmp_path):
    # --no-baseline: a sensor cell at 940/s of a 1000/s target, short of 95 %, while the
    # baselines' median (1000; their mean, 967, would excuse it) was not: behind. No block:
    # no overhead, and no blocks to count.
    rows = (cell_rows("psutil", rate_achieved=940.0, op_time_ns=1000.0)
            + cell_rows("baseline", cell="b0", rate_achieved=900.0)
            + cell_rows("baseline", cell="b1", repeat=1, rate_achieved=1000.0)
            + cell_rows("baseline", cell="b2", repeat=2, rate_achieved=1000.0))
    run = RunData.load(write_folder(tmp_path / "r", rows))
    (r,) = _sensor_rows(run).to_dict("records")
    assert r["saturation"] == "behind" and r["blocks_used"] == 0
    assert math.isnan(r["overhead_ns_per_op"])


def test_two_runs_of_one_machine_pool_their_blocks(tmp_path):
    meta = {"machine": {**MACHINE, "machine_key": "k"}}
    a = write_folder(tmp_path / "a", _block(0, SENSOR[0], BASE), meta=meta)
    b = write_folder(tmp_path / "b", _block(0, SENSOR[1], BASE), meta=meta)
    run = RunData.load(merge([a, b], tmp_path / "m"))
    assert run.raw["cell"].nunique() == 2 and run.raw["run"].nunique() == 2
    c = run.cells.iloc[0]
    # one series: both runs' blocks (100 and 300 ns), as if one run had held both
    assert c["repeats"] == 2 and c["blocks_used"] == 2 and c["overhead_ns_per_op"] == 200.0
    assert list(_sensor_rows(run)["block_overhead_ns"]) == [100.0, 300.0]


def test_a_resumed_folder_takes_older_cells_times_from_its_parts(tmp_path):
    # The first block was measured before cells stored their time per operation, and the
    # runner of then stored a (now stale) estimate in its rows; the folder was resumed for
    # the second block. Every block counts, the stale estimate none.
    old = _block(0, {k: v for k, v in SENSOR[0].items() if k != "op_time_ns"},
                 {k: v for k, v in BASE.items() if k != "op_time_ns"})
    for r in old:
        if r["backend"] == "psutil":
            r.update(overhead_ns_per_op=999.0, slowdown_pct=99.0, blocks_used=1,
                     blocks_dropped=0, block_overhead_ns=999.0)
    times = {"psutil|process|1000|0": np.full(200, 1100),
             "baseline~psutil|process|1000|0": np.full(200, 1000)}
    folder = write_folder(tmp_path / "r", old + _block(1, SENSOR[1], BASE), op_times=times)
    run = RunData.load(folder)
    c = run.cells.iloc[0]
    assert c["blocks_used"] == 2 and c["overhead_ns_per_op"] == 200.0
    assert c["slowdown_pct"] == pytest.approx((math.sqrt(1.1 * 1.3) - 1) * 100)
    assert list(_sensor_rows(run)["block_overhead_ns"]) == [100.0, 300.0]


def test_a_folder_whose_runner_stored_its_estimates(tmp_path):
    # No time per operation per cell: the overhead comes from the blocks' stored
    # differences, the slowdown as stored; the paired CPU is computed from the cells.
    rows = []
    for i, diff in enumerate((100.0, 300.0)):
        s = {k: v for k, v in SENSOR[i].items() if k != "op_time_ns"}
        block = _block(i, {**s, "block_overhead_ns": diff, "slowdown_pct": 19.0,
                           "slowdown_ci_low_pct": 1.0, "slowdown_ci_high_pct": 40.0,
                           "blocks_used": 2, "blocks_dropped": 0, "overhead_ns_per_op": 7.0},
                       {k: v for k, v in BASE.items() if k != "op_time_ns"})
        rows += block
    c = RunData.load(write_folder(tmp_path / "r", rows)).cells.iloc[0]
    assert c["overhead_ns_per_op"] == 200.0 and c["blocks_used"] == 2
    assert c["overhead_ci_high_ns"] == pytest.approx(200 + T1 * 100)
    assert (c["slowdown_pct"], c["slowdown_ci_low_pct"]) == (19.0, 1.0)
    assert c["machine_cpu_us_per_op"] == 2.0


def test_a_run_that_stored_its_estimates_reads_back_every_one():
    """tests/fixtures/stored_estimates/ is part of a reference run written when the runner
    stored its estimates in the rows (ebpf, audit, psutil, synthetic and null_sensor, with
    every baseline they were paired with): read through the model, which computes them,
    they come out the same, value for value (its cells.csv, written with every digit a
    float round-trips with)."""
    folder = ROOT / "tests" / "fixtures" / "stored_estimates"
    run = RunData.load(folder)
    csv = pd.read_csv(folder / "cells.csv", low_memory=False)
    assert len(run.raw) == len(csv) and list(run.raw["cell"]) == list(csv["cell"])
    sensor = (csv["backend"] != "baseline").to_numpy()
    assert sensor.sum() > 500 and csv.loc[sensor, "machine_cpu_us_per_op"].notna().sum() > 200
    for c in ESTIMATES:
        if c == "saturation":
            got, want = run.raw[c].fillna("").astype(str), csv[c].fillna("").astype(str)
            assert (got == want).all(), c
            assert (want[sensor] != "").sum() > 10    # some cells hit a limit
            continue
        got, want = run.raw[c].astype(float).to_numpy(), csv[c].astype(float).to_numpy()
        assert np.isfinite(want[sensor]).any(), c
        # equal to far below any digit shown (reports show four at most): the libraries at
        # the dependency floors sum in another order and take scipy 1.10's t quantile (up
        # to 3.9e-8 relative on an interval's bound); today's versions give every bit
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=0, err_msg=c)


def test_a_cell_without_a_block_is_excused_by_the_median_baseline(tmp_path):
    # --no-baseline: a sensor cell at 900/s of a 1000/s target, its workload's lag grown by
    # 30 ms, while the baselines of its workload and rate made 880, 900 and 1000/s (median
    # 900) with lag growths of 5, 25 and 30 ms (median 25): short of the target and lagging,
    # but no more than the machine without a sensor. Judged against nothing, it would be
    # behind and queueing.
    rows = (cell_rows("psutil", rate_achieved=900.0, schedule_lag_growth_ms=30.0,
                      op_time_ns=1000.0)
            + [r for i, (got, lag) in enumerate(((880.0, 5.0), (900.0, 25.0), (1000.0, 30.0)))
               for r in cell_rows("baseline", cell=f"b{i}", repeat=i, rate_achieved=got,
                                  schedule_lag_growth_ms=lag, op_time_ns=900.0)])
    (r,) = _sensor_rows(RunData.load(write_folder(tmp_path / "r", rows))).to_dict("records")
    assert r["saturation"] == ""


def test_a_block_is_judged_against_its_own_baseline_cell(tmp_path):
    # One block (no interval: keeping up is judged on the cell): psutil made 900/s where its
    # own baseline made 900/s too, so it is not behind; another series' baseline at the same
    # workload and rate made 1000/s, and the median of the two (950) would call it behind.
    rows = (_block(0, {**SENSOR[0], "rate_achieved": 900.0, "schedule_lag_growth_ms": 5.0},
                   {**BASE, "rate_achieved": 900.0})
            + _block(0, SENSOR[1], BASE, spec="other"))
    r = _sensor_rows(RunData.load(write_folder(tmp_path / "r", rows))).iloc[0]
    assert r["saturation"] == "" and math.isnan(r["rate_ratio_ci_high"])
    assert (r["blocks_used"], r["overhead_ns_per_op"]) == (1, 100.0)
    assert math.isnan(r["overhead_ci_low_ns"])


def test_slows_is_judged_against_the_runs_own_overhead_limit(tmp_path):
    # Both blocks 10 % slower (interval 10..10 %), keeping up otherwise: above the 5 %
    # limit the run was made with, below the default 100 %.
    same = {**BASE, "op_time_ns": 1100.0}
    rows = [r for i in (0, 1) for r in _block(i, same, BASE)]
    meta = {"machine": MACHINE, "rules": {"overhead_limit_pct": 5}}
    judged = _sensor_rows(RunData.load(write_folder(tmp_path / "r", rows, meta=meta)))
    assert list(judged["slowdown_ci_low_pct"]) == pytest.approx([10.0, 10.0])
    assert set(judged["saturation"]) == {"slows"}
    assert set(_sensor_rows(RunData.load(write_folder(tmp_path / "d", rows)))["saturation"]) == {""}


def test_a_block_named_on_its_baselines_rows_pairs_when_they_come_first(tmp_path):
    # a folder from before baselines were shared, whose baseline cells ran (and their rows
    # were written) before the sensor cells of their blocks: the block, which the sensor's
    # rows name too, still pairs the sensor with its baseline, never with itself
    rows = []
    for i in (0, 1):
        block = _block(i, SENSOR[i], BASE)
        for r in block:
            if r["backend"] == "baseline":
                r["block"] = f"psutil|process|1000|{i}"
            else:
                r["baseline_cell"] = None
        rows += block[::-1]
    r = _sensor_rows(RunData.load(write_folder(tmp_path / "r", rows))).iloc[0]
    assert r["blocks_used"] == 2 and r["overhead_ns_per_op"] == 200.0


def test_rows_the_estimates_pass_over_do_not_stop_the_rows_after_them(tmp_path):
    # A folder holding a run from before blocks (its psutil cell stored a slowdown and has
    # no block), then a run whose first cell has no block (--no-baseline), then two blocks
    # of another series: those blocks are estimated all the same.
    old = cell_rows("psutil", slowdown_pct=12.0, run="old")
    new = cell_rows("nob", op_time_ns=1000.0) + [
        r for i in (0, 1) for r in _block(i, SENSOR[i], BASE, spec="other")]
    for r in new:
        r["run"] = "new"
    raw = RunData.load(write_folder(tmp_path / "r", old + new)).raw.set_index("spec")
    assert raw.loc["other", "overhead_ns_per_op"].tolist() == [200.0, 200.0]
    assert raw.loc["nob", "blocks_used"] == 0 and raw.loc["psutil", "slowdown_pct"] == 12.0


def test_a_run_with_no_times_and_no_stored_estimates_is_read(tmp_path):
    # no time per operation and nothing stored by a runner: not a folder from before
    # blocks, so its rows are judged (5 % lost: drops) and carry an estimate (of no block)
    rows = cell_rows("psutil", {"proc_exec": dict(matched=950)})
    (r,) = _sensor_rows(RunData.load(write_folder(tmp_path / "r", rows))).to_dict("records")
    assert r["saturation"] == "drops" and r["blocks_used"] == 0


def test_a_stored_folders_counts_are_recomputed_from_its_blocks(tmp_path):
    # A runner-stored folder whose rows hold the block counts but no slowdown: the counts
    # as stored were stale (1 after the first block, 2 after the second, a third block's
    # difference missing), and a second series whose cells all failed stored none. The
    # overhead and the counts come from the stored differences: 100, 300 and a dropped one.
    rows = []
    for i, (diff, used) in enumerate(((100.0, 1), (300.0, 2), (None, 2))):
        s = {k: v for k, v in SENSOR[i % 2].items() if k != "op_time_ns"}
        rows += _block(i, {**s, "block_overhead_ns": diff, "blocks_used": used,
                           "blocks_dropped": 0},
                       {k: v for k, v in BASE.items() if k != "op_time_ns"})
    for i in (0, 1):
        rows += [{**r, "status": "failed", "reason": "sensor died"} if r["backend"] != "baseline"
                 else r for r in _block(i, {}, {}, spec="auditd")]
    raw = RunData.load(write_folder(tmp_path / "r", rows)).raw
    for _, p in raw[raw["backend"] == "psutil"].iterrows():
        assert (p["blocks_used"], p["blocks_dropped"], p["overhead_ns_per_op"]) == (2, 1, 200.0)
        assert p["overhead_ci_low_ns"] == pytest.approx(200 - T1 * 100)
        assert math.isnan(p["slowdown_pct"])
    a = raw[raw["backend"] == "auditd"].iloc[0]
    assert (a["blocks_used"], a["blocks_dropped"]) == (0, 2)
    assert math.isnan(a["overhead_ns_per_op"]) and math.isnan(a["slowdown_pct"])


def test_a_stored_run_is_estimated_apart_from_a_run_with_times(tmp_path):
    # Two runs of one machine: "stored" (the runner stored its blocks' differences, 100 and
    # 300 ns) and "read" (its cells' times: 1500 vs 1000, 1700 vs 1000). Each run's rows
    # carry the estimate of its own blocks: the stored ones have no times to pool with.
    stored = []
    for i, diff in enumerate((100.0, 300.0)):
        s = {k: v for k, v in SENSOR[i].items() if k != "op_time_ns"}
        stored += _block(i, {**s, "block_overhead_ns": diff, "blocks_used": 2,
                             "blocks_dropped": 0, "slowdown_pct": 19.0},
                         {k: v for k, v in BASE.items() if k != "op_time_ns"})
    read = [r for i, t in enumerate((1500.0, 1700.0))
            for r in _block(i, {**SENSOR[i], "op_time_ns": t}, BASE)]
    rows = [{**r, "run": "stored"} for r in stored] + [{**r, "run": "read"} for r in read]
    raw = _sensor_rows(RunData.load(write_folder(tmp_path / "r", rows)))
    assert dict(zip(raw["run"], raw["overhead_ns_per_op"])) == {"stored": 200.0, "read": 600.0}
    assert set(raw["blocks_used"]) == {2} and set(raw["blocks_dropped"]) == {0}


def _frame(rows: list[dict]) -> pd.DataFrame:
    """Rows as ``RunData.load`` hands them to ``with_estimates``: with their host and run."""
    return pd.DataFrame(rows).assign(host="h", run="r")


def test_each_row_gets_its_own_estimates_whatever_the_frames_index():
    # the estimates of a frame whose index is not 0..n-1 (rows filtered or reordered) land
    # on the rows they belong to
    df = _frame(_rows())
    ahead = with_estimates(df)
    back = with_estimates(df.iloc[::-1])
    assert list(ahead["block_overhead_ns"].fillna(-1)) == [100.0, -1, 300.0, -1]
    pd.testing.assert_frame_equal(back.sort_index(), ahead)


def test_estimates_come_out_in_the_schemas_types():
    # A run from before blocks, read back from a cells.csv where its stored estimates came
    # out as text: a number in text is that number, a text that is no number ("-") none,
    # and every estimate column has the schema's type.
    rows = (cell_rows("psutil", slowdown_pct="-", blocks_used="-")
            + cell_rows("psutil", repeat=1, slowdown_pct="20.0", blocks_used="3"))
    out = with_estimates(_frame(rows))
    assert {c: str(out[c].dtype) for c in ESTIMATES} == {c: DTYPES[c] for c in ESTIMATES}
    assert math.isnan(out.loc[0, "slowdown_pct"]) and out.loc[1, "slowdown_pct"] == 20.0
    assert pd.isna(out.loc[0, "blocks_used"]) and out.loc[1, "blocks_used"] == 3
