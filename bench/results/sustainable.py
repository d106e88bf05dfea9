"""Max sustainable rate: the highest offered rate a backend keeps up with, per workload.

A rate *passes* when, with repetitions combined (see ``data``), none of the limits of
``bench.analysis.metrics.limits`` is hit — the same rule as the per-row ``saturation`` column:

- the worst supported kind drops at most ``DROP_THRESHOLD`` (0.1 %) of its events,
- the achieved rate is at least ``RATE_SHORTFALL`` (95 %) of the target (unless the
  baselines fell short too: then the machine, not the sensor, is the limit; judged on
  the blocks' interval of the ratio to the baselines),
- the workload's lag behind its schedule does not grow by more than ``LAG_GROWTH_MS``
  over a cell (queueing, backpressure) beyond what the baselines' did (on the blocks'
  interval),
- the overhead's block interval does not lie wholly above the material limit (100 % by
  default, ``run --overhead-limit``). Below it, overhead is a cost, shown as cost.

The max sustainable rate is the highest tested rate such that it *and every lower tested
rate* pass: a lucky pass above a failure is noise, not capacity. The same scan on drops alone
gives the *lossless* rate, shown next to it when something else was the limit. When every
rate passes the answer is "at least the highest rate tested" (``>=``); when the lowest fails,
"below the lowest rate tested" (``<``). Closed-loop ``max`` cells have no offered rate and are
left out.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import pandas as pd

from bench.analysis.metrics import OVERHEAD_LIMIT_PCT, limits
from bench.results.rundata import RunData, rate_value


@dataclass
class Sustainable:
    series: str
    workload_spec: str
    rate: float | None        # the max sustainable rate; None when even the lowest fails
    qualifier: str            # '' exact, '>=' never saturated in the sweep, '<' lowest failed
    limited_by: str           # what stopped it at the next rate: 'drops', 'slows', ...
    rates_tested: int
    lowest: float = math.nan  # the lowest rate tested
    lossless: Sustainable | None = None   # the same, judged on drops alone

    @property
    def label(self) -> str:
        if self.rates_tested == 0:
            return "n/a"
        if self.rate is None:
            return f"< {self.lowest:g}"
        return f"{'≥' if self.qualifier == '>=' else ''} {self.rate:g}".strip()

    @property
    def full_label(self) -> str:
        """The label, plus the drops-only rate when slowdown is what limited it: on a
        small or noisy machine every sensor slows the workload, and the capacity to keep
        up with events is still worth reading."""
        if self.lossless is None or self.lossless.label == self.label:
            return self.label
        return f"{self.label} (lossless {self.lossless.label})"


def passes(row: pd.Series, slowdown: bool = True,
           overhead_limit_pct: float = OVERHEAD_LIMIT_PCT) -> tuple[bool, str]:
    """Whether one combined cell (a row of ``RunData.cells``) keeps up, and why not;
    ``slowdown=False`` judges drops only."""
    if row["status"] != "ok":
        return False, row["status"]
    why = limits(row["drop_rate_worst"], row["rate_achieved"], rate_value(row["rate_target"]),
                 row["baseline_rate_achieved"], row.get("schedule_lag_growth_ms"),
                 row.get("baseline_lag_growth_ms"), row["slowdown_ci_low_pct"],
                 overhead_limit_pct, row.get("rate_ratio_ci_high"),
                 row.get("lag_growth_added_ci_low_ms"))
    if not slowdown:
        why = [w for w in why if w == "drops"]
    return not why, "+".join(why)


def _scan(series: str, wl: str, g: pd.DataFrame, slowdown: bool,
          overhead_limit_pct: float = OVERHEAD_LIMIT_PCT) -> Sustainable:
    best, limited = None, ""
    for _, row in g.iterrows():
        ok, why = passes(row, slowdown, overhead_limit_pct)
        if not ok:
            limited = why
            break
        best = row["_r"]
    n = len(g)
    if n and best is None:
        qual = "<"
    elif n and best == g["_r"].max() and not limited:
        qual = ">="
    else:
        qual = ""
    return Sustainable(series, wl, best, qual, limited, n,
                       float(g["_r"].min()) if n else math.nan)


def max_sustainable(run: RunData) -> list[Sustainable]:
    """One entry per series x workload that saw at least one kind of that workload."""
    out = []
    cells = run.cells
    if not len(cells):
        return out
    for (series, wl), g in cells.groupby(["series", "workload_spec"], sort=False):
        g = g[g["rate_target"].map(lambda r: not math.isnan(rate_value(r)))]
        if g["kinds_supported"].max() == 0 and (g["status"] == "unsupported").all():
            continue   # the backend sees nothing of this workload: no capacity to speak of
        g = g.assign(_r=g["rate_target"].map(rate_value)).sort_values("_r")
        s = _scan(series, wl, g, True, run.overhead_limit_pct)
        s.lossless = _scan(series, wl, g, False, run.overhead_limit_pct)
        out.append(s)
    return out


def table(run: RunData) -> pd.DataFrame:
    """series x workload -> label, as a frame (rows series, columns workloads)."""
    items = max_sustainable(run)
    if not items:
        return pd.DataFrame()
    df = pd.DataFrame([{"series": s.series, "workload": s.workload_spec, "label": s.full_label}
                       for s in items])
    order = list(run.series_info()["series"])
    t = df.pivot(index="series", columns="workload", values="label").fillna("n/a")
    return t.reindex([s for s in order if s in t.index])
