"""The paired-block estimates of a results folder, computed when it is read.

A run stores what each cell measured: its mean time per operation (``op_time_ns``), the
machine's and the workload's CPU per operation, the achieved rate, the schedule lag's
growth, and the baseline cell a sensor cell is paired with (``block``, ``baseline_cell``).
Everything estimated over blocks is computed here, by ``bench.analysis.blocks``, every time
a folder is read (``RunData.load``), for every sensor row:

- overhead and slowdown per operation (``paired``), the blocks used and dropped, and the
  row's own block difference (``block_overhead_ns``);
- the machine's CPU and the workload's own CPU per operation, sensor minus baseline
  (``paired_difference``);
- keeping up on the blocks: the achieved rate's ratio to the baselines' (``paired_ratio``)
  and the schedule lag's growth beyond theirs;
- ``saturation``: the limits the row hit (``bench.analysis.metrics.saturation``), against
  its block's baseline cell, or for a cell without one (``--no-baseline``) the median of
  the baselines of its workload and rate.

A cell is named by its run and its id (two runs of one machine share cell ids). There is
one estimate per backend spec x workload x rate of a host: the blocks of every run of that
host the folder holds (a merged folder of two runs of one machine pools them).

Folders written before estimates moved here carry the estimates the runner stored in their
rows, and no per-cell time per operation. For them (a run whose rows carry stored
estimates and no ``op_time_ns``) the overhead comes from the blocks' stored differences and
the slowdown is read as stored; everything else is computed as above. A folder from
before blocks existed keeps its rows as they are (``block_estimate`` combines its
per-repeat slowdowns).

``block_estimate`` gives ``RunData.cells`` the estimate of each series x workload x rate.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from bench.analysis.blocks import NO_ESTIMATE, paired, paired_difference, paired_ratio
from bench.analysis.metrics import OVERHEAD_LIMIT_PCT, saturation
from bench.analysis.stats import t_interval
from bench.core.settings import BASELINE
from bench.results.schema import DTYPES, ESTIMATES
from bench.results.store import records

# Per-operation costs paired like the overhead: (per-cell column, estimate column prefix)
PAIRED_COSTS = (("machine_busy_us_per_op", "machine_cpu"),
                ("workload_cpu_us_per_op", "workload_cpu_added"))
SLOWDOWN = ("slowdown_pct", "slowdown_ci_low_pct", "slowdown_ci_high_pct")


# What the estimates are made of (and, in older folders, the estimates stored with them)
INPUTS = ("run", "host", "cell", "backend", "spec", "workload_spec", "rate_target", "status",
          "block", "baseline_cell", "op_time_ns", "drop_rate", "rate_achieved",
          "schedule_lag_growth_ms", *(c for c, _ in PAIRED_COSTS))


def with_estimates(df: pd.DataFrame,
                   overhead_limit_pct: float = OVERHEAD_LIMIT_PCT) -> pd.DataFrame:
    """``df`` (rows of a results folder, with ``host`` and ``run``) with every estimate
    column (``schema.ESTIMATES``) computed, in the schema's types."""
    rows = records(df[[c for c in dict.fromkeys((*INPUTS, *ESTIMATES)) if c in df.columns]])
    estimate_rows(rows, overhead_limit_pct)
    out = df.copy()
    for c in ESTIMATES:
        values = pd.Series([r.get(c) for r in rows], index=df.index, dtype=object)
        out[c] = (pd.to_numeric(values, errors="coerce").astype(DTYPES[c])
                  if DTYPES[c] in ("Int64", "float64") else values.astype(DTYPES[c]))
    return out


def number(v) -> float:
    """A stored value as a float; NaN for a missing or non-numeric one."""
    return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else math.nan


def _kinds(rows: list[dict]) -> dict[str, str]:
    """Each run's kind: ``read`` (the estimates are computed here), ``stored`` (the runner
    stored them: blocks, but no time per operation per cell) or ``old`` (from before
    blocks: nothing to compute)."""
    has_times, has_stored, has_blocks = set(), set(), set()
    for r in rows:
        if r.get("op_time_ns") is not None and r["op_time_ns"] == r["op_time_ns"]:
            has_times.add(r["run"])
        if r["backend"] != BASELINE:
            if r.get("blocks_used") is not None or r.get("slowdown_pct") is not None:
                has_stored.add(r["run"])
            if r.get("block"):
                has_blocks.add(r["run"])
    return {run: "read" if run in has_times or run not in has_stored
            else "stored" if run in has_blocks else "old"
            for run in {r["run"] for r in rows}}


def estimate_rows(rows: list[dict], overhead_limit_pct: float = OVERHEAD_LIMIT_PCT) -> None:
    """Set every sensor row's estimates (in place) from the cells' measured values."""
    _Folder(rows).estimate(overhead_limit_pct)


class _Folder:
    """The rows of a folder, their cells, blocks and series, indexed once."""

    def __init__(self, rows: list[dict]):
        self.kind = _kinds(rows)
        self.first: dict[tuple, dict] = {}
        for r in rows:
            self.first.setdefault((r["run"], r["cell"]), r)
        # block -> (sensor cell, baseline cell); folders from before baselines were shared
        # name the block on the baseline's rows
        old_layout = {(r["run"], r["block"]): r["cell"] for r in rows
                      if r["backend"] == BASELINE and r.get("block")}
        self.cells_of: dict[tuple, tuple] = {}
        self.blocks: dict[tuple, list[tuple]] = {}    # series -> its blocks, in order
        self.members: dict[tuple, list[dict]] = {}    # series -> its sensor rows
        self.stand_ins: dict[tuple, list[dict]] = {}  # group x workload x rate -> baselines
        for r in rows:
            if r["backend"] == BASELINE:
                self.stand_ins.setdefault((*self.group(r), r["workload_spec"],
                                           r["rate_target"]), []).append(r)
                continue
            if self.kind[r["run"]] == "old":
                continue
            self.members.setdefault(self.series(r), []).append(r)
            if not r.get("block"):
                continue
            b = (r["run"], r["block"])
            base = (r["run"], r.get("baseline_cell") or old_layout.get(b))
            self.cells_of[b] = ((r["run"], r["cell"]), base if base in self.first else None)
            blocks = self.blocks.setdefault(self.series(r), [])
            if b not in blocks:
                blocks.append(b)

    def group(self, r: dict) -> tuple:
        """Whose blocks pool: a host's runs; a run whose estimates were stored stays apart
        (its blocks have no times)."""
        return (r["host"], r["run"] if self.kind[r["run"]] != "read" else "")

    def series(self, r: dict) -> tuple:
        return (*self.group(r), r["spec"], r["workload_spec"], r["rate_target"])

    def value(self, cell: tuple | None, column: str) -> float:
        """A cell's value, NaN when it did not run (an unsupported kind still ran it)."""
        if cell is None:
            return math.nan
        r = self.first[cell]
        return number(r.get(column)) if r.get("status") in ("ok", "unsupported") else math.nan

    def estimate(self, overhead_limit_pct: float) -> None:
        estimates = {key: self._estimate(key, bl) for key, bl in self.blocks.items()}
        stand_in = {key: {c: _median([x.get(c) for x in rs])
                          for c in ("rate_achieved", "schedule_lag_growth_ms")}
                    for key, rs in self.stand_ins.items()}
        for key, members in self.members.items():
            for r in members:
                r.update(estimates.get(key) or NO_ESTIMATE.as_row())
                s, b = self.cells_of.get((r["run"], r.get("block")), (None, None))
                if self.kind[r["run"]] == "read":
                    r["block_overhead_ns"] = (self.value(s, "op_time_ns")
                                              - self.value(b, "op_time_ns"))
                # against its block's baseline cell; a cell without one (--no-baseline),
                # against the median of the baselines of its workload and rate
                base = (self.first[b] if b is not None else None) or \
                    stand_in.get((*self.group(r), r["workload_spec"], r["rate_target"]))
                r["saturation"] = saturation(r, base, overhead_limit_pct)

    def _estimate(self, key: tuple, blocks: list[tuple]) -> dict:
        """The estimates of one series x workload x rate over its ``blocks``."""
        def both(column: str) -> tuple[list[float], list[float]]:
            return ([self.value(self.cells_of[b][0], column) for b in blocks],
                    [self.value(self.cells_of[b][1], column) for b in blocks])

        est = (paired(*both("op_time_ns")).as_row() if self.kind[blocks[0][0]] == "read"
               else self._stored_times(key, blocks))
        for column, name in PAIRED_COSTS:
            m, lo, hi = paired_difference(*both(column))
            est.update({f"{name}_us_per_op": m, f"{name}_ci_low_us": lo,
                        f"{name}_ci_high_us": hi})
        # Keeping up, judged on the blocks too: the achieved rate against the baselines'
        # (a ratio, on logs) and the schedule lag's growth beyond the baselines'.
        ratio = paired_ratio(*both("rate_achieved"))
        lag = paired_difference(*both("schedule_lag_growth_ms"))
        est.update(rate_ratio=ratio[0], rate_ratio_ci_high=ratio[2],
                   lag_growth_added_ms=lag[0], lag_growth_added_ci_low_ms=lag[1])
        return est

    def _stored_times(self, key: tuple, blocks: list[tuple]) -> dict:
        """The overhead of a run whose rows carry the runner's estimates but not the
        cells' times per operation: the t-interval over the blocks' stored differences
        (what ``paired`` computes from the times); the slowdown, a ratio of times no row
        holds, as stored."""
        mine = self.members[key]
        by_cell = {(r["run"], r["cell"]): r for r in mine}
        diffs = [number(by_cell[self.cells_of[b][0]].get("block_overhead_ns")) for b in blocks]
        m, lo, hi = paired_difference(diffs, np.zeros(len(diffs)))
        used = sum(not math.isnan(d) for d in diffs)
        stored = next((r for r in mine if r.get("blocks_used") is not None), {})
        return {"overhead_ns_per_op": m, "overhead_ci_low_ns": lo, "overhead_ci_high_ns": hi,
                **{c: number(stored.get(c)) for c in SLOWDOWN},
                "blocks_used": used, "blocks_dropped": len(diffs) - used}


def _median(values) -> float:
    v = [float(x) for x in values if isinstance(x, (int, float)) and not math.isnan(x)]
    return float(np.median(v)) if v else math.nan


# what the saturation rule judges on the blocks (bench.analysis.metrics.limits)
KEEP_UP_FIELDS = ("rate_ratio", "rate_ratio_ci_high", "lag_growth_added_ms",
                  "lag_growth_added_ci_low_ms")

# Whole-machine CPU per operation (sensor cell minus its paired baseline): a paired-block
# estimate like the overhead, carried through the same way; NaN in folders without it.
MACHINE_CPU_FIELDS = ("machine_cpu_us_per_op", "machine_cpu_ci_low_us", "machine_cpu_ci_high_us")


def block_estimate(cells: pd.DataFrame) -> dict:
    """The overhead and whole-machine CPU cost of one series x workload x rate. Every cell
    of the series carries the same paired-block estimate (``with_estimates``), so it is
    read, not recombined. Folders written before blocks existed fall back to
    ``combine_slowdown``; folders without the machine CPU columns give NaN for them."""
    has = "overhead_ns_per_op" in cells.columns and cells["blocks_used"].notna().any()
    if not has:
        out = combine_slowdown(cells["slowdown_pct"], cells["slowdown_ci_low_pct"],
                               cells["slowdown_ci_high_pct"])
        out.update(overhead_ns_per_op=math.nan, overhead_ci_low_ns=math.nan,
                   overhead_ci_high_ns=math.nan, blocks_used=math.nan, blocks_dropped=math.nan)
        out.update({c: math.nan for c in MACHINE_CPU_FIELDS + KEEP_UP_FIELDS})
        return out
    first = cells[cells["blocks_used"].notna()].iloc[0]
    out = {c: first[c] for c in ("slowdown_pct", "slowdown_ci_low_pct",
                                 "slowdown_ci_high_pct", "overhead_ns_per_op",
                                 "overhead_ci_low_ns", "overhead_ci_high_ns",
                                 "blocks_used", "blocks_dropped")}
    out.update({c: first.get(c, math.nan) for c in MACHINE_CPU_FIELDS + KEEP_UP_FIELDS})
    return out


def combine_slowdown(points: pd.Series, lows: pd.Series, highs: pd.Series) -> dict:
    """Slowdown of several repeats, for folders from before blocks: mean point; interval
    the wider of the mean bootstrap CI and the t-interval of the repeats."""
    p = points.dropna().astype(float)
    if not len(p):
        return {"slowdown_pct": math.nan, "slowdown_ci_low_pct": math.nan,
                "slowdown_ci_high_pct": math.nan}
    mean, t_lo, t_hi = t_interval(p)
    lo, hi = float(lows.dropna().mean()), float(highs.dropna().mean())
    if not math.isnan(t_lo):
        lo = min(lo, t_lo) if not math.isnan(lo) else t_lo
        hi = max(hi, t_hi) if not math.isnan(hi) else t_hi
    # Time per operation cannot go below zero, so neither can the slowdown below -100 %.
    lo = max(lo, -100.0) if not math.isnan(lo) else lo
    return {"slowdown_pct": mean, "slowdown_ci_low_pct": lo, "slowdown_ci_high_pct": hi}
