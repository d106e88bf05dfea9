"""The total cost of sensing, resolved: the whole machine's CPU a sensor adds per event,
measured where it stands above the machine's noise.

At 1000 ops/s a sensor that costs 30 µs per event uses 3 % of a core, less than a shared
VM's noise, and its cost per operation (sensor cell minus its paired baseline, the
``machine_cpu`` estimate) has an interval that spans zero. Two methods resolve it, each
said beside its number:

- **slope**: across the offered rates of a sweep or a search, every block gives the
  machine's busy CPU per operation with the sensor minus its own baseline's at the same
  rate, times the sensor cell's operations a second (``y``: the cores the sensor added to
  the operations it was offered), and the events a second the sensor was offered (``x``:
  the workload's operations of the kinds it supports). Per operation first, because a
  sensor that holds the workload back (still within the keep-up rule) runs fewer
  operations than its baseline, whose every operation also costs the workload: a
  difference of whole-cell cores would subtract those and put the sensor's cost too low.
  The slope of ``y`` on ``x`` is the CPU one event costs the machine, with its t-interval
  (``bench.analysis.stats.slope_interval``); the intercept is what the sensor costs with
  no events. Only rates the sensor kept up with count (the saturation
  rule, ``bench.results.sustainable.judge``): above them it handles fewer events than it
  is offered, and the line bends.
- **at rate**: the paired-block estimate at the highest rate it kept up with, per event.

The sensor's own CPU per event (``cpu_us_per_event``, its processes only) stays beside
them: the total cost also holds what it makes the kernel, the workload and interrupts do.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import pandas as pd

from bench.analysis.stats import slope_interval
from bench.results.rundata import RunData, rate_value
from bench.results.sustainable import judge

# an interval narrower than this share of its value on either side resolves the cost
RESOLVED_WITHIN = 0.25


@dataclass
class Cost:
    series: str
    workload_spec: str
    us_per_event: float          # slope: machine CPU per event offered
    ci_low_us: float
    ci_high_us: float
    idle_cores: float            # intercept: the sensor's cost with no events
    points: int                  # blocks in the fit
    rates: int                   # distinct offered rates among them
    at_rate: str                 # the highest rate kept up with ('' when none)
    at_rate_us: float            # the paired-block estimate there, per event
    at_rate_low_us: float
    at_rate_high_us: float
    own_us_per_event: float      # the sensor's own CPU per event there

    @property
    def resolved(self) -> bool:
        return _resolved(self.us_per_event, self.ci_low_us, self.ci_high_us)

    @property
    def cores_per_100k(self) -> tuple[float, float, float]:
        """Cores the machine spends per 100 000 events a second (slope, low, high)."""
        return tuple(v / 10 for v in (self.us_per_event, self.ci_low_us, self.ci_high_us))


def _resolved(v: float, lo: float, hi: float) -> bool:
    return (not any(math.isnan(x) for x in (v, lo, hi)) and v > 0
            and v - lo < RESOLVED_WITHIN * v and hi - v < RESOLVED_WITHIN * v)


def block_points(run: RunData) -> pd.DataFrame:
    """One row per sensor cell that has a baseline of its own: its series, workload, rate,
    events a second offered (``x``), machine busy cores added over its baseline at the
    sensor cell's own operations a second (``y``), and whether its combined cell kept up
    (``kept``)."""
    raw = run.raw
    cols = ["series", "workload_spec", "rate_target", "x", "y", "kept"]
    if not len(raw) or "machine_busy_us_per_op" not in raw.columns:
        return pd.DataFrame(columns=cols)
    cell = raw.drop_duplicates(["run", "cell"]).set_index(["run", "cell"])
    busy = pd.to_numeric(cell["machine_busy_us_per_op"], errors="coerce")
    ops = pd.to_numeric(cell["rate_achieved"], errors="coerce")
    ok = raw[(raw["status"] == "ok") & raw["baseline_cell"].fillna("").astype(str).ne("")]
    if not len(ok):
        return pd.DataFrame(columns=cols)
    offered = ok.groupby(["run", "cell"])["expected"].sum()
    first = ok.drop_duplicates(["run", "cell"]).set_index(["run", "cell"])
    dur = pd.to_numeric(first["duration_s"], errors="coerce")
    base = [busy.get((r, b), math.nan) for r, b in zip(first.index.get_level_values(0),
                                                        first["baseline_cell"])]
    verdict = {(r["series"], r["workload_spec"], r["rate_target"]):
               judge(r, True, run.overhead_limit_pct)[0]
               for _, r in run.cells.iterrows()} if len(run.cells) else {}
    out = pd.DataFrame({
        "series": first["series"].to_numpy(), "workload_spec": first["workload_spec"].to_numpy(),
        "rate_target": first["rate_target"].to_numpy(),
        "x": (offered.reindex(first.index) / dur).to_numpy(),
        "y": (busy.reindex(first.index).to_numpy() - pd.Series(base).to_numpy(float))
        * ops.reindex(first.index).to_numpy() / 1e6})
    out["kept"] = [verdict.get(k, False) for k in
                   zip(out["series"], out["workload_spec"], out["rate_target"])]
    return out[cols]


def costs(run: RunData) -> list[Cost]:
    """One entry per series x workload with blocks at an offered rate it kept up with."""
    pts = block_points(run)
    pts = pts[pts["kept"] & pts["rate_target"].map(lambda r: not math.isnan(rate_value(r)))]
    cells = run.cells
    out = []
    for (series, wl), g in pts.groupby(["series", "workload_spec"], sort=False):
        slope, lo, hi, icpt = slope_interval(g["x"], g["y"])
        top = max(g["rate_target"], key=rate_value)
        c = cells[(cells["series"] == series) & (cells["workload_spec"] == wl)
                  & (cells["rate_target"] == top)].iloc[0]
        # events per operation at that rate: the per-operation estimate, per event
        per_op = g.loc[g["rate_target"] == top, "x"].mean() / rate_value(top)
        at = [c.get(k, math.nan) / per_op if per_op else math.nan for k in
              ("machine_cpu_us_per_op", "machine_cpu_ci_low_us", "machine_cpu_ci_high_us")]
        out.append(Cost(series, wl, slope * 1e6, lo * 1e6, hi * 1e6, icpt, len(g),
                        g["rate_target"].nunique(), str(top), *at,
                        float(c.get("cpu_us_per_event", math.nan))))
    return out


SLOPE, AT_RATE = "slope", "at rate"


def resolved_cost(c: Cost) -> tuple[float, float, float, str, bool]:
    """The one number an at-a-glance view shows for ``c``: (µs per event, low, high, method,
    resolved). The slope when it is resolved, else the estimate at rate when that one is;
    when neither is, the slope where it has an interval (the fit that uses every kept
    block), else the estimate at rate, marked not resolved."""
    slope = (c.us_per_event, c.ci_low_us, c.ci_high_us)
    at = (c.at_rate_us, c.at_rate_low_us, c.at_rate_high_us)
    if _resolved(*slope):
        return (*slope, SLOPE, True)
    if _resolved(*at):
        return (*at, AT_RATE, True)
    if not any(math.isnan(v) for v in slope):
        return (*slope, SLOPE, False)
    return (*at, AT_RATE, False)


@dataclass
class Disagreement:
    """Two sensors of a workload whose total costs tell them apart (intervals apart) in the
    order opposite to their own CPU per event: ``cheaper`` costs the machine less but its
    own processes spend more per event than ``dearer``'s."""

    workload_spec: str
    cheaper: str
    dearer: str
    total: tuple[tuple[float, float, float], tuple[float, float, float]]  # shown (v, lo, hi)
    own: tuple[float, float]


def ranking_disagreements(items: list[Cost]) -> list[Disagreement]:
    """Per workload, every pair of sensors that the total cost (``resolved_cost``) orders
    with intervals that do not overlap, the cheaper one's above zero (a cost told from
    nothing, as a cost below it cannot be), and whose own CPU per event orders the other
    way: what a ranking by the sensor's own CPU would get wrong. Dearest first."""
    out = []
    for a in items:
        for b in items:
            if a.workload_spec != b.workload_spec:
                continue
            ta, tb = resolved_cost(a)[:3], resolved_cost(b)[:3]
            if 0 < ta[1] and ta[2] < tb[1] and a.own_us_per_event > b.own_us_per_event:
                out.append(Disagreement(a.workload_spec, a.series, b.series, (ta, tb),
                                        (a.own_us_per_event, b.own_us_per_event)))
    return sorted(out, key=lambda d: (d.workload_spec, -d.total[1][0], d.total[0][0]))
