"""Max sustainable rate: the highest offered rate such that it and every lower rate pass,
judged on the worst kind, with the drops-only 'lossless' rate next to it, on folders built
from chosen drop rates, achieved rates, lags and slowdowns (tests.helpers.constructed).
Also the verdict on one rate (``judge``) and a searched run's probe read from its folder
(``judge_probes``).
"""

from __future__ import annotations

import math
from types import SimpleNamespace

import pandas as pd
import pytest
from hypothesis import given, settings, strategies as st

from bench.results.rundata import RunData
from bench.analysis.search import GENERATOR
from bench.results.sustainable import (Sustainable, generator_short, judge, judge_probes,
                                       search_caps,
                                        max_sustainable, passes, table)
from tests.helpers.constructed import MACHINE, cell_rows, write_folder

RATES = ("100", "1000", "10000")
# a paired-block estimate at 10000/s: a cost well under the material limit
BLOCKS = dict(slowdown_pct=5.0, slowdown_ci_low_pct=1.0, slowdown_ci_high_pct=9.0,
              overhead_ns_per_op=50.0, overhead_ci_low_ns=10.0, overhead_ci_high_ns=90.0,
              blocks_used=2, blocks_dropped=0)


def _sweep(spec: str, drops: dict[str, float], slow: dict[str, float] | None = None,
           at_top: dict | None = None, workload: str = "process", mode: str = "user",
           kinds: dict[str, dict[str, float]] | None = None) -> list[dict]:
    """Rows of one backend over a rate sweep: one kind losing the given share of 10000
    events per rate (or ``kinds``: kind -> rate -> share), an old-style slowdown CI of
    ±1 around ``slow`` (0 by default), and ``at_top`` on the 10000/s cell."""
    rows = []
    for rate, drop in drops.items():
        losses = {k: v[rate] for k, v in kinds.items()} if kinds else {"proc_exec": drop}
        s = (slow or {}).get(rate, 0.0)
        fields = dict(sensor_cpu_pct=1.0, cpu_us_per_event=5.0, slowdown_pct=s,
                      slowdown_ci_low_pct=s - 1, slowdown_ci_high_pct=s + 1)
        if rate == "10000":
            fields.update(at_top or {})
        rows += cell_rows(spec, {k: dict(expected=10000, matched=round(10000 * (1 - d)))
                                 for k, d in losses.items()},
                          workload=workload, rate=rate, mode=mode, **fields)
    return rows


CLEAN = dict.fromkeys(RATES, 0.0)
# spec -> its rows' arguments, and the label and limit the sweep must give
CASES = {
    "psutil:c=drops": (dict(drops={"100": 0.0, "1000": 0.0005, "10000": 0.01}), "1,000–10,000", "drops"),
    # a lucky pass above a failure is noise, not capacity
    "psutil:c=lucky": (dict(drops={"100": 0.0, "1000": 0.01, "10000": 0.0}), "100–1,000", "drops"),
    "psutil:c=clean": (dict(drops=CLEAN), "≥ 10,000", ""),
    "psutil:c=fails": (dict(drops=dict.fromkeys(RATES, 0.5)), "< 100", "drops"),
    # overhead is a cost: +30 % per operation keeps up; past the material limit it does not
    "psutil:c=cost": (dict(drops=CLEAN, slow={"10000": 30.0}), "≥ 10,000", ""),
    "psutil:c=slow": (dict(drops=CLEAN, slow={"10000": 150.0}), "1,000–10,000", "slows"),
    # its baseline reached 10000/s: the sensor held the workload back
    "psutil:c=behind": (dict(drops=CLEAN, at_top=dict(rate_achieved=8000.0)),
                        "1,000–10,000", "behind"),
    # the workload fell 50 ms further behind its schedule, its baseline not at all
    "psutil:c=queues": (dict(drops=CLEAN, at_top=dict(schedule_lag_growth_ms=50.0)),
                        "1,000–10,000", "queues"),
    # the worst kind decides: proc_exit loses 0.2 % from 1000/s on while proc_exec loses
    # nothing; pooled over both kinds that is 0.1 %, which would still pass
    "psutil:c=worst": (dict(drops=CLEAN, kinds={"proc_exec": CLEAN, "proc_exit": {
        "100": 0.0, "1000": 0.002, "10000": 0.002}}), "100–1,000", "drops"),
    # Judged on the paired blocks, not on the one baseline: behind the baseline's 10000/s,
    # but the upper end of the rate ratio's interval (0.97) is within 95 % of it...
    "ebpf:c=ratio": (dict(drops=CLEAN, mode="kernel", at_top=dict(
        BLOCKS, rate_achieved=8000.0, rate_ratio_ci_high=0.97)), "≥ 10,000", ""),
    # ...and lagging 50 ms where the baseline did not, with the lag added over the blocks'
    # baselines at most 10 ms at the low end of its interval
    "ebpf:c=lag": (dict(drops=CLEAN, mode="kernel", at_top=dict(
        BLOCKS, schedule_lag_growth_ms=50.0, lag_growth_added_ci_low_ms=10.0)), "≥ 10,000", ""),
}
# On the workload 'process:slow' the baselines themselves reached only 8000/s and lagged
# 40 ms at 10000/s: judged on that one baseline the sensor below keeps up, on its blocks not.
SLOW_MACHINE = {
    "ebpf:c=ratio": (dict(at_top=dict(BLOCKS, rate_achieved=8000.0, rate_ratio_ci_high=0.90)),
                     "1,000–10,000", "behind"),
    "ebpf:c=lag": (dict(at_top=dict(BLOCKS, schedule_lag_growth_ms=50.0,
                                    lag_growth_added_ci_low_ms=25.0)), "1,000–10,000", "queues"),
    # Without blocks, a sensor as slow as the baselines did not fail: 10000/s was not
    # offered (the baselines reached 8000/s), so the generator, not the sensor, ended the
    # scan, at the rate below. (That a lag within 20 ms of the baselines' passes is
    # test_passes_judges_on_the_blocks_when_the_row_has_them.)
    "psutil:c=queues": (dict(at_top=dict(schedule_lag_growth_ms=50.0)),
                        "≥ 1,000 (generator limit)", ""),
    "psutil:c=behind": (dict(at_top=dict(rate_achieved=8000.0)), "≥ 1,000 (generator limit)", ""),
}


def _baselines(workload: str, top_rate: float = 10000.0, top_lag: float | None = None):
    return [r for rate in RATES for r in cell_rows(
        "baseline", workload=workload, rate=rate,
        rate_achieved=top_rate if rate == "10000" else float(rate),
        schedule_lag_growth_ms=top_lag if rate == "10000" else None)]


@pytest.fixture(scope="module")
def sweep(tmp_path_factory) -> RunData:
    rows = _baselines("process") + _baselines("process:slow", 8000.0, 40.0)
    for spec, (kw, _, _) in CASES.items():
        kw = dict(kw)
        rows += _sweep(spec, kw.pop("drops"), **kw)
    for spec, (kw, _, _) in SLOW_MACHINE.items():
        rows += _sweep(spec, CLEAN, workload="process:slow",
                       mode="kernel" if spec.startswith("ebpf") else "user", **kw)
    # closed loop has no offered rate: a failing 'max' cell changes nothing
    rows += cell_rows("psutil:c=clean", {"proc_exec": dict(matched=0)}, rate="max")
    # a control that sees none of the workload's kinds has no capacity to speak of
    for rate in RATES:
        rows += cell_rows("null_sensor", {"proc_exec": dict(status="unsupported")}, rate=rate,
                          sensor_cpu_s=0.1)
    # a backend that failed everywhere is listed, below the lowest rate
    for rate in RATES:
        rows += cell_rows("dead", {"proc_exec": dict(status="failed", reason="x")}, rate=rate)
    # a backend run only closed loop: nothing to say
    rows += cell_rows("looponly", rate="max")
    d = write_folder(tmp_path_factory.mktemp("sweep"), rows)
    return RunData.load(d)


@pytest.fixture(scope="module")
def found(sweep) -> dict[tuple[str, str], Sustainable]:
    return {(s.series, s.workload_spec): s for s in max_sustainable(sweep)}


@pytest.mark.parametrize("spec", CASES)
def test_max_sustainable_rate(found, spec):
    _, label, limit = CASES[spec]
    s = found[(spec, "process")]
    assert (s.label, s.limited_by, s.rates_tested, s.lowest) == (label, limit, 3, 100.0)
    # the drops-only scan is of the same series and workload
    assert (s.lossless.series, s.lossless.workload_spec) == (spec, "process")
    if limit in ("drops", ""):
        assert s.full_label == label
    else:   # something else than drops was the limit: the drops-only rate is shown too
        assert s.lossless.label == "≥ 10,000" and s.lossless.limited_by == ""
        assert s.full_label == f"{label} (lossless ≥ 10,000)"


@pytest.mark.parametrize("spec", SLOW_MACHINE)
def test_keeping_up_is_judged_on_the_paired_blocks_when_they_exist(found, spec):
    _, label, limit = SLOW_MACHINE[spec]
    s = found[(spec, "process:slow")]
    assert (s.label, s.limited_by) == (label, limit)


def test_falling_behind_the_target_rate_is_saturation(found):
    s = found[("psutil:c=behind", "process")]
    assert (s.rate, s.qualifier, s.limited_by) == (1000.0, "", "behind")
    assert (s.lossless.rate, s.lossless.qualifier) == (10000.0, ">=")


def test_series_that_see_nothing_are_left_out_and_failures_are_not(found):
    assert not any(series == "null_sensor" for series, _ in found)
    s = found[("dead", "process")]
    assert (s.label, s.rate, s.qualifier, s.limited_by) == ("< 100", None, "<", "failed")
    s = found[("looponly", "process")]
    assert (s.label, s.rates_tested, s.rate) == ("n/a", 0, None) and math.isnan(s.lowest)
    # no rate tested is no claim: not "never saturated in the sweep" (the chart hatches that)
    assert s.qualifier == "" and s.lossless.qualifier == ""


def test_table_is_series_by_workload_kernel_first(sweep, found):
    t = table(sweep)
    assert list(t.columns) == ["process", "process:slow"]
    ebpf = ["ebpf:c=lag", "ebpf:c=ratio"]
    assert list(t.index[:2]) == ebpf            # kernel mode first
    assert list(t.index[2:]) == sorted(t.index[2:])
    assert "null_sensor" not in t.index
    assert t.loc["psutil:c=slow", "process"] == "1,000–10,000 (lossless ≥ 10,000)"
    assert t.loc["psutil:c=behind", "process:slow"] == "≥ 1,000 (generator limit)"
    assert t.loc["dead", "process:slow"] == "n/a"   # never run on that workload


def test_table_of_nothing_is_empty(tmp_path):
    # only baselines, or only a backend that sees none of the workload's kinds
    run = RunData.load(write_folder(tmp_path / "b", cell_rows("baseline")))
    assert table(run).empty and max_sustainable(run) == []
    rows = cell_rows("null_sensor", {"proc_exec": dict(status="unsupported")})
    run = RunData.load(write_folder(tmp_path / "n", rows))
    assert table(run).empty and max_sustainable(run) == []


def test_the_runs_own_overhead_limit_is_applied(tmp_path):
    """A run judged with --overhead-limit 20: +30 % per operation at 10000/s is a limit."""
    rows = _sweep("psutil", CLEAN, slow={"10000": 30.0})
    run = RunData.load(write_folder(tmp_path / "r", rows, meta={
        "machine": MACHINE, "rules": {"overhead_limit_pct": 20.0}}))
    (s,) = max_sustainable(run)
    assert (s.label, s.limited_by, s.lossless.label) == ("1,000–10,000", "slows", "≥ 10,000")


# -- passes and the labels on their own ----------------------------------------------------
ROW = dict(status="ok", drop_rate_worst=0.0, rate_achieved=1000.0, rate_target="1000",
           baseline_rate_achieved=1000.0, slowdown_ci_low_pct=0.0)


def test_a_cell_that_did_not_run_fails_with_its_status():
    assert passes(pd.Series({**ROW, "status": "skipped"})) == (False, "skipped")
    assert passes(pd.Series({**ROW, "status": "unsupported"}), slowdown=False) == (
        False, "unsupported")


def test_passes_names_every_limit_hit_and_drops_only_keeps_drops():
    row = pd.Series({**ROW, "drop_rate_worst": 0.01, "rate_achieved": 500.0,
                     "slowdown_ci_low_pct": 150.0})
    assert passes(row) == (False, "drops+behind+slows")
    assert passes(row, slowdown=False) == (False, "drops")
    assert passes(pd.Series({**ROW, "rate_achieved": 500.0}), slowdown=False) == (True, "")
    assert passes(pd.Series(ROW)) == (True, "")


def test_passes_applies_the_overhead_limit_given():
    row = pd.Series({**ROW, "slowdown_ci_low_pct": 30.0})
    assert passes(row) == (True, "")
    assert passes(row, overhead_limit_pct=20.0) == (False, "slows")


def test_passes_judges_on_the_blocks_when_the_row_has_them():
    behind = {**ROW, "rate_achieved": 800.0}
    assert passes(pd.Series(behind)) == (False, "behind")
    assert passes(pd.Series({**behind, "rate_ratio_ci_high": 0.97})) == (True, "")
    lag = {**ROW, "schedule_lag_growth_ms": 50.0}
    assert passes(pd.Series(lag)) == (False, "queues")
    assert passes(pd.Series({**lag, "baseline_lag_growth_ms": 40.0})) == (True, "")
    assert passes(pd.Series({**lag, "baseline_lag_growth_ms": 40.0,
                             "lag_growth_added_ci_low_ms": 25.0})) == (False, "queues")


@pytest.mark.parametrize("rate,qual,n,failed,gen,label", [
    (1000.0, "", 3, 5000.0, False, "1,000–5,000"), (10000.0, ">=", 3, None, False, "≥ 10,000"),
    (1500.0, "", 2, 1650.0, False, "1,500–1,650"), (None, "<", 3, None, False, "< 100"),
    (None, "", 0, None, False, "n/a"), (4000.0, ">=", 3, None, True, "≥ 4,000 (generator limit)"),
    (None, "", 1, None, True, "n/a (generator limit)"),
])
def test_labels(rate, qual, n, failed, gen, label):
    s = Sustainable("s", "w", rate, qual, "", n, 100.0, failed=failed, generator_limit=gen)
    assert s.label == label


def test_full_label_adds_the_lossless_rate_only_when_it_differs():
    same = Sustainable("s", "w", 1000.0, "", "drops", 3, 100.0, failed=5000.0)
    s = Sustainable("s", "w", 1000.0, "", "drops", 3, 100.0, lossless=same, failed=5000.0)
    assert s.full_label == "1,000–5,000"
    assert Sustainable("s", "w", 1000.0, "", "drops", 3, 100.0).full_label == "1,000"
    s.lossless = Sustainable("s", "w", None, "<", "drops", 3, 100.0)
    assert s.full_label == "1,000–5,000 (lossless < 100)"


def test_judge_takes_every_limit_and_the_overhead_limit_given():
    slowed = pd.Series({**ROW, "slowdown_ci_low_pct": 30.0})
    assert judge(slowed) == (True, "")
    assert judge(slowed, True, 20.0) == (False, "slows")
    # slowdown is judged unless asked not to
    assert judge(pd.Series({**ROW, "rate_achieved": 500.0,
                            "baseline_rate_achieved": 1000.0})) == (False, "behind")
    assert judge(slowed, False, 20.0) == (True, "")


def test_a_row_without_a_baseline_rate_is_not_short_of_the_generator():
    # generator_short reads the baselines' rate with .get: a row may not carry it at all
    row = {k: v for k, v in ROW.items() if k != "baseline_rate_achieved"}
    assert not generator_short(pd.Series(row))


# -- one probe of a searched run, read from its folder -------------------------------------
@pytest.fixture
def probes(tmp_path):
    """Specs a and b at 1000, 2000 and 4000/s, judged with the run's overhead limit of
    20 %: b drops 1 % at 2000/s, a's overhead interval is above 20 % there, and at 4000/s
    the baselines reached only 3000/s."""
    rows = []
    for rate in ("1000", "2000", "4000"):
        rows += cell_rows("baseline", rate=rate,
                          rate_achieved=3000.0 if rate == "4000" else float(rate))
        slow = 30.0 if rate == "2000" else 0.0
        rows += cell_rows("a", rate=rate, slowdown_pct=slow, slowdown_ci_low_pct=slow - 1,
                          slowdown_ci_high_pct=slow + 1)
        rows += cell_rows("b", {"proc_exec": dict(matched=990 if rate == "2000" else 1000)},
                          rate=rate)
    return write_folder(tmp_path / "probes", rows, meta={
        "machine": MACHINE, "rules": {"overhead_limit_pct": 20.0}})


def test_a_probe_is_judged_on_its_own_combined_cell(probes):
    assert judge_probes(probes, [("b", "process", "2000"), ("b", "process", "1000"),
                                 ("a", "process", "2000"), ("a", "process", "1000"),
                                 ("a", "process", "4000")]) == [
        (False, "drops"), (True, ""), (False, "slows"), (True, ""),
        # the generator could not offer 4000/s: that decides nothing about the sensor
        (False, GENERATOR)]
    assert judge_probes(probes, []) == []


def test_a_probe_with_no_cell_has_no_result(probes, tmp_path):
    assert judge_probes(probes, [("b", "process", "500"), ("c", "process", "1000"),
                                 ("b", "file", "1000"), ("b", "process", "1000")]) == [
        (False, "no result")] * 3 + [(True, "")]
    # a folder holding only baselines has no combined cells at all
    only = write_folder(tmp_path / "only", cell_rows("baseline"))
    assert judge_probes(only, [("b", "process", "1000")]) == [(False, "no result")]


# -- the scan as a property -----------------------------------------------------------------
def _combined(verdicts: dict[float, bool]) -> SimpleNamespace:
    """A stand-in for a RunData whose combined cells pass or drop 1 % at each rate: the
    scan reads only ``cells`` and ``overhead_limit_pct``."""
    cells = pd.DataFrame([{**ROW, "series": "s", "workload_spec": "w", "rate_target": str(r),
                           "rate_achieved": r, "baseline_rate_achieved": r, "kinds_supported": 1,
                           "drop_rate_worst": 0.0 if ok else 0.01}
                          for r, ok in verdicts.items()])
    return SimpleNamespace(cells=cells, overhead_limit_pct=100.0, meta={})


verdict_sets = st.dictionaries(st.integers(1, 10**6).map(float), st.booleans(),
                               min_size=1, max_size=8)


@settings(max_examples=50)
@given(verdict_sets)
def test_every_lower_rate_passes(verdicts):
    (s,) = max_sustainable(_combined(verdicts))
    ordered = sorted(verdicts)
    passing_prefix = []
    for r in ordered:
        if not verdicts[r]:
            break
        passing_prefix.append(r)
    assert s.rate == (passing_prefix[-1] if passing_prefix else None)
    assert all(verdicts[r] for r in ordered if s.rate is not None and r <= s.rate)
    assert s.qualifier == ("<" if not passing_prefix else
                           ">=" if len(passing_prefix) == len(ordered) else "")
    assert s.rates_tested == len(ordered) and s.lowest == ordered[0]
    assert s.limited_by == ("" if all(verdicts.values()) else "drops")


@settings(max_examples=50)
@given(verdict_sets, st.floats(0.01, 0.99))
def test_a_failing_rate_above_the_max_cannot_raise_it(verdicts, where):
    (before,) = max_sustainable(_combined(verdicts))
    floor = before.rate if before.rate is not None else 0.0
    # a new rate anywhere above the max sustainable rate (and above every rate if need be)
    top = max(verdicts) * 2
    new = floor + where * (top - floor)
    if new in verdicts:
        return
    (after,) = max_sustainable(_combined({**verdicts, new: False}))
    assert after.rate == before.rate
    assert after.qualifier != ">="


def test_a_scan_the_generator_ended_names_no_limit(tmp_path):
    """Built here, not from the module's cached sweep: the generator, not the sensor,
    ended it, so nothing limited the sensor and no rate failed."""
    rows = [r for rate, got in (("100", 100.0), ("1000", 800.0)) for r in
            cell_rows("baseline", workload="process", rate=rate, rate_achieved=got)
            + cell_rows("psutil", workload="process", rate=rate, rate_achieved=got)]
    (s,) = max_sustainable(RunData.load(write_folder(tmp_path / "g", rows)))
    assert (s.rate, s.failed, s.limited_by, s.generator_limit) == (100.0, None, "", True)
    assert s.label == "≥ 100 (generator limit)"


def test_a_rate_the_generator_could_not_offer_below_a_failure_leaves_it_a_failure(tmp_path):
    """The lowest rate's baselines fell short (undecided), the next one the sensor failed:
    the answer is below that failure, not 'n/a'."""
    rows = []
    for rate, base, matched in (("100", 80.0, 1000), ("250", 250.0, 900), ("500", 500.0, 900)):
        rows += cell_rows("baseline", rate=rate, rate_achieved=base)
        rows += cell_rows("s", {"file_create": dict(expected=1000, matched=matched)},
                          rate=rate, rate_achieved=float(rate))
    (s,) = max_sustainable(RunData.load(write_folder(tmp_path / "g", rows)))
    assert (s.rate, s.qualifier, s.generator_limit, s.lowest) == (None, "<", False, 250.0)
    assert s.label == "< 250"
    # every rate undecided: nothing to say but the generator
    rows = [r for rate in ("100", "250") for r in
            cell_rows("baseline", rate=rate, rate_achieved=0.5 * float(rate))
            + cell_rows("s", rate=rate, rate_achieved=0.5 * float(rate))]
    (s,) = max_sustainable(RunData.load(write_folder(tmp_path / "h", rows)))
    assert s.label == "n/a (generator limit)"
    # with no rate decided, the lowest rate tested is the one named
    assert (s.lowest, s.generator_limit, s.rate) == (100.0, True, None)


def test_a_scan_of_no_rates_says_nothing_of_the_generator():
    import pandas as pd

    from bench.results.sustainable import _scan

    s = _scan("s", "file", pd.DataFrame({"_r": pd.Series(dtype=float)}), True)
    assert (s.rate, s.qualifier, s.rates_tested, s.generator_limit) == (None, "", 0, False)


def test_a_search_that_kept_up_at_its_cap_says_the_generator_was_the_limit(tmp_path):
    """The cap is 80 % of the generator's ceiling (1000 -> 800): kept up there, the answer
    is the generator's limit; the same cells without a search in the plan, or a sensor
    that kept up only below the cap, say nothing of the generator."""
    rows = []
    for rate in ("200", "800"):
        rows += cell_rows("baseline", rate=rate, rate_achieved=float(rate))
        rows += cell_rows("a", rate=rate, rate_achieved=float(rate))
        rows += cell_rows("b", {"proc_exec": dict(matched=990 if rate == "800" else 1000)},
                          rate=rate, rate_achieved=float(rate))
    ceiling = {"workloads": {"process": {"ops_per_s": 1000.2}}}
    searched = write_folder(tmp_path / "s", rows, meta={
        "machine": MACHINE, "plan": {"search": {"start": 200.0}}, "generator_ceiling": ceiling})
    got = {s.series: s for s in max_sustainable(RunData.load(searched))}
    assert got["a"].label == "≥ 800 (generator limit)"
    assert got["b"].label == "200–800" and not got["b"].generator_limit
    assert got["b"].lossless.label == "200–800"
    swept = write_folder(tmp_path / "f", rows, meta={
        "machine": MACHINE, "plan": {"rates": ["200", "800"]}, "generator_ceiling": ceiling})
    assert {s.series: s.label for s in max_sustainable(RunData.load(swept))}["a"] == "≥ 800"
    assert search_caps({"plan": {"search": {}}}) == {}   # an empty search plan: no search
    assert search_caps({"plan": {"search": {"start": 1.0}}, "generator_ceiling": {
        "workloads": {"file": {"ops_per_s": 10.0}, "x": {"status": "failed"}}}}) == {"file": 8.0}
    # a ceiling of 1 op/s still caps at one (a probe's rate is a whole number, at least 1)
    assert search_caps({"plan": {"search": {"start": 1.0}}, "generator_ceiling": {
        "workloads": {"slow": {"ops_per_s": 1.0}}}}) == {"slow": 1.0}
