"""Per-kind metrics of one cell: drops, duplicates, latency percentiles, and the saturation
rule that judges keeping up (its intervals come from ``blocks``).

Latency is ``t_seen - t_issue`` (the contract), also against ``t_intended`` (open loop: time
the workload itself was held up counts) and ``t_seen - t_kernel`` (delivery) where the
backend gives a kernel timestamp. Percentiles are never averaged across cells: each row
carries the histogram of its latencies (``latency_hist``), and callers that merge cells
add the histograms and read the percentiles off the sum (``hist_percentiles_us``); rows
written before rows had one are merged through their raw latencies. Matches that
time nothing (a partial key whose event may precede its operation, ``Correlation.timed``)
count as matched and are left out of both latencies from the operation (their delivery,
the event's own, stays); each row names the key its kind was matched on (``match_key``).
"""

from __future__ import annotations

import math

import numpy as np

from bench.analysis import latency_hist
from bench.analysis.correlate import Correlation
from bench.core.kinds import Kind
from bench.core.partialkey import FULL

# The latency percentiles every table reports (the one place they are listed): per cell
# here, pooled over repeats by bench.results.rundata, both through ``percentiles_us``.
PERCENTILES = {"p50": 50, "p90": 90, "p99": 99, "p999": 99.9}
# their columns, and the max, with the label a table heads them with
LATENCY_COLUMNS = {**{f"latency_{k}_us": f"p{v:g}" for k, v in PERCENTILES.items()},
                   "latency_max_us": "max"}
NAN = float("nan")


def percentiles_us(values: np.ndarray, ns_per_value: float = 1.0) -> dict[str, float]:
    """``latency_<p>_us`` for every percentile, and ``latency_max_us``, of latencies given
    in ns (``ns_per_value`` 1) or in another unit (1000 for µs); NaN when there are none."""
    if len(values) == 0:
        return _latency_columns(np.full(len(LATENCY_COLUMNS), NAN))
    # the max is the 100th percentile
    return _latency_columns(np.percentile(values, [*PERCENTILES.values(), 100])
                            * (ns_per_value / 1e3))


def hist_percentiles_us(h) -> dict[str, float]:
    """The columns of ``percentiles_us`` from a latency histogram (``latency_hist``, ns):
    each within the histogram's precision of what its raw latencies give."""
    return _latency_columns(latency_hist.percentiles_ns(h, [*PERCENTILES.values(), 100])
                            / 1e3)


def _latency_columns(q_us: np.ndarray) -> dict[str, float]:
    return {col: float(v) for col, v in zip(LATENCY_COLUMNS, q_us)}


def percentile_us(values: np.ndarray, p: float, ns_per_value: float = 1.0) -> float:
    """One percentile in µs (NaN when there are no values), units as ``percentiles_us``."""
    return float(np.percentile(values, p)) * ns_per_value / 1e3 if len(values) else NAN


def matched_latencies(truth: dict, events: dict, corr: Correlation) -> dict[str, np.ndarray]:
    """Per matched event: kind, op, its three latencies in ns (delivery -1 if unknown) and
    whether the first two time anything (``timed``). A match under a partial key whose
    event may come before its operation (the open before a write) does not: its event
    reports what enabled the operation. Its delivery (kernel to consumer) is the event's
    own and stays."""
    ti, ei = corr.truth_idx, corr.event_idx
    t_seen = events["t_seen"][ei]
    t_kernel = events["t_kernel"][ei]
    return {
        "kind": truth["kind"][ti].astype(np.int16),
        "op": truth["op"][ti],
        "latency_ns": t_seen - truth["t_issue"][ti],
        "latency_intended_ns": t_seen - truth["t_intended"][ti],
        "delivery_ns": np.where(t_kernel >= 0, t_seen - t_kernel, -1),
        "timed": corr.timed_matches(),
    }


def per_kind(truth: dict, events: dict, corr: Correlation, supported: frozenset,
             lat: dict[str, np.ndarray] | None = None) -> list[dict]:
    """One row per kind the workload expected (its own kinds, in Kind order)."""
    if lat is None:
        lat = matched_latencies(truth, events, corr)
    rows = []
    ev_kind = events["kind"]
    for kind in sorted(set(int(k) for k in np.unique(truth["kind"]))):
        name = Kind(kind).name
        expected = int((truth["kind"] == kind).sum())
        row = {"kind": name, "expected": expected}
        if kind not in supported:
            row.update(status="unsupported", reason="backend does not report this kind",
                       matched=0, drop_rate=NAN, duplicates=0, unmatched=0, match_key="")
            row.update(percentiles_us(np.empty(0)))
            rows.append(row)
            continue
        m = lat["kind"] == kind
        timed = m & lat["timed"]   # untimed matches count, but have no latency
        lat_ns = lat["latency_ns"][timed]
        matched = int(m.sum())
        row.update(
            status="ok", reason="", match_key=corr.match_key.get(kind, FULL),
            matched=matched,
            drop_rate=(expected - matched) / expected,   # a kind of the truth: >= 1
            duplicates=int((corr.duplicate & (ev_kind == kind)).sum()),
            unmatched=int((corr.unmatched_marked & (ev_kind == kind)).sum()),
        )
        row.update(percentiles_us(lat_ns))
        hist, outside = latency_hist.build(lat_ns)
        row["latency_hist"] = latency_hist.encode(hist)
        row["latency_out_of_range"] = outside
        li = lat["latency_intended_ns"][timed]
        row["latency_intended_p50_us"] = percentile_us(li, 50)
        row["latency_intended_p99_us"] = percentile_us(li, 99)
        d = lat["delivery_ns"][m]
        d = d[d >= 0]
        row["delivery_p50_us"] = percentile_us(d, 50)
        row["delivery_p99_us"] = percentile_us(d, 99)
        rows.append(row)
    return rows


def op_times(truth: dict, closed_loop: bool) -> np.ndarray:
    """Time per operation (ns): service time (t_done - t_issue) in open loop; the interval
    between consecutive operations in closed loop (1 / throughput)."""
    ops, first = np.unique(truth["op"], return_index=True)
    if len(ops) == 0:
        return np.empty(0, np.int64)
    if closed_loop:
        starts = np.sort(truth["t_issue"][first])
        return np.diff(starts)
    return (truth["t_done"] - truth["t_issue"])[first]


# -- keeping up: the one saturation rule ------------------------------------------------
# A backend is saturated only when it fails to keep up. A per-operation overhead is a cost,
# shown as cost; it counts as saturation only when its block interval lies wholly above a
# material limit (each operation takes twice as long), which `--overhead-limit`
# changes.
DROP_THRESHOLD = 0.001      # drop rate above 0.1 % of a supported kind
RATE_SHORTFALL = 0.95       # achieved rate below 95 % of the target (and of the baseline's)
LAG_GROWTH_MS = 20.0        # the schedule lag grew this much over the cell (queueing)
OVERHEAD_LIMIT_PCT = 100.0  # slowdown whose block CI lies wholly above this (twice as long)
SLOW_THRESHOLD_PCT = 5.0    # compare: the smallest slowdown change (points) that can count


def limits(drop_rate: float | None, achieved: float | None, target: float | None,
           base_achieved: float | None, lag_growth_ms: float | None,
           base_lag_growth_ms: float | None, slowdown_lo_pct: float | None,
           overhead_limit_pct: float = OVERHEAD_LIMIT_PCT,
           rate_ratio_hi: float | None = None,
           lag_added_lo_ms: float | None = None) -> list[str]:
    """Which limits a cell (or a combined series cell) hit, in order: ``drops`` (lost more
    than the threshold), ``behind`` (achieved rate short of the target while its baseline
    was not), ``queues`` (the workload fell further behind its schedule over the cell, as
    audit backpressure makes it, while its baseline did not), ``slows`` (the overhead's
    block interval lies wholly above the material limit). Missing values count as fine.

    Where paired blocks give them, ``behind`` and ``queues`` are judged on the blocks, like
    the overhead: the sensor is behind when the upper end of the 95 % interval of its
    achieved rate over its baselines' (``rate_ratio_hi``) is below ``RATE_SHORTFALL``, and
    queues when the lower end of the interval of its lag growth minus its baselines'
    (``lag_added_lo_ms``) is above ``LAG_GROWTH_MS``. One cell against one baseline cell
    would call a hypervisor's steal in either of them a limit of the sensor."""
    def v(x):
        return x if x is not None and not math.isnan(x) else None

    out = []
    if (v(drop_rate) or 0) > DROP_THRESHOLD:
        out.append("drops")
    a, t, ba, rr = v(achieved), v(target), v(base_achieved), v(rate_ratio_hi)
    if a is not None and t and a < RATE_SHORTFALL * t and (
            rr < RATE_SHORTFALL if rr is not None else
            (ba is None or a < RATE_SHORTFALL * ba)):
        out.append("behind")
    g, bg, la = v(lag_growth_ms), v(base_lag_growth_ms), v(lag_added_lo_ms)
    if g is not None and g > LAG_GROWTH_MS and (
            la > LAG_GROWTH_MS if la is not None else
            (bg is None or g > bg + LAG_GROWTH_MS)):
        out.append("queues")
    lo = v(slowdown_lo_pct)
    if lo is not None and lo > overhead_limit_pct:
        out.append("slows")
    return out


def _target(rate: str) -> float | None:
    try:
        return float(rate)
    except (TypeError, ValueError):
        return None  # closed loop: no target


def saturation(row: dict, base: dict | None,
               overhead_limit_pct: float = OVERHEAD_LIMIT_PCT) -> str:
    """``limits`` of one measured row against its block's baseline cell (``base``, or a
    stand-in with the series' median values), joined: '' when it kept up."""
    if row.get("status") != "ok":
        return ""
    base = base or {}
    return "+".join(limits(row.get("drop_rate"), row.get("rate_achieved"),
                           _target(row.get("rate_target")), base.get("rate_achieved"),
                           row.get("schedule_lag_growth_ms"),
                           base.get("schedule_lag_growth_ms"),
                           row.get("slowdown_ci_low_pct"), overhead_limit_pct,
                           row.get("rate_ratio_ci_high"), row.get("lag_growth_added_ci_low_ms")))


def schedule_lag_growth_ms(truth: dict, closed_loop: bool) -> float:
    """How much further behind its open-loop schedule the workload was at the end of the
    cell than at its start: median lag (t_issue - t_intended) of the last fifth of the
    operations minus that of the first fifth, in ms. Steady lag is not growth; a workload
    held up by its sensor (backpressure) falls further behind all the time."""
    if closed_loop:
        return NAN
    ops, first = np.unique(truth["op"], return_index=True)
    if len(ops) < 10:
        return NAN
    order = np.argsort(truth["t_intended"][first])
    lag = (truth["t_issue"] - truth["t_intended"])[first][order]
    k = len(lag) // 5   # 2 or more: ten operations or more
    return float(np.median(lag[-k:]) - np.median(lag[:k])) / 1e6
