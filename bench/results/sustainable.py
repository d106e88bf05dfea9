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

A rate whose no-sensor baselines themselves fell short of it (below ``RATE_SHORTFALL`` of
the target) decides nothing about the sensor: the load generator could not offer it
(``generator``), and it ends the scan like the top of the sweep.

The max sustainable rate is the highest tested rate such that it *and every lower tested
rate* pass: a lucky pass above a failure is noise, not capacity. The answer is a bracket:
that rate and the tested rate that failed next above it, with why it failed (a searched run,
``bench.analysis.search``, narrows the two to its resolution). The same scan on drops alone
gives the *lossless* rate, shown next to it when something else was the limit. When every
rate passes the answer is "at least the highest rate tested" (``>=``), marked *generator
limit* when the generator, not the sweep, ended it (a rate its baselines could not reach,
or, in a searched run, the search's cap: ``CEILING_SHARE`` of the generator's ceiling); when the lowest fails, "below the lowest
rate tested" (``<``). Closed-loop ``max`` cells have no offered rate and are left out.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import pandas as pd

from bench.analysis.metrics import OVERHEAD_LIMIT_PCT, RATE_SHORTFALL, limits
from bench.analysis.search import GENERATOR, caps
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
    failed: float | None = None   # the tested rate above it that failed (for limited_by)
    generator_limit: bool = False  # the generator could not offer the next rate

    @property
    def label(self) -> str:
        gen = " (generator limit)" if self.generator_limit else ""
        if self.rates_tested == 0:
            return "n/a"
        if self.rate is None:
            return f"< {self.lowest:,.0f}" if not gen else f"n/a{gen}"
        if self.failed is None:
            return f"{'≥ ' if self.qualifier == '>=' else ''}{self.rate:,.0f}{gen}"
        return f"{self.rate:,.0f}–{self.failed:,.0f}"

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


def generator_short(row: pd.Series) -> bool:
    """Whether the cell's no-sensor baselines fell short of its target rate: the generator,
    not the sensor, could not offer it."""
    target, base = rate_value(row["rate_target"]), row.get("baseline_rate_achieved")
    return (not math.isnan(target) and base is not None and not pd.isna(base)
            and base < RATE_SHORTFALL * target)


def judge(row: pd.Series, slowdown: bool = True,
          overhead_limit_pct: float = OVERHEAD_LIMIT_PCT) -> tuple[bool, str]:
    """One offered rate's verdict, as the scan and a searched run's probes take it:
    ``passes``, except that a rate the generator could not offer is neither kept up with
    nor failed (``(False, GENERATOR)``) unless the sensor failed it anyway."""
    ok, why = passes(row, slowdown, overhead_limit_pct)
    if ok and generator_short(row):
        return False, GENERATOR
    return ok, why


def _scan(series: str, wl: str, g: pd.DataFrame, slowdown: bool,
          overhead_limit_pct: float = OVERHEAD_LIMIT_PCT) -> Sustainable:
    best, limited, failed, gen, decided = None, "", None, False, None
    for _, row in g.iterrows():
        ok, why = judge(row, slowdown, overhead_limit_pct)
        if why == GENERATOR and best is None:
            # below every rate kept up with, a rate the generator could not offer decides
            # nothing: the sensor may still fail above it ('< R', not 'n/a')
            gen = True
            continue
        decided = row["_r"] if decided is None else decided
        if not ok:
            gen = why == GENERATOR
            limited, failed = ("", None) if gen else (why, row["_r"])
            break
        best, gen = row["_r"], False
    n = len(g)
    if n and best is None and not gen:
        qual = "<"
    elif n and failed is None:
        qual = ">="
    else:
        qual = ""
    # the lowest rate the sensor's verdict decided ('<' names it), else the lowest tested
    lowest = decided if decided is not None else float(g["_r"].min()) if n else math.nan
    return Sustainable(series, wl, best, qual, limited, n, float(lowest), failed=failed,
                       generator_limit=gen)


def max_sustainable(run: RunData) -> list[Sustainable]:
    """One entry per series x workload that saw at least one kind of that workload."""
    out = []
    cells = run.cells
    if not len(cells):
        return out
    caps = search_caps(run.meta)
    for (series, wl), g in cells.groupby(["series", "workload_spec"], sort=False):
        g = g[g["rate_target"].map(lambda r: not math.isnan(rate_value(r)))]
        if g["kinds_supported"].max() == 0 and (g["status"] == "unsupported").all():
            continue   # the backend sees nothing of this workload: no capacity to speak of
        g = g.assign(_r=g["rate_target"].map(rate_value)).sort_values("_r")
        s = _scan(series, wl, g, True, run.overhead_limit_pct)
        s.lossless = _scan(series, wl, g, False, run.overhead_limit_pct)
        for x in (s, s.lossless):
            # a search that kept up at its cap (a share of the generator's ceiling) stopped
            # there because the generator could go no higher, not because the sensor failed
            if x.failed is None and x.rate is not None and x.rate >= caps.get(wl, math.inf):
                x.generator_limit = True
        out.append(s)
    return out


def search_caps(meta: dict) -> dict[str, float]:
    """Workload spec -> the highest rate a searched run probed it at (its cap, from the
    generator ceiling in meta.json: ``bench.analysis.search.caps``, the rule the search
    used); {} for a run that did not search."""
    if not (meta.get("plan") or {}).get("search"):
        return {}
    return caps(meta.get("generator_ceiling") or {})


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


def judge_probes(path, probes: list[tuple[str, str, str]]) -> list[tuple[bool, str]]:
    """A searched run's verdicts on one round of probes, each ``(spec, workload spec,
    rate)``: ``judge`` on its combined cell, read from the run's folder (once for the
    round) as every report reads it, so the search and the report cannot disagree about a
    rate. A probe with no combined cell is ``(False, 'no result')``."""
    run = RunData.load(path)
    cells = run.cells
    rows = {(r["spec"], r["workload_spec"], r["rate_target"]): r for _, r in cells.iterrows()}
    return [judge(rows[p], True, run.overhead_limit_pct) if p in rows else (False, "no result")
            for p in probes]
