"""Pooled latency percentiles from the rows' histograms (``latency_hist``): the repeats'
histograms added, the percentiles within the histograms' precision of the pooled raw
latencies, whatever sample ``events.parquet`` holds; rows without one pool the raw events
as folders did before histograms."""

from __future__ import annotations

import numpy as np
import pytest

from bench.analysis import latency_hist
from bench.analysis.metrics import LATENCY_COLUMNS, PERCENTILES
from bench.results.rundata import RunData
from tests.helpers.constructed import cell_rows, latency_events, write_folder

PRECISION = 1 / 2048
RNG = np.random.default_rng(11)
# per repeat, ns: a narrow body, a wide one, and a heavy tail
EXEC = {0: RNG.gamma(4, 5_000, 4000).astype(np.int64),
        1: RNG.lognormal(np.log(40_000), 1.5, 9000).astype(np.int64),
        2: (RNG.pareto(1.1, 2500) * 20_000).astype(np.int64)}
EXIT = {0: np.full(300, 7_000), 1: RNG.integers(1_000, 3_000_000, 700), 2: np.array([5])}


def _row(latency_ns, **own) -> dict:
    return {"matched": len(latency_ns),
            "latency_hist": latency_hist.encode(latency_hist.build(latency_ns)[0]), **own}


def _rows(hist: bool = True) -> list[dict]:
    rows = []
    for rep in EXEC:
        kinds = {"proc_exec": _row(EXEC[rep]), "proc_exit": _row(EXIT[rep])}
        if not hist:
            for own in kinds.values():
                own.pop("latency_hist")
        rows += cell_rows("psutil", kinds, repeat=rep)
    return rows


def _sample() -> list:
    """A sample unlike the whole: a few of repeat 0's latencies only."""
    return [latency_events("psutil", "proc_exec", EXEC[0][:5] / 1e3),
            latency_events("psutil", "proc_exit", EXIT[0][:5] / 1e3)]


def _kind(run: RunData, kind: str):
    k = run.kinds
    return k[k["kind"] == kind].iloc[0]


def _close(got: float, want: float) -> bool:
    return abs(got - want) <= want * PRECISION + 1e-9


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> RunData:
    return RunData.load(write_folder(tmp_path_factory.mktemp("h"), _rows(), _sample()))


@pytest.mark.parametrize("kind,raw", [("proc_exec", EXEC), ("proc_exit", EXIT)])
def test_kind_percentiles_are_read_off_the_repeats_histograms(run, kind, raw):
    pooled = np.concatenate(list(raw.values()))
    k = _kind(run, kind)
    for col, p in zip(LATENCY_COLUMNS, [*PERCENTILES.values(), 100]):
        assert _close(k[col], np.percentile(pooled, p) / 1e3), (col, k[col])
    assert run.notes == []


def test_cell_percentiles_pool_every_kind_and_repeat(run):
    pooled = np.concatenate([*EXEC.values(), *EXIT.values()])
    c = run.cells.iloc[0]
    assert _close(c["latency_p50_us"], np.percentile(pooled, 50) / 1e3)
    assert _close(c["latency_p99_us"], np.percentile(pooled, 99) / 1e3)


def test_latencies_are_every_one_recorded_at_its_buckets_middle(run):
    lat = run.latencies_us("psutil", "process", "1000", "proc_exec")
    pooled = np.sort(np.concatenate(list(EXEC.values()))) / 1e3
    assert len(lat) == len(pooled)
    assert np.all(np.abs(np.sort(lat) - pooled) <= pooled * PRECISION + 1e-9)
    both = run.latencies_us("psutil", "process", "1000")
    assert len(both) == len(pooled) + sum(len(v) for v in EXIT.values())
    assert len(run.latencies_us("psutil", "process", "2000")) == 0


def test_the_merged_histogram_holds_every_repeat(run):
    h = run.latency_hist("psutil", "process", "1000", "proc_exec")
    assert h.get_total_count() == sum(len(v) for v in EXEC.values())
    assert run.latency_hist("psutil", "process", "1000").get_total_count() == \
        sum(len(v) for v in (*EXEC.values(), *EXIT.values()))
    assert run.latency_hist("psutil", "process", "2000") is None


def test_histograms_pool_without_an_events_file(tmp_path):
    run = RunData.load(write_folder(tmp_path, _rows()))
    pooled = np.concatenate(list(EXEC.values()))
    assert _close(_kind(run, "proc_exec")["latency_p99_us"], np.percentile(pooled, 99) / 1e3)
    assert run.events is None and run.notes == []


def test_rows_without_histograms_pool_the_raw_events_as_before(tmp_path):
    run = RunData.load(write_folder(tmp_path, _rows(hist=False), _sample()))
    k = _kind(run, "proc_exec")
    sample = _sample()[0]["latency_ns"]
    assert k["latency_p50_us"] == pytest.approx(np.percentile(sample, 50) / 1e3)
    assert run.latency_hist("psutil", "process", "1000", "proc_exec") is None


def test_one_repeat_without_a_histogram_pools_the_raw_events(tmp_path):
    # a folder merged from a run before histograms and one after: the group cannot add
    # histograms it does not have all of, so it pools events.parquet's latencies
    rows = _rows()
    for r in rows:
        if r["repeat"] == 1:
            r.pop("latency_hist")
    run = RunData.load(write_folder(tmp_path, rows, _sample()))
    assert run.latency_hist("psutil", "process", "1000", "proc_exec") is None
    assert run.latency_hist("psutil", "process", "1000") is None
    assert _kind(run, "proc_exec")["latency_max_us"] == pytest.approx(
        _sample()[0]["latency_ns"].max() / 1e3)


def test_a_kind_whose_repeats_matched_nothing_has_no_pooled_percentiles(tmp_path):
    rows = []
    for rep in (0, 1):
        rows += cell_rows("psutil", {"proc_exec": {
            "matched": 0, "latency_p50_us": None,
            "latency_hist": latency_hist.encode(latency_hist.new())}}, repeat=rep)
    k = _kind(RunData.load(write_folder(tmp_path, rows)), "proc_exec")
    assert np.isnan(k["latency_p50_us"]) and np.isnan(k["latency_max_us"])


def test_pooled_percentiles_are_read_off_the_buckets_not_a_million_values(tmp_path,
                                                                           monkeypatch):
    # a reference run's group holds millions of latencies: the pooled percentiles never
    # spread a histogram into its values (what latencies_us does, for a quantile interval)
    def refuse(h):
        raise AssertionError("a histogram spread into its values")

    monkeypatch.setattr(latency_hist, "values", refuse)
    run = RunData.load(write_folder(tmp_path, _rows(), _sample()))
    pooled = np.concatenate(list(EXEC.values()))
    assert _close(_kind(run, "proc_exec")["latency_p50_us"], np.percentile(pooled, 50) / 1e3)
    both = np.concatenate([pooled, *EXIT.values()])
    assert _close(run.cells.iloc[0]["latency_p99_us"], np.percentile(both, 99) / 1e3)
