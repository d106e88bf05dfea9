"""What a burst does to a sensor, and how fast it recovers: one cell run with
``--arrivals burst:on_ms=A,off_ms=B,peak=P`` (``workloads.pacing.Burst``).

Each burst is the operations intended inside its window (the schedule's first intended
time plus ``Burst.windows_ns``), of the kinds the backend supports:

- *peak loss*: the share of them no event was matched to;
- *drain*: from the burst's end to the moment the last of its events that was seen came
  (0 when they all came inside the burst): how long the backlog took to clear;
- *recovery p99*: the latency (t_seen - t_issue) of the operations intended in the base
  stretch after the burst, at the 99th percentile, beside the same of the base stretch
  before the first burst (*base p99*): a sensor still working off its backlog delivers
  late what comes next.

Per cell: the number of bursts, the worst burst's loss and the loss over all of them, and
the median drain and recovery p99 over the bursts (the median, so one burst hit by the
machine's neighbours does not decide).
"""

from __future__ import annotations

import math

import numpy as np

from bench.analysis.correlate import Correlation
from bench.analysis.metrics import percentile_us

NAN = math.nan
COLUMNS = ("bursts", "burst_loss_worst", "burst_loss", "burst_drain_ms", "burst_drain_max_ms",
           "burst_recovery_p99_us", "burst_base_p99_us")


def burst_metrics(truth: dict, events: dict, corr: Correlation, supported: frozenset,
                  windows_ns: list[tuple[int, int]]) -> dict:
    """The COLUMNS of one burst cell (NaN where nothing was expected)."""
    out = dict.fromkeys(COLUMNS, NAN)
    if not windows_ns or not len(truth["op"]):
        return out
    kinds = np.asarray(sorted(int(k) for k in supported), dtype=truth["kind"].dtype)
    t_int = truth["t_intended"].astype(np.int64)
    t0 = int(t_int.min())
    rel = t_int - t0
    expected = np.isin(truth["kind"], kinds)
    seen = np.full(len(t_int), -1, dtype=np.int64)     # t_seen of each row's match
    seen[corr.truth_idx] = events["t_seen"][corr.event_idx]
    lat = np.where(seen >= 0, seen - truth["t_issue"], -1)

    def p99(mask: np.ndarray) -> float:
        v = lat[mask & (lat >= 0)]
        return percentile_us(v, 99) if len(v) else NAN

    losses, drains, recov = [], [], []
    n_exp = n_miss = 0
    for k, (a, b) in enumerate(windows_ns):
        inside = expected & (rel >= a) & (rel < b)
        n = int(inside.sum())
        if not n:
            continue
        miss = int((inside & (seen < 0)).sum())
        n_exp, n_miss = n_exp + n, n_miss + miss
        losses.append(miss / n)
        last = seen[inside].max()
        drains.append(max(0.0, (last - (t0 + b)) / 1e6) if last >= 0 else NAN)
        nxt = windows_ns[k + 1][0] if k + 1 < len(windows_ns) else int(rel.max()) + 1
        recov.append(p99(expected & (rel >= b) & (rel < nxt)))
    if not losses:
        return out
    finite = [d for d in drains if not math.isnan(d)]
    out.update(bursts=len(losses), burst_loss_worst=max(losses), burst_loss=n_miss / n_exp,
               burst_drain_ms=float(np.median(finite)) if finite else NAN,
               burst_drain_max_ms=max(finite) if finite else NAN,
               burst_recovery_p99_us=float(np.nanmedian(recov)) if not all(
                   math.isnan(r) for r in recov) else NAN,
               burst_base_p99_us=p99(expected & (rel < windows_ns[0][0])))
    return out
