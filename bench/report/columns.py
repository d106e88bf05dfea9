"""The columns of the cost and loss tables, each written once: its header, the cell it makes
of a row (a row of ``RunData.cells`` or ``RunData.kinds``) and what it means.

The report's summary, the Markdown page's headline and the terminal summary of ``run`` pick
their columns from ``CELL`` by name; the per-kind tables from ``KIND``. A table's
introduction is the legends of the columns it shows (``legend``), so a page never explains
a column it does not have.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from collections.abc import Callable

import pandas as pd

from bench.analysis.metrics import DROP_THRESHOLD, LATENCY_COLUMNS
from bench.core import fmt
from bench.report.present import Cell, Ival, Num, Text, backend
from bench.results.rundata import MARGINAL_FIELDS


@dataclass(frozen=True)
class Column:
    header: str
    get: Callable[[pd.Series], Cell]
    legend: str = ""


def _v(r, name: str) -> object:
    """A row's value (a missing column is unknown; fmt reads None and NA as unknown)."""
    return r.get(name, math.nan)


def marginal(r) -> Cell:
    """The marginal CPU per event as every table shows it (``r``: a row of
    ``RunData.cells``): the mean with the range its repeats' 95 % intervals lie in, or
    *not resolved* where that range holds zero (with its upper end when that is above
    zero: the most it can cost). Never a negative cost. One repeat of a folder from
    before the interval: the point, unless it is below zero."""
    p, lo, hi = (fmt.value_of(_v(r, c)) for c in MARGINAL_FIELDS)
    if math.isnan(p):
        return Num(p)
    if math.isnan(lo):
        return Num(p, 1) if p >= 0 else "not resolved"
    if lo > 0:
        return Ival(p, lo, hi, 1)
    return f"not resolved (≤ {fmt.number(hi, 1)})" if hi > 0 else "not resolved"


def _limit(r) -> Cell:
    """The limit a cell hit; for a cell that did not measure, its status."""
    if r["status"] != "ok":
        return Text(str(r["status"]), bad=True, title=str(r.get("reason") or ""))
    sat = r.get("saturation")
    return Text(str(sat), bad=True) if isinstance(sat, str) and sat else ""


def _status(r) -> Cell:
    st = str(r["status"])
    return st if st == "ok" else Text(st, bad=True, title=str(r.get("reason") or ""))


def _gap(r) -> Cell:
    v = fmt.value_of(_v(r, "counter_gap"))
    return Num(v, 0, sign=True, bad=v > 0)


def _kinds(r, parts: int) -> str:
    n = [r["kinds_seen"], r["kinds_supported"], r["kinds_total"]][:parts]
    return "/".join(str(int(x)) for x in n)


def _block(r, point: str, lo: str, hi: str, digits: int, scale: float = 1.0) -> Ival:
    return Ival(_v(r, point), _v(r, lo), _v(r, hi), digits, sign=True, scale=scale)


# one row per series x workload x rate (RunData.cells)
CELL: dict[str, Column] = {
    "backend": Column("backend", lambda r: backend(r["series"])),
    "mode": Column("mode", lambda r: str(r["mode"])),
    "workload": Column("workload", lambda r: str(r["workload_spec"])),
    "rate": Column("rate", lambda r: str(r["rate_target"])),
    "status": Column("status", _status),
    "kinds": Column("kinds seen/supp./all", lambda r: _kinds(r, 3),
                    "*kinds*: of the workload's kinds, those seen at all, of those the backend "
                    "supports"),
    "kinds_seen": Column("kinds seen/supp.", lambda r: _kinds(r, 2),
                         "*kinds*: those seen at all, of those the backend supports"),
    "drop": Column("drop %", lambda r: Num(_v(r, "drop_rate"), 2, scale=100),
                   "*drop*: events missed, pooled over repeats and supported kinds"),
    "worst_drop": Column("worst kind drop %", lambda r: Num(_v(r, "drop_rate_worst"), 2,
                                                            scale=100),
                         "*worst kind drop*: that of the kind missed most"),
    "p50": Column("p50 µs", lambda r: Num(_v(r, "latency_p50_us"), 0),
                  "*p50*, *p99*: latency `t_seen − t_issue`, percentiles of the raw events "
                  "of all repeats and kinds"),
    "p99": Column("p99 µs", lambda r: Num(_v(r, "latency_p99_us"), 0)),
    "machine": Column("machine CPU µs/op [95 % CI]",
                      lambda r: _block(r, "machine_cpu_us_per_op", "machine_cpu_ci_low_us",
                                       "machine_cpu_ci_high_us", 1),
                      "*machine CPU*: the total cost of sensing, the whole machine's busy CPU "
                      "per operation (kernel threads, interrupts and the sensor included) "
                      "minus its paired baseline's, with a t-interval over blocks"),
    "cpu_pct": Column("CPU %", lambda r: Num(_v(r, "sensor_cpu_pct"), 1),
                      "*CPU %*: the sensor's own CPU, in % of one core (for a third-party "
                      "tool, the tool's, never our parsing of its output)"),
    "cpu_event": Column("CPU µs/event", lambda r: Num(_v(r, "cpu_us_per_event"), 1),
                        "*CPU µs/event*: the sensor's own CPU per matched event (a tool's "
                        "own, never our parsing of its output)"),
    "idle": Column("idle CPU %", lambda r: Num(_v(r, "sensor_idle_cpu_pct"), 2),
                   "*idle*, *marginal*: the sensor's own CPU split into its cost when idle "
                   "and its cost per event above that"),
    "marginal": Column("marginal µs/event [range]", lambda r: marginal(r),
                       "*marginal*: the mean over the repeats with the range their 95 % "
                       "intervals lie in; *not resolved* where that range holds zero (with the "
                       "most it can cost): a cost is never negative"),
    "kernel": Column("kernel ns/event", lambda r: Num(_v(r, "kernel_ns_per_event"), 0),
                     "*kernel ns/event*: in-kernel eBPF run time (bpf_stats)"),
    "gap": Column("missed − self-reported", _gap,
                  "*missed − self-reported*: events the ground truth says were missed minus "
                  "what the backend's own loss counter says it lost; above 0, losses its "
                  "counter did not see (counters count in their own units: audit in records)"),
    "overhead": Column("overhead µs/op [95 % CI]",
                       lambda r: _block(r, "overhead_ns_per_op", "overhead_ci_low_ns",
                                        "overhead_ci_high_ns", 1, 1e-3),
                       "*overhead*: time added to each operation, from paired blocks (each "
                       "sensor cell next to a baseline cell of its own), with a t-interval "
                       "over the blocks"),
    "slowdown": Column("slowdown % [95 % CI]",
                       lambda r: _block(r, "slowdown_pct", "slowdown_ci_low_pct",
                                        "slowdown_ci_high_pct", 1),
                       "*slowdown*: the overhead as a ratio"),
    "limit": Column("limit", _limit),   # its legend depends on the run: limit_legend
    "repeats": Column("repeats", lambda r: Num(_v(r, "repeats"), 0)),
    "blocks": Column("blocks", lambda r: Num(_v(r, "blocks_used"), 0),
                     "*blocks*: the paired blocks the intervals are over"),
}


def limit_legend(overhead_limit_pct: float) -> str:
    return ("*limit*: whether any repeat failed to keep up: dropped more than "
            f"{DROP_THRESHOLD:.1%} of a kind (drops), fell short of its target rate (behind), "
            "fell further behind its schedule over the cell (queues), or had an overhead "
            f"interval wholly above {overhead_limit_pct:g} % (slows)")


def _latency(col: str) -> Callable[[pd.Series], Cell]:
    return lambda r: Num(_v(r, col), 0)


def _ok(r, cell: Cell) -> Cell:
    return cell if r["status"] == "ok" else fmt.DASH


# one row per series x workload x rate x kind (RunData.kinds)
KIND: dict[str, Column] = {
    "backend": CELL["backend"], "rate": CELL["rate"],
    "kind": Column("kind", lambda r: str(r["kind"])),
    "status": CELL["status"],
    "expected": Column("expected", lambda r: Num(_v(r, "expected"), 0)),
    "matched": Column("matched", lambda r: _ok(r, Num(_v(r, "matched"), 0))),
    "drop": Column("drop %", lambda r: Num(_v(r, "drop_rate"), 2, scale=100)),
    "duplicates": Column("dup.", lambda r: _ok(r, Num(_v(r, "duplicates"), 0))),
    "unmatched": Column("unmatched", lambda r: _ok(r, Num(_v(r, "unmatched"), 0))),
    "self_lost": Column("self-reported lost", lambda r: Num(_v(r, "self_reported_lost"), 0)),
    **{label: Column(f"{label} µs", _latency(col)) for col, label in LATENCY_COLUMNS.items()},
}
KIND_LATENCIES = list(LATENCY_COLUMNS.values())


def legend(columns: list[str], catalogue: dict[str, Column] = CELL) -> str:
    """The meaning of the columns shown, one clause each, in their order."""
    return "; ".join(catalogue[c].legend for c in columns if catalogue[c].legend)
