"""What ``run`` prints at its end and the report's per-kind detail, on constructed folders
(``tests.helpers.constructed``) whose answer is known: one row per backend x workload x
rate, a backend that sees none of a workload's kinds named once instead of rows of dashes,
its unsupported kinds said once, and the sentence that ranks backends only where their
intervals are apart."""

from __future__ import annotations

import pytest
from rich.console import Console

from bench.report import sections, terminal
from bench.report.present import Details, Para, Table
from bench.report.ranking import Estimate, ranking
from bench.results.rundata import RunData
from tests.helpers.constructed import cell_rows, write_folder

KINDS = ("proc_exec", "proc_exit")
RATES = ("1000", "5000")
# CPU µs per event of the three repeats: kern's and slow's t-intervals are apart
# ([9.3, 11.7] and [38.5, 43.5]), near's and half's overlap kern's ([4.5, 19.5])
CPU = {"kern": (10.0, 10.5, 11.0), "slow": (40.0, 41.0, 42.0), "near": (9.0, 12.0, 15.0),
       "half": (9.0, 12.0, 15.0),
       "synthetic": (1.0, 1.0, 1.0)}
MODE = {"kern": "kernel", "slow": "user", "near": "user", "synthetic": "calibration",
        "blind": "user", "half": "user"}


# the CPU resolution is two clock ticks, pinned to 10 ms each
pytestmark = pytest.mark.usefixtures("ten_ms_ticks")


def _rows(workload: str, cpu: dict[str, tuple[float, ...]]) -> list[dict]:
    rows = []
    for rate in RATES:
        for rep in range(3):
            for spec, mode in MODE.items():
                if spec == "blind":
                    kinds = {k: {"status": "unsupported", "matched": None} for k in KINDS}
                elif spec == "half":
                    kinds = {"proc_exec": {}, "proc_exit": {"status": "unsupported",
                                                            "matched": None}}
                else:
                    kinds = KINDS
                c = cpu.get(spec, (20.0, 20.0, 20.0))[rep]
                rows += cell_rows(spec, kinds, workload=workload, rate=rate, repeat=rep,
                                  mode=mode, cpu_us_per_event=c, sensor_cpu_s=0.5,
                                  sensor_cpu_pct=5.0, sensor_cpu_source="cgroup",
                                  latency_p50_us=100.0, latency_p99_us=900.0)
    return rows


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> RunData:
    # process: kern and slow apart; file: every interval overlaps every other
    rows = _rows("process", CPU) + _rows("file", {s: (10.0, 20.0, 30.0) for s in MODE})
    return RunData.load(write_folder(tmp_path_factory.mktemp("summary") / "r", rows))


def _table(section) -> Table:
    return next(b for b in section.blocks if isinstance(b, Table))


def test_one_row_per_backend_workload_and_rate(run):
    for wl in ("process", "file"):
        t = _table(sections.costs(run, wl))
        got = [(str(r[0]), r[1]) for r in t.rows]
        measured = [s for s in ("kern", "near", "slow", "half", "synthetic")]
        assert sorted(got) == sorted((s, rate) for s in measured for rate in RATES)
        assert t.columns == ["backend", "rate", "kinds seen/supp.", "worst kind drop %",
                             "p50 µs", "p99 µs", "CPU µs/event", "machine CPU µs/op [95 % CI]",
                             "limit"]
        assert dict((str(r[0]), r[2]) for r in t.rows)["half"] == "1/1"


def test_a_backend_that_sees_nothing_is_named_once(run):
    s = sections.costs(run, "process")
    assert all(str(r[0]) != "blind" for r in _table(s).rows)
    paras = [b.text for b in s.blocks if isinstance(b, Para)]
    assert "sees none of its kinds: `blind`" in paras


def test_ranking_only_where_the_intervals_are_apart(run):
    said = " ".join(p.text for p in sections.costs(run, "process").blocks
                    if isinstance(p, Para) and "used" in p.text)
    assert said.count("`kern` used") == 2          # once per rate
    assert "less CPU per event than `slow`" in said
    assert "`near`" not in said and "`half`" not in said   # overlap kern: no claim
    assert "synthetic" not in said                 # a control is not a sensor
    assert said.startswith("At 1000 ops/s: `kern` used 3.9 × [3.3–4.7] less CPU per event")
    file = sections.costs(run, "file").blocks
    assert not [p for p in file if isinstance(p, Para) and "used" in p.text]


@pytest.mark.parametrize("items,expect", [
    ([Estimate("a", 10, 9, 11), Estimate("b", 40, 38, 42)],
     "`a` used 4.0 × [3.5–4.7] less CPU per event than `b`."),
    ([Estimate("a", 10, 9, 11), Estimate("b", 12, 10.5, 13)], ""),      # overlapping
    ([Estimate("a", 10, 9, 11), Estimate("b", 40, 38, 42), Estimate("c", 50, 10, 90)],
     "`a` used 4.0 × [3.5–4.7] less CPU per event than `b`."),          # c overlaps a
    ([Estimate("a", 1, -1, 3), Estimate("b", 40, 38, 42)], ""),         # a ratio needs > 0
    ([Estimate("a", 10, float("nan"), float("nan")), Estimate("b", 40, 38, 42)], ""),
    ([Estimate("a", 10, 9, 11)], ""),
    ([Estimate("b", 40, 38, 42), Estimate("a", 10, 9, 11), Estimate("c", 200, 150, 250)],
     "`a` used 4.0 × [3.5–4.7] less CPU per event than `b`, 20 × [14–28] less than `c`."),
])
def test_ranking_sentence(items, expect):
    assert ranking(items, "CPU per event") == expect


def test_unsupported_kinds_are_said_once_not_as_rows(run):
    s = sections.kinds(run, "process")
    (details,) = s.blocks
    assert isinstance(details, Details)
    table, missing = details.blocks
    assert all(r[3] != "unsupported" for r in table.rows)
    assert {str(r[0]) for r in table.rows} == {"kern", "near", "slow", "half", "synthetic"}
    assert len(table.rows) == (4 * 2 + 1) * len(RATES)     # kinds each supports, per rate
    assert missing.items == ["`blind` sees none of them", "`half` does not see: proc_exit"]
    one_rate = sections.kinds(run, "process", ["1000"]).blocks[0]
    assert len(one_rate.blocks[0].rows) == 4 * 2 + 1 and "at 1000 ops/s" in one_rate.summary


def test_terminal_summary_fits_one_screen_a_workload(run):
    con = Console(width=160, record=True, color_system=None)
    terminal.summary(run, con)
    text = con.export_text()
    for wl in ("process", "file"):
        assert f"Workload {wl}" in text
    assert text.count("unsupported") == 0
    assert len(text.splitlines()) < 2 * 40
    con = Console(width=160, record=True, color_system=None)
    terminal.summary(run, con, detail=True)
    detail = con.export_text()
    assert "`half` does not see: proc_exit" not in detail   # markup rendered, not shown
    assert "half does not see: proc_exit" in detail
