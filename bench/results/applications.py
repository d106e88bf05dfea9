"""Application recipes in a results folder: what each sensor costs real work and what it
misses of it (the "applications" table), and one impact score per sensor.

A recipe cell (``workload_engine`` ``recipe``: ``copy``, ``build``, ``cmd``, ...) runs its
program once; its one operation's time is the program's wall time, so the paired-block
slowdown of the read model (``bench.results.estimates``) is the recipe's slowdown against
baselines of the same recipe. Its kinds' ``expected`` are counted in the kernel, so the
drops per kind are against that count.

The impact score combines a sensor's slowdowns over the recipes it ran, each recipe
weighing the same, in the manner of AV-Comparatives' impact score (which weighs its
activities): per repetition, the geometric mean over the recipes of the sensor cells' wall
times against that of their baselines; over repetitions, the paired-block rule itself
(``bench.analysis.blocks.paired``: geometric mean of the ratios, t-interval on their logs).
A repetition in which one of the recipes has no usable block is left out, so that every
repetition weighs the same recipes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from bench.analysis.blocks import paired
from bench.analysis.metrics import DROP_THRESHOLD
from bench.results.rundata import RunData

RECIPE_ENGINE = "recipe"   # workload_engine of an application recipe's cells
MODE_ORDER = {"kernel": 0, "user": 1, "calibration": 2}


def recipes(run: RunData) -> list[str]:
    """The recipe workloads (spec texts) of the run, in the order they ran."""
    raw = run.raw
    if not len(raw) or "workload_engine" not in raw.columns:
        return []
    r = raw[raw["workload_engine"].astype("string") == RECIPE_ENGINE]
    return list(dict.fromkeys(r["workload_spec"].astype(str)))


@dataclass
class AppRow:
    """One sensor on one recipe."""

    series: str
    mode: str
    recipe: str
    status: str
    reason: str
    slowdown: tuple[float, float, float]       # % [95 % CI]
    blocks: int
    drops: list[tuple[str, float]]            # (kind, drop rate) above the threshold
    worst_drop: float                         # the kind missed most (rate), NaN: none seen
    beyond: int                               # events beyond the count, all kinds
    sensor_cpu_ms: float                      # the sensor's own CPU for the recipe, mean
    machine_ms: tuple[float, float, float]    # machine CPU it added to the recipe [CI]
    baseline_s: float                         # the recipe's median wall time, no sensor
    unseen: list[str] = field(default_factory=list)   # the recipe's kinds it cannot see


def table(run: RunData) -> list[AppRow]:
    """Every sensor x recipe the run measured (not those that see none of the recipe's
    kinds: ``blind``), kernel-mode sensors first."""
    names = recipes(run)
    if not names:
        return []
    cells, kinds = run.cells, run.kinds
    walls = _baseline_walls(run)
    pc = run.per_cell
    own = pd.to_numeric(pc["sensor_cpu_s"], errors="coerce").groupby(
        [pc["series"], pc["workload_spec"]]).mean().to_dict()
    out = []
    mine = cells[cells["workload_spec"].isin(names) & ~_blind(cells)]
    for _, c in mine.iterrows():
        k = kinds[(kinds["series"] == c["series"]) & (kinds["workload_spec"] == c["workload_spec"])]
        ok = k[k["status"] == "ok"]
        rates = pd.to_numeric(ok["drop_rate"], errors="coerce")
        over = ok[rates > DROP_THRESHOLD]
        out.append(AppRow(
            series=str(c["series"]), mode=str(c["mode"]), recipe=str(c["workload_spec"]),
            status=str(c["status"]), reason=str(c["reason"] or ""),
            slowdown=(c["slowdown_pct"], c["slowdown_ci_low_pct"], c["slowdown_ci_high_pct"]),
            blocks=int(c["blocks_used"]) if pd.notna(c["blocks_used"]) else 0,
            drops=[(str(r["kind"]), float(r["drop_rate"])) for _, r in over.iterrows()],
            worst_drop=float(rates.max()) if rates.notna().any() else math.nan,
            beyond=int(ok["duplicates"].fillna(0).sum()),
            sensor_cpu_ms=own.get((c["series"], c["workload_spec"]), math.nan) * 1e3,
            # one operation per cell: the machine's CPU per operation is the recipe's
            machine_ms=tuple(float(c[f]) / 1e3 for f in (
                "machine_cpu_us_per_op", "machine_cpu_ci_low_us", "machine_cpu_ci_high_us")),
            baseline_s=walls.get(str(c["workload_spec"]), math.nan),
            unseen=list(dict.fromkeys(k.loc[k["status"] == "unsupported", "kind"]))))
    out.sort(key=lambda r: (MODE_ORDER.get(r.mode, 9), r.series, names.index(r.recipe)))
    return out


def _baseline_walls(run: RunData) -> dict[str, float]:
    """Recipe -> the median wall time (s) of its baseline cells."""
    b = run.baseline
    if not len(b):
        return {}
    b = b.drop_duplicates(["host", "run", "cell"])
    return (pd.to_numeric(b["op_time_ns"], errors="coerce").groupby(b["workload_spec"])
            .median() / 1e9).to_dict()


def _blind(cells: pd.DataFrame) -> pd.Series:
    """Cells not run because the sensor sees none of the recipe's kinds (a control that
    sees no kind, null_sensor, ran: its rows are "unsupported" but it has blocks)."""
    ran = pd.to_numeric(cells["blocks_used"], errors="coerce").fillna(0) > 0
    return (cells["status"] == "unsupported") & ~ran


def blind(run: RunData) -> dict[str, list[str]]:
    """Recipe -> the sensors that see none of its kinds (not run on it), the recipes in
    the order they ran."""
    names = recipes(run)
    c = run.cells
    if not names or not len(c):
        return {}
    c = c[c["workload_spec"].isin(names) & _blind(c)]
    return {w: list(dict.fromkeys(c.loc[c["workload_spec"] == w, "series"].astype(str)))
            for w in names if (c["workload_spec"] == w).any()}


@dataclass
class Impact:
    series: str
    mode: str
    recipes: list[str]        # the recipes it is over
    of: int                   # recipes the run has
    pct: float
    lo: float
    hi: float
    repeats: int              # repetitions used
    per_repeat: list[float] = field(default_factory=list)   # each repetition's impact, %


def impact(run: RunData) -> list[Impact]:
    """One score per sensor over the recipes it measured (see the module docstring)."""
    names = recipes(run)
    if not names:
        return []
    raw = run.raw
    rows = raw[raw["workload_spec"].isin(names)].drop_duplicates(["host", "run", "cell"])
    # a cell's time, if it ran (a kind it cannot see is a row "unsupported" of a cell that
    # ran, as the paired-block estimates read it)
    time = {(r["run"], r["cell"]): float(r["op_time_ns"])
            if r["status"] in ("ok", "unsupported") and pd.notna(r["op_time_ns"]) else math.nan
            for _, r in rows.iterrows()}
    sensors = rows[(rows["backend"] != "baseline") & rows["block"].fillna("").astype(bool)]
    out = []
    for series, g in sensors.groupby("series", sort=False):
        # repetition -> recipe -> (sensor time, baseline time)
        blocks: dict[tuple, dict[str, tuple[float, float]]] = {}
        for _, r in g.iterrows():
            pair = (time.get((r["run"], r["cell"]), math.nan),
                    time.get((r["run"], r["baseline_cell"]), math.nan))
            blocks.setdefault((r["run"], r["repeat"]), {})[str(r["workload_spec"])] = pair
        mine = sorted({w for b in blocks.values() for w in b}, key=names.index)
        s, b = repetition_means(list(blocks.values()), mine)
        est = paired(s, b)
        out.append(Impact(str(series), str(g["mode"].iloc[0]), mine, len(names),
                          est.slowdown_pct, est.slowdown_lo_pct, est.slowdown_hi_pct,
                          est.blocks_used, [100 * (x / y - 1) for x, y in zip(s, b)]))
    out.sort(key=lambda i: (MODE_ORDER.get(i.mode, 9), i.series))
    return out


def repetition_means(blocks: list[dict[str, tuple[float, float]]],
                     recipes: list[str]) -> tuple[list[float], list[float]]:
    """Per repetition (``{recipe: (sensor time, baseline time)}``), the geometric mean of
    the sensor cells' times over ``recipes`` and that of their baselines; a repetition
    without a usable block of every recipe is left out."""
    s, b = [], []
    for pairs in blocks:
        got = [pairs.get(w, (math.nan, math.nan)) for w in recipes]
        if got and all(math.isfinite(x) and x > 0 for p in got for x in p):
            s.append(_geomean([p[0] for p in got]))
            b.append(_geomean([p[1] for p in got]))
    return s, b


def frame(run: RunData) -> pd.DataFrame:
    """The applications table as ``applications.csv`` holds it: one row per sensor x
    recipe, with the sensor's impact score beside it (empty frame: no recipes)."""
    scores = {i.series: i for i in impact(run)}
    rows = []
    for r in table(run):
        i = scores.get(r.series)
        rows.append({
            "backend": r.series, "mode": r.mode, "recipe": r.recipe, "status": r.status,
            "reason": r.reason, "slowdown_pct": r.slowdown[0],
            "slowdown_ci_low_pct": r.slowdown[1], "slowdown_ci_high_pct": r.slowdown[2],
            "blocks": r.blocks, "worst_drop_rate": r.worst_drop,
            "drops": ";".join(f"{k}={d:.6f}" for k, d in r.drops),
            "events_beyond_count": r.beyond, "sensor_cpu_ms": r.sensor_cpu_ms,
            "machine_cpu_added_ms": r.machine_ms[0],
            "machine_cpu_added_ci_low_ms": r.machine_ms[1],
            "machine_cpu_added_ci_high_ms": r.machine_ms[2],
            "baseline_wall_s": r.baseline_s, "kinds_unseen": ";".join(r.unseen),
            "impact_pct": i.pct if i else math.nan,
            "impact_ci_low_pct": i.lo if i else math.nan,
            "impact_ci_high_pct": i.hi if i else math.nan,
            "impact_recipes": ";".join(i.recipes) if i else "",
            "impact_min_pct": min(i.per_repeat) if i and i.per_repeat else math.nan,
            "impact_max_pct": max(i.per_repeat) if i and i.per_repeat else math.nan})
    return pd.DataFrame(rows)


def _geomean(values: list[float]) -> float:
    return float(np.exp(np.mean(np.log(values))))
