"""A searched run's rounds: one probe of each active search per round, the round's cells
paired as a fixed sweep's are (probes at the same workload x rate share baselines), and
each round judged at once."""

from __future__ import annotations

import io

from rich.console import Console

from bench.analysis.search import Probe, SearchSettings, rate_text
from bench.harness import spec
from bench.harness.searching import Search, round_cells, run_cost_blocks, run_searches


def _search(name: str, workload: str = "file", **settings) -> Search:
    return Search(spec.parse_backend(name), spec.parse_workload(workload),
                  SearchSettings(**settings))


def test_probes_at_the_same_workload_and_rate_share_baselines_block_by_block():
    a, b, c = _search("synthetic"), _search("null_sensor"), _search("synthetic:delay_us=5")
    other = _search("synthetic", "process")
    due = [(a, "1000"), (b, "1000"), (c, "4000"), (other, "1000")]
    cells = round_cells(due, range(2, 4), 0.5, "poisson", True)
    assert {x.repeat for x in cells} == {2, 3}
    # block by block: every cell of block 2 runs before any of block 3
    assert [x.repeat for x in cells] == sorted(x.repeat for x in cells)
    by_id = {x.id: x for x in cells}
    sensors = [x for x in cells if x.spec is not None]
    assert len(sensors) == 4 * 2
    for s in sensors:
        base = by_id[s.baseline_id]
        assert base.spec is None and s.spec in base.pairs
        assert (base.workload, base.rate, base.repeat) == (s.workload, s.rate, s.repeat)
        assert abs(cells.index(base) - cells.index(s)) == 1
    # a and b (file at 1000/s) share one baseline per block; c and other each have their own
    bases = [x for x in cells if x.spec is None]
    assert len(bases) == 3 * 2
    assert sorted(len(x.pairs) for x in bases) == [1, 1, 1, 1, 2, 2]


def test_without_baselines_each_probe_is_its_sensor_cells_alone():
    a, b = _search("synthetic"), _search("null_sensor")
    cells = round_cells([(a, "1000"), (b, "1000")], range(3), 0.5, "poisson", False)
    assert len(cells) == 6
    assert all(x.spec is not None and not x.baseline_id for x in cells)


def test_each_round_probes_every_active_search_once_and_is_judged_at_once():
    limits = {"synthetic": 5000, "null_sensor": 70_000}
    searches = [_search(n, start=1000, factor=4, resolution=0.5) for n in limits]
    rounds, judged = [], []

    def run_probes(due):
        rounds.append([(s.spec.text, rate) for s, rate in due])

    def judge(keys):
        judged.append(keys)
        return [(float(rate) <= limits[name], "" if float(rate) <= limits[name] else "drops")
                for name, _, rate in keys]

    out = run_searches(searches, run_probes, judge, Console(file=io.StringIO()))
    assert len(judged) == len(rounds)
    assert [len(r) for r in rounds] == [len(k) for k in judged]
    assert rounds[0] == [("synthetic", "1000"), ("null_sensor", "1000")]
    for r in rounds:   # one probe of each active search per round
        assert len({name for name, _ in r}) == len(r)
    for name, limit in limits.items():
        probes = out[f"{name}|file"]
        kept = max(p.rate for p in probes if p.passed)
        failed = min(p.rate for p in probes if not p.passed)
        assert kept <= limit < failed <= kept * 1.5
        assert all(p.reason == "drops" for p in probes if not p.passed)
    # the search with the lower limit finished first; the other went on alone
    assert rounds[-1] == [("null_sensor", rounds[-1][0][1])]


def test_a_search_with_nothing_left_to_probe_runs_no_round():
    s = _search("synthetic", start=1000, factor=4, resolution=0.5, ceiling=1000)
    calls = []
    out = run_searches([s], lambda due: calls.append(due),
                       lambda keys: [(True, "")] * len(keys), Console(file=io.StringIO()))
    assert len(calls) == 1 and [p.rate for p in out["synthetic|file"]] == [1000.0]


def test_a_calibration_arm_is_searched_only_when_it_can_fail_below_the_generator():
    from bench.harness.runner import _searchable

    file = spec.parse_workload("file")
    assert not _searchable(spec.parse_backend("synthetic"), file)
    assert not _searchable(spec.parse_backend("synthetic:delay_us=50,jitter_us=5"), file)
    for limited in ("capacity=3000", "work_us=20", "idle_pct=50", "drop=0.01"):
        assert _searchable(spec.parse_backend(f"synthetic:{limited}"), file), limited
    assert not _searchable(spec.parse_backend("null_sensor"), file)   # sees no kind


def _judge_by_blocks(limits: dict, blocks_seen: dict):
    """A judge that passes a rate below the backend's limit, where the limit drops to
    ``limits[name][1]`` once a rate has more than its first blocks (the cost blocks showed
    what the probe's own did not)."""
    def judge(keys):
        out = []
        for name, _, rate in keys:
            first, later = limits[name]
            limit = later if blocks_seen.get((name, rate), 0) > 1 else first
            out.append((float(rate) <= limit, "" if float(rate) <= limit else "behind"))
        return out
    return judge


def test_cost_blocks_go_to_each_kept_rate_and_a_verdict_they_overturn_reopens_the_search():
    # synthetic's top probe holds with its cost blocks; null_sensor's does not: with them
    # its limit is 20 000, so its search bisects below the overturned rate
    limits = {"synthetic": (5000, 5000), "null_sensor": (70_000, 20_000)}
    blocks_seen: dict = {}
    costed = []

    def run_probes(due, blocks=range(1), what=""):
        for s, rate in due:
            blocks_seen[(s.spec.text, rate)] = blocks_seen.get((s.spec.text, rate), 0) \
                + len(blocks)
        if what == "cost":
            costed.append(sorted((s.spec.text, rate) for s, rate in due))

    judge = _judge_by_blocks(limits, blocks_seen)
    searches = [_search(n, start=1000, factor=4, resolution=0.5, ceiling=64_000)
                for n in limits]
    run_searches(searches, run_probes, judge, Console(file=io.StringIO()))
    run_cost_blocks(searches, range(1, 3), run_probes, judge, Console(file=io.StringIO()))
    syn, null = (s.probes for s in searches)
    assert costed[0] == [("null_sensor", "64000"), ("synthetic", "4000")]
    # synthetic: cost blocks once, at its kept rate, which held
    assert [c for c in costed if ("synthetic", "4000") in c] == [costed[0]]
    assert max(p.rate for p in syn if p.passed) == 4000
    # null_sensor: 64 000 is now failed (behind), the bracket is the report's and holds
    # the limit its blocks show, and the cost blocks went on to the new kept rate
    assert [p for p in null if p.rate == 64_000] == [Probe(64_000, False, "behind")]
    kept = max(p.rate for p in null if p.passed)
    failed = min(p.rate for p in null if not p.passed)
    assert kept <= 20_000 < failed <= kept * 1.5
    assert costed[-1] == [("null_sensor", rate_text(kept))]
    assert len(costed) >= 2


def test_cost_blocks_with_nothing_kept_run_nothing():
    s = _search("synthetic", start=1000, factor=4, resolution=0.5, lowest=1000)
    s.probes = [Probe(1000, False, "drops")]
    calls = []
    run_cost_blocks([s], range(3, 6), lambda *a: calls.append(a),
                    lambda keys: [(True, "")] * len(keys), Console(file=io.StringIO()))
    assert calls == [] and s.probes == [Probe(1000, False, "drops")]
