"""Per-kind metrics of one cell: drops, duplicates, latency percentiles; slowdown with CIs.

Latency is ``t_seen - t_issue`` (the contract), also against ``t_intended`` (open loop: time
the workload itself was held up counts) and ``t_seen - t_kernel`` (delivery) where the
backend gives a kernel timestamp. Percentiles are never averaged across cells: callers
that merge cells merge the raw latencies (``events.parquet``) and recompute.
"""

from __future__ import annotations

import numpy as np

from bench.correlate import Correlation
from bench.kinds import Kind

PERCENTILES = {"p50": 50, "p90": 90, "p99": 99, "p999": 99.9}
NAN = float("nan")


def percentiles_us(values_ns: np.ndarray) -> dict[str, float]:
    out = {f"latency_{k}_us": NAN for k in PERCENTILES}
    out["latency_max_us"] = NAN
    if len(values_ns) == 0:
        return out
    q = np.percentile(values_ns, list(PERCENTILES.values()))
    for name, v in zip(PERCENTILES, q):
        out[f"latency_{name}_us"] = float(v) / 1e3
    out["latency_max_us"] = float(values_ns.max()) / 1e3
    return out


def _pct(values_ns: np.ndarray, p: float) -> float:
    return float(np.percentile(values_ns, p)) / 1e3 if len(values_ns) else NAN


def matched_latencies(truth: dict, events: dict, corr: Correlation) -> dict[str, np.ndarray]:
    """Per matched event: kind, op, and its three latencies in ns (delivery -1 if unknown)."""
    ti, ei = corr.truth_idx, corr.event_idx
    t_seen = events["t_seen"][ei]
    t_kernel = events["t_kernel"][ei]
    return {
        "kind": truth["kind"][ti].astype(np.int16),
        "op": truth["op"][ti],
        "latency_ns": t_seen - truth["t_issue"][ti],
        "latency_intended_ns": t_seen - truth["t_intended"][ti],
        "delivery_ns": np.where(t_kernel >= 0, t_seen - t_kernel, -1),
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
                       matched=0, drop_rate=NAN, duplicates=0, unmatched=0)
            row.update(percentiles_us(np.empty(0)))
            rows.append(row)
            continue
        m = lat["kind"] == kind
        lat_ns = lat["latency_ns"][m]
        matched = int(m.sum())
        row.update(
            status="ok", reason="",
            matched=matched,
            drop_rate=(expected - matched) / expected if expected else NAN,
            duplicates=int((corr.duplicate & (ev_kind == kind)).sum()),
            unmatched=int((corr.unmatched_marked & (ev_kind == kind)).sum()),
        )
        row.update(percentiles_us(lat_ns))
        li = lat["latency_intended_ns"][m]
        row["latency_intended_p50_us"] = _pct(li, 50)
        row["latency_intended_p99_us"] = _pct(li, 99)
        d = lat["delivery_ns"][m]
        d = d[d >= 0]
        row["delivery_p50_us"] = _pct(d, 50)
        row["delivery_p99_us"] = _pct(d, 99)
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


def slowdown(sensor: np.ndarray, baseline: np.ndarray, n_boot: int = 1000,
             seed: int = 0) -> tuple[float, float, float]:
    """(slowdown %, CI low %, CI high %) of mean time per operation, sensor vs baseline.

    95 % CI by bootstrap: both samples resampled independently. Means of large samples are
    computed from resampled bins so memory stays bounded for a million operations.
    """
    if len(sensor) < 2 or len(baseline) < 2:
        return NAN, NAN, NAN
    point = (sensor.mean() / baseline.mean() - 1) * 100
    rng = np.random.default_rng(seed)
    ms = _boot_means(sensor.astype(np.float64), n_boot, rng)
    mb = _boot_means(baseline.astype(np.float64), n_boot, rng)
    ratios = (ms / mb - 1) * 100
    lo, hi = np.percentile(ratios, [2.5, 97.5])
    return float(point), float(lo), float(hi)


def _boot_means(x: np.ndarray, n_boot: int, rng: np.random.Generator) -> np.ndarray:
    # Multinomial counts over the sample give a bootstrap mean without materializing
    # n_boot copies. Big samples draw from 4096 bins of the sorted values, each drawn with
    # its share of the sample and standing in with its mean (the within-bin spread lost is
    # tiny next to the CI).
    n = len(x)
    if n > 4096:
        edges = np.linspace(0, len(x), 4097).astype(np.int64)
        xs = np.sort(x)
        sums = np.add.reduceat(xs, edges[:-1])
        sizes = np.diff(edges)
        x, weights = sums / sizes, sizes / sizes.sum()
    else:
        weights = np.full(n, 1 / n)
    counts = rng.multinomial(n, weights, size=n_boot)
    return counts @ x / n


# Where a backend stops keeping up: it loses events, or it holds the workload back.
DROP_THRESHOLD = 0.001      # drop rate above 0.1 %
SLOW_THRESHOLD_PCT = 5.0    # slowdown whose CI lies wholly above 5 %
RATE_SHORTFALL = 0.95       # achieved rate below 95 % of the baseline's at the same target


def saturation(row: dict, baseline_rate: float | None) -> str:
    """'drops', 'slows', 'drops+slows' or '' for one measured row.

    Audit-style backpressure shows as 'slows' (the sensor made syscalls wait), buffer
    overruns as 'drops'; both can happen at once.
    """
    if row.get("status") != "ok":
        return ""
    drops = (row.get("drop_rate") or 0) > DROP_THRESHOLD
    lo = row.get("slowdown_ci_low_pct")
    slows = lo is not None and lo == lo and lo > SLOW_THRESHOLD_PCT
    achieved = row.get("rate_achieved")
    if baseline_rate and achieved == achieved and achieved is not None:
        slows = slows or achieved < RATE_SHORTFALL * baseline_rate
    return "+".join(name for name, hit in (("drops", drops), ("slows", slows)) if hit)
