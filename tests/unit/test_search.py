"""Searched saturation: which rate a search probes next, where it stops, and the settings
a user can give it (``bench.analysis.search``), on probes with chosen verdicts."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings, strategies as st

from bench.analysis.search import (GENERATOR, Probe, SearchSettings, kept_rate, next_rate, parse,
                                   rate_text)
from bench.core.errors import BadInput


def _search(limit: float, s: SearchSettings, generator: float = math.inf) -> list[Probe]:
    """Every probe of a search against a sensor that keeps up to ``limit`` ops/s, with a
    generator that offers up to ``generator``."""
    probes: list[Probe] = []
    while (r := next_rate(s, probes)) is not None:
        assert len(probes) < 40, "a search must end"
        if r > generator:
            probes.append(Probe(r, False, GENERATOR))
        else:
            probes.append(Probe(r, r <= limit, "" if r <= limit else "drops"))
    return probes


def _bracket(probes: list[Probe]) -> tuple[float | None, float | None]:
    kept = max((p.rate for p in probes if p.passed), default=None)
    failed = min((p.rate for p in probes if not p.passed), default=None)
    return kept, failed


def test_steps_up_by_the_factor_then_bisects_to_the_resolution():
    probes = _search(5000, SearchSettings())
    assert [p.rate for p in probes] == [1000, 4000, 16000, 8000, 5657, 4757, 5188]
    assert _bracket(probes) == (4757, 5188)


def test_steps_down_while_the_start_fails_and_stops_at_the_lowest_rate():
    assert [p.rate for p in _search(700, SearchSettings())] == [1000, 250, 500, 707, 595, 649]
    probes = _search(10, SearchSettings(lowest=50))
    assert [p.rate for p in probes] == [1000, 250, 62, 50]
    assert _bracket(probes) == (None, 50)
    # with no lowest rate given, down to one operation a second and no further
    assert [p.rate for p in _search(0.5, SearchSettings())] == [1000, 250, 62, 16, 4, 1]


def test_never_probes_above_the_generator_ceiling():
    probes = _search(math.inf, SearchSettings(ceiling=150000))
    assert [p.rate for p in probes] == [1000, 4000, 16000, 64000, 150000]
    assert all(p.passed for p in probes)


def test_a_rate_the_generator_could_not_offer_bounds_the_search_like_a_failure():
    probes = _search(math.inf, SearchSettings(), generator=60000)
    assert [p.rate for p in probes] == [1000, 4000, 16000, 64000, 32000, 45255, 53817, 58688]
    assert probes[3].reason == GENERATOR
    assert _bracket(probes) == (58688, 64000)


def test_the_first_probe_is_the_start_capped_at_the_ceiling():
    assert next_rate(SearchSettings(start=500), []) == 500
    assert next_rate(SearchSettings(start=500, ceiling=300.4), []) == 300


@settings(max_examples=60)
@given(limit=st.floats(1, 1e6), start=st.floats(50, 1e5),
       factor=st.floats(1.5, 8), resolution=st.floats(0.02, 0.5))
def test_the_bracket_holds_the_limit_within_the_resolution(limit, start, factor, resolution):
    s = SearchSettings(start=start, factor=factor, resolution=resolution, lowest=50)
    probes = _search(limit, s)
    kept, failed = _bracket(probes)
    # every probe that kept up lies below every one that failed: the verdicts agree
    assert all(p.rate < q.rate for p in probes if p.passed for q in probes if not q.passed)
    if kept is None:        # the limit is below the lowest rate
        assert failed == 50 and limit < 50
    elif failed is None:    # cannot happen without a ceiling: the steps go on up
        pytest.fail("a search without a ceiling ended without a failure")
    else:
        assert kept <= limit < failed
        # to the resolution, but for rates rounded to whole ops/s
        assert failed <= kept * (1 + resolution) + 1


def test_rates_are_whole_numbers_as_cell_ids_hold_them():
    assert [rate_text(r) for r in (16000.0, 1e6, 2.5)] == ["16000", "1000000", "2.5"]


def test_settings_are_read_from_the_rate_spec():
    assert parse("search") == SearchSettings()
    assert parse("search:start=500,resolution=0.05") == SearchSettings(start=500, resolution=0.05)


@pytest.mark.parametrize("text,says", [
    ("search:resolution=0", "must be > 0"), ("search:resolution=-1", "must be > 0"),
    ("search:factor=1", "must be > 1"), ("search:start=10,lowest=50", "below lowest"),
    ("search:x=1", "no setting 'x'"), ("searc", "'max' or 'search'"),
])
def test_bad_settings_are_one_line(text, says):
    with pytest.raises(BadInput, match=says):
        parse(text)


def test_bad_settings_say_what_and_where_in_full():
    def said(text):
        with pytest.raises(BadInput) as e:
            parse(text)
        return str(e.value)

    assert said("search:factor=1") == "bad value for search:factor=1: must be > 1"
    assert said("search:x=1") == ("rate 'search' has no setting 'x' "
                                  "(settings: start, factor, resolution, lowest, cost_blocks)")
    assert said("searc") == "bad rate 'searc': give operations per second, 'max' or 'search'"
    assert said("search:start=10,lowest=50") == (
        "bad rate spec 'search:start=10,lowest=50': start (10) is below lowest (50)")


def test_a_factor_just_above_one_and_a_start_at_the_lowest_rate_are_accepted():
    assert parse("search:factor=1.5").factor == 1.5
    assert parse("search:factor=2").factor == 2.0
    assert parse("search:start=50,lowest=50") == SearchSettings(start=50, lowest=50)


def test_the_search_stops_when_the_bracket_is_exactly_the_resolution_wide():
    # 1250 = 1000 x (1 + 0.25) exactly: within the resolution, so no midpoint is probed
    s = SearchSettings(resolution=0.25)
    assert next_rate(s, [Probe(1000, True), Probe(1250, False)]) is None
    assert next_rate(s, [Probe(1000, True), Probe(1260, False)]) == 1122


def test_a_midpoint_that_rounds_onto_an_end_of_the_bracket_ends_the_search():
    # rates are whole ops/s: between 1 and 2 (wider than 1 %) the midpoint rounds to 1,
    # and between 1.9 and 2 it rounds to 2: a rate already probed is never probed again
    s = SearchSettings(resolution=0.01)
    assert next_rate(s, [Probe(1, True), Probe(2, False)]) is None
    assert next_rate(s, [Probe(1.9, True), Probe(2, False)]) is None
    assert next_rate(s, [Probe(10, True), Probe(13, False)]) == 11


# -- the verdict a probe gets: the read model's rule ------------------------------------------
ROW = dict(status="ok", drop_rate_worst=0.0, rate_achieved=1000.0, rate_target="1000",
           baseline_rate_achieved=1000.0, slowdown_ci_low_pct=0.0)


def test_a_rate_the_baselines_could_not_reach_decides_nothing_unless_the_sensor_failed():
    import pandas as pd

    from bench.results.sustainable import generator_short, judge

    assert judge(pd.Series(ROW)) == (True, "")
    short = {**ROW, "baseline_rate_achieved": 940.0, "rate_achieved": 940.0}
    assert generator_short(pd.Series(short))
    assert not generator_short(pd.Series({**short, "baseline_rate_achieved": 950.0}))
    assert not generator_short(pd.Series({**short, "rate_target": "max"}))
    assert not generator_short(pd.Series({**short, "baseline_rate_achieved": math.nan}))
    assert judge(pd.Series(short)) == (False, GENERATOR)
    # a sensor that dropped events at a rate the generator could not fully offer failed
    assert judge(pd.Series({**short, "drop_rate_worst": 0.01})) == (False, "drops")


# -- the command line refuses what cannot search, in one line --------------------------------
@pytest.mark.parametrize("args,needle", [
    (["-r", "search:resolution=0"], "search:resolution=0: must be > 0"),
    (["-r", "search:factor=0.5"], "search:factor=0.5: must be > 1"),
    (["-r", "search,search:start=500"], "-r names 2 searches: give one"),
    (["-r", "search:start=100", "-d", "0.5"], "start 100 gives fewer than 100 operations"),
    (["-r", "searching"], "'max' or 'search'"),
    (["-r", "1000", "--arrivals", "burst:on_ms=100,off_ms=400,peak=800"],
     "peak 800 is not above the base rate -r 1000"),
    (["--arrivals", "burst:on_ms=100"], "burst needs off_ms, peak"),
    (["--arrivals", "bursty"], "poisson, uniform or burst:on_ms=A,off_ms=B,peak=P"),
])
def test_the_cli_refuses_a_bad_search_or_burst_in_one_line(tmp_path, args, needle):
    from tests.helpers import assert_run_refused

    assert_run_refused(tmp_path / "o", *args, says=needle)


def test_the_kept_rate_is_the_highest_that_kept_up():
    assert kept_rate([Probe(1000, True), Probe(4000, False), Probe(2000, True)]) == 2000
    assert kept_rate([Probe(1000, False, "drops")]) is None
    assert parse("search:cost_blocks=0").cost_blocks == 0
    with pytest.raises(BadInput, match="must be >= 0"):
        parse("search:cost_blocks=-1")


def test_a_search_is_capped_at_a_whole_share_of_each_measured_ceiling():
    from bench.analysis.search import CEILING_SHARE, caps

    found = {"workloads": {"file": {"ops_per_s": 100_000.4}, "slow": {"ops_per_s": 1.0},
                           "failed": {"status": "failed", "reason": "x"}}}
    assert caps(found) == {"file": round(100_000.4 * CEILING_SHARE), "slow": 1.0}
    assert caps({}) == {} and caps({"workloads": None}) == {}
