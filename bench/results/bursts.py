"""Burst recovery per backend x workload x rate: the burst columns of a run's cells
(``bench.analysis.bursts``), repetitions combined: the worst burst of any repeat, the
pooled loss, the median and worst drain, the median recovery and base p99."""

from __future__ import annotations

import pandas as pd

from bench.analysis.bursts import COLUMNS
from bench.results.rundata import RunData

KEY = ["series", "workload_spec", "rate_target"]


def table(run: RunData) -> pd.DataFrame:
    """One row per series x workload x rate that ran bursts (empty frame: none did)."""
    raw = run.raw
    if not len(raw) or "bursts" not in raw.columns:
        return pd.DataFrame()
    cells = raw.drop_duplicates(["run", "cell"])
    cells = cells[pd.to_numeric(cells["bursts"], errors="coerce").fillna(0) > 0]
    if not len(cells):
        return pd.DataFrame()
    num = cells[KEY + ["mode", "arrivals"]].join(
        cells[list(COLUMNS)].apply(pd.to_numeric, errors="coerce"))
    g = num.groupby(KEY, sort=False)
    out = g.agg(mode=("mode", "first"), arrivals=("arrivals", "first"),
                repeats=("bursts", "size"), bursts=("bursts", "sum"),
                loss_worst=("burst_loss_worst", "max"), loss=("burst_loss", "mean"),
                drain_ms=("burst_drain_ms", "median"), drain_max_ms=("burst_drain_max_ms", "max"),
                recovery_p99_us=("burst_recovery_p99_us", "median"),
                base_p99_us=("burst_base_p99_us", "median")).reset_index()
    return out
