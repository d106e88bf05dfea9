"""Burst metrics (bench.analysis.bursts) on a constructed cell whose answer is worked out by
hand: which operations fall in a burst, the loss of each burst, how long after a burst's
end its last event came, and the latency of the base stretch after it; and their
repetitions combined (bench.results.bursts) on a constructed folder."""

from __future__ import annotations

import math

import numpy as np
import pytest

from bench.analysis.bursts import COLUMNS, burst_metrics
from bench.analysis.correlate import Correlation
from bench.core.kinds import Kind
from bench.results import bursts
from bench.results.rundata import RunData
from tests.helpers.constructed import cell_rows, write_folder
from workloads.pacing import Burst

MS = 1_000_000
T0 = 5_000 * MS
# 0.4 s base, then 0.1 s of burst, twice: bursts at [400, 500) and [900, 1000) ms
WINDOWS = Burst(100, 400, 20000).windows_ns(1.0)


def _cell(intended_ms, seen_ms, kind=Kind.file_create):
    """A cell of one kind: operations intended (and issued) at these ms after T0, each
    seen at the given ms after T0 (None: missed)."""
    t = T0 + np.asarray(intended_ms, dtype=np.int64) * MS
    truth = {"op": np.arange(len(t)), "kind": np.full(len(t), int(kind), np.int16),
             "t_intended": t, "t_issue": t}
    hit = [i for i, s in enumerate(seen_ms) if s is not None]
    events = {"t_seen": np.asarray([T0 + seen_ms[i] * MS for i in hit], dtype=np.int64)}
    corr = Correlation(np.asarray(hit, dtype=np.int64), np.arange(len(hit)), np.zeros(len(hit), bool),
                       np.zeros(len(hit), bool))
    return truth, events, corr


def test_each_burst_is_judged_on_its_own_operations():
    assert WINDOWS == [(400 * MS, 500 * MS), (900 * MS, 1000 * MS)]
    intended = [0, 100, 200, 300,            # base before the first burst: seen 1 ms late
                400, 420, 440, 460, 480,     # burst 1: two missed, the last seen 30 ms after
                500, 600, 700,               # base after it: 5, 3 and 1 ms late
                900, 950, 995]               # burst 2: all seen, inside the burst
    seen = [1, 101, 201, 301,
            None, 421, None, 470, 530,
            505, 603, 701,
            901, 951, 996]
    m = burst_metrics(*_cell(intended, seen), frozenset({Kind.file_create}), WINDOWS)
    assert m["bursts"] == 2
    assert m["burst_loss_worst"] == pytest.approx(2 / 5)
    assert m["burst_loss"] == pytest.approx(2 / 8)   # 995 ms is still in burst 2
    # burst 1's last event 30 ms after its end, burst 2's inside it (0): median 15, worst 30
    # (exactly: ns over 1e6)
    assert (m["burst_drain_ms"], m["burst_drain_max_ms"]) == (15.0, 30.0)
    # after burst 1: 5, 3, 1 ms late -> p99 4.96 ms; after burst 2 (until the schedule's
    # last operation): nothing intended there -> no value, so the median is burst 1's
    assert m["burst_recovery_p99_us"] == pytest.approx(np.percentile([5000, 3000, 1000], 99))
    assert m["burst_base_p99_us"] == pytest.approx(1000)


def test_recovery_runs_to_the_next_burst_and_after_the_last_to_the_last_operation():
    windows = Burst(100, 400, 20000).windows_ns(1.5)     # [400, 500), [900, 1000), [1400, 1500)
    intended = [0, 450, 600, 950, 1100, 1200, 1450, 1460, 1470]
    # late after burst 1 by 8 ms, after burst 2 by 2 and 4 ms; the ops after burst 3 are
    # still inside it (the schedule's last operation is at 1470 ms): nothing to recover
    seen = [1, 451, 608, 951, 1102, 1204, 1451, 1461, 1471]
    m = burst_metrics(*_cell(intended, seen), frozenset({Kind.file_create}), windows)
    assert m["bursts"] == 3
    recov = [8000.0, np.percentile([2000, 4000], 99)]
    assert m["burst_recovery_p99_us"] == pytest.approx(np.median(recov), rel=1e-9)


def test_after_the_last_burst_the_last_operation_is_recovery_too():
    # nothing after burst 1; after burst 2 ([900, 1000)) the schedule's last two operations
    intended = [0, 450, 950, 1001, 1002]
    seen = [1, 451, 951, 1002, 1009]      # 1 and 7 ms late
    m = burst_metrics(*_cell(intended, seen), frozenset({Kind.file_create}), WINDOWS)
    assert m["burst_recovery_p99_us"] == pytest.approx(np.percentile([1000, 7000], 99),
                                                       rel=1e-9)


def test_a_missed_operation_has_no_latency_and_a_zero_latency_counts():
    # base stretch: two events seen at their issue time exactly, one 5 ms late
    intended = [0, 100, 200, 450, 600, 700]
    seen = [0, 100, 205, 451, None, 703]   # after the burst: one missed, one 3 ms late
    m = burst_metrics(*_cell(intended, seen), frozenset({Kind.file_create}), WINDOWS[:1])
    assert m["burst_base_p99_us"] == pytest.approx(np.percentile([0, 0, 5000], 99), rel=1e-9)
    assert m["burst_recovery_p99_us"] == pytest.approx(3000.0)


def test_an_operation_at_a_bursts_first_instant_belongs_to_the_burst():
    intended = [0, 400, 450]               # 400 ms: the burst's first instant
    seen = [1, 420, 451]                   # 20 ms late: not the base stretch's latency
    m = burst_metrics(*_cell(intended, seen), frozenset({Kind.file_create}), WINDOWS[:1])
    assert m["burst_base_p99_us"] == pytest.approx(1000.0)
    assert m["bursts"] == 1 and m["burst_loss"] == 0.0


def test_a_burst_with_nothing_expected_is_skipped_not_the_end():
    intended = [0, 950]                    # nothing in burst 1, one op in burst 2
    m = burst_metrics(*_cell(intended, [1, None]), frozenset({Kind.file_create}), WINDOWS)
    assert (m["bursts"], m["burst_loss"]) == (1, 1.0)


def test_nothing_to_compute_raises_no_warning():
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        # every operation missed (the schedule's first, at 0, too): no drain, no recovery,
        # no base latency
        m = burst_metrics(*_cell([0, 450, 950], [None, None, None]),
                          frozenset({Kind.file_create}), WINDOWS)
    assert m["burst_loss_worst"] == 1.0
    assert all(math.isnan(m[c]) for c in ("burst_drain_ms", "burst_recovery_p99_us",
                                          "burst_base_p99_us"))


def test_kinds_the_backend_does_not_see_are_not_expected_of_it():
    truth, events, corr = _cell([0, 450], [None, None])
    m = burst_metrics(truth, events, corr, frozenset({Kind.proc_exec}), WINDOWS)
    assert all(math.isnan(m[c]) for c in COLUMNS)


def test_no_windows_or_no_operations_give_nothing():
    truth, events, corr = _cell([0, 450], [1, 451])
    assert all(math.isnan(v) for v in burst_metrics(truth, events, corr,
                                                    frozenset({Kind.file_create}), []).values())
    empty = _cell([], [])
    assert all(math.isnan(v) for v in burst_metrics(*empty, frozenset({Kind.file_create}),
                                                    WINDOWS).values())
    m = burst_metrics(truth, events, corr, frozenset({Kind.file_create}), WINDOWS)
    assert (m["bursts"], m["burst_loss"], m["burst_drain_ms"]) == (1, 0.0, 0.0)


def test_a_burst_wholly_missed_has_no_drain():
    m = burst_metrics(*_cell([0, 450, 460], [1, None, None]), frozenset({Kind.file_create}),
                      WINDOWS)
    assert m["burst_loss_worst"] == 1.0 and math.isnan(m["burst_drain_ms"])


# -- repetitions combined (bench.results.bursts) ----------------------------------------------
BURST_TEXT = "burst:on_ms=100,off_ms=400,peak=20000"


def _burst_cell(spec, repeat, rate="1000", mode="user", **m):
    """One cell of two kinds (its burst columns on both rows, as a run writes them)."""
    return cell_rows(spec, ("file_create", "file_write"), workload="file", rate=rate,
                     repeat=repeat, mode=mode, arrivals=BURST_TEXT, **m)


def test_repeats_combine_worst_pooled_median_and_worst(tmp_path):
    rows = (
        # listed first, so it comes first: series keep the run's order, not sorted
        _burst_cell("zeta", 0, mode="kernel", bursts=1, burst_loss_worst=0.0, burst_loss=0.0,
                    burst_drain_ms=1.0, burst_drain_max_ms=2.0, burst_recovery_p99_us=100.0,
                    burst_base_p99_us=90.0)
        + _burst_cell("alpha", 0, bursts=4, burst_loss_worst=0.5, burst_loss=0.2,
                      burst_drain_ms=10.0, burst_drain_max_ms=30.0,
                      burst_recovery_p99_us=400.0, burst_base_p99_us=100.0)
        + _burst_cell("alpha", 1, bursts=3, burst_loss_worst=0.3, burst_loss=0.1,
                      burst_drain_ms=20.0, burst_drain_max_ms=25.0,
                      burst_recovery_p99_us=600.0, burst_base_p99_us=120.0)
        + _burst_cell("alpha", 2, bursts=4, burst_loss_worst=0.1, burst_loss=0.3,
                      burst_drain_ms=60.0, burst_drain_max_ms=70.0,
                      burst_recovery_p99_us=500.0, burst_base_p99_us=110.0)
        # no bursts in these: a baseline, and a cell of a run without them
        + cell_rows("baseline", ("file_create",), workload="file", arrivals=BURST_TEXT)
        + _burst_cell("alpha", 0, rate="2000", bursts=0)
    )
    t = bursts.table(RunData.load(write_folder(tmp_path / "r", rows)))
    assert list(t["series"]) == ["zeta", "alpha"]
    a = t.set_index("series").loc["alpha"]
    assert (a["workload_spec"], a["rate_target"], a["mode"], a["arrivals"]) == (
        "file", "1000", "user", BURST_TEXT)
    assert (a["repeats"], a["bursts"]) == (3, 11)          # cells, not rows of kinds
    assert a["loss_worst"] == 0.5                           # the worst of any repeat
    assert a["loss"] == pytest.approx(0.2)                  # the mean of the repeats'
    assert (a["drain_ms"], a["drain_max_ms"]) == (20.0, 70.0)     # median, worst
    assert (a["recovery_p99_us"], a["base_p99_us"]) == (500.0, 110.0)   # medians
    z = t.set_index("series").loc["zeta"]
    # a cell of a single burst counts
    assert (z["mode"], z["repeats"], z["bursts"], z["loss_worst"], z["drain_max_ms"]) == (
        "kernel", 1, 1, 0.0, 2.0)


def test_a_run_without_bursts_has_no_table(tmp_path):
    plain = cell_rows("alpha", ("file_create",), workload="file")
    assert bursts.table(RunData.load(write_folder(tmp_path / "p", plain))).empty
    none = _burst_cell("alpha", 0, bursts=0)
    assert bursts.table(RunData.load(write_folder(tmp_path / "n", none))).empty


def test_the_reference_page_shows_the_burst_run_published_next_to_it(tmp_path):
    """results/README.md (a run without bursts) takes the bursts table from results/bursts,
    with a link to that run's page; without such a folder it has no bursts section."""
    from bench.report.markdown import _sibling_bursts

    ref = RunData.load(write_folder(tmp_path / "reference",
                                    cell_rows("alpha", ("file_create",), workload="file")))

    def link(p):
        return str(p.relative_to(tmp_path))

    assert _sibling_bursts(ref, link) == []
    write_folder(tmp_path / "bursts", _burst_cell(
        "alpha", 0, bursts=2, burst_loss_worst=0.5, burst_loss=0.25, burst_drain_ms=3.0,
        burst_drain_max_ms=4.0, burst_recovery_p99_us=50.0, burst_base_p99_us=40.0))
    lines = _sibling_bursts(ref, link)
    assert lines[0] == "## Bursts: loss and recovery"
    assert "[bursts/README.md](bursts/README.md)" in lines[2]
    table = [ln for ln in lines if ln.startswith("| `alpha`")]
    assert len(table) == 1 and "| 50.00 |" in table[0] and "| 25.00 |" in table[0]
