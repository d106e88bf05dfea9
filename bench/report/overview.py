"""The overview chart: the benchmark's question answered at a glance.

Per workload, what each backend costs (``machine_cpu_us_per_op``: whole-machine CPU per
operation, sensor cell minus its paired baseline, with its block interval as whiskers)
against what it loses (drops) and how late it is (p99 latency as marker size), kernel and
user mode told apart by colour and shape, at the rate the headline table shows
(``headline_rate``). Its points come from ``overview_points``, a pure function of the
aggregated cells, so the numbers drawn can be tested without drawing.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from bench.analysis.metrics import DROP_THRESHOLD
from bench.results.rundata import RunData, rate_value
from bench.report.figure import headline_rate, save
from bench.report.labels import place_labels
from bench.report.style import MODE_COLOUR, MODE_MARKER, MODE_NAME, RC, Styles

import matplotlib.pyplot as plt  # noqa: E402


NO_COST = "no cost estimate"
SEES_NONE = "sees none of the workload's kinds"
NOT_MEASURED = "failed or skipped"
NO_DROPS = "no drop rate"
P99_DECADES = (1, 6)        # marker area scale: p99 from 10 µs (smallest) to 1 s (largest)
P99_AREA = (25.0, 600.0)    # marker area (pt²) at either end
OVERVIEW_COLUMNS = ["series", "mode", "workload_spec", "rate_target", "cost_us", "cost_lo_us",
                    "cost_hi_us", "drop_rate", "p99_us"]


@dataclass
class OverviewPoints:
    """What the overview chart draws: one row per series x workload in ``points``
    (``cost_us`` and its 95 % interval ``cost_lo_us``/``cost_hi_us``: whole-machine CPU µs
    per operation; ``drop_rate`` a fraction; ``p99_us``), the rate shown per workload, and
    the series left out per reason and workload."""

    points: pd.DataFrame
    rates: dict[str, str]
    left_out: dict[str, dict[str, list[str]]] = field(default_factory=dict)

    def left_out_text(self) -> str:
        """'no cost estimate: a, b (file); sees none ...: c' for the caption: a series
        named without workloads is left out of every panel."""
        parts = []
        for why, by_wl in self.left_out.items():
            names: dict[str, list[str]] = {}
            for w, series in by_wl.items():
                for s in series:
                    names.setdefault(s, []).append(w)
            items = [s if len(ws) == len(self.rates) else f"{s} ({', '.join(ws)})"
                     for s, ws in names.items()]
            parts.append(f"{why}: {', '.join(items)}")
        return "; ".join(parts)


def overview_points(cells: pd.DataFrame, rates: Mapping[str, str | None]) -> OverviewPoints:
    """The points of the overview chart, from ``RunData.cells`` (one row per series x
    workload x rate, repetitions combined) at ``rates[workload]``. A series is left out of
    a workload, and named, when it has no measurement there, sees none of its kinds, or has
    no cost estimate (``machine_cpu_us_per_op`` NaN or absent: older folders, runs without
    baselines); it is never drawn at a made-up position."""
    rows, left_out = [], {}

    def col(g: pd.DataFrame, name: str) -> pd.Series:
        if name not in g.columns:
            return pd.Series(math.nan, g.index)
        return pd.to_numeric(g[name], errors="coerce").astype(float)

    for w, rate in rates.items():
        g = cells[(cells["workload_spec"] == w) & (cells["rate_target"] == rate)]
        cost, lo, hi = (col(g, c) for c in ("machine_cpu_us_per_op", "machine_cpu_ci_low_us",
                                            "machine_cpu_ci_high_us"))
        drop, p99 = col(g, "drop_rate"), col(g, "latency_p99_us")
        for i, r in g.iterrows():
            why = (SEES_NONE if r["status"] == "unsupported" else
                   NOT_MEASURED if r["status"] != "ok" else
                   NO_COST if math.isnan(cost[i]) else
                   NO_DROPS if math.isnan(drop[i]) else None)
            if why:
                left_out.setdefault(why, {}).setdefault(w, []).append(r["series"])
                continue
            rows.append([r["series"], r["mode"], w, rate, cost[i], lo[i], hi[i], drop[i],
                         p99[i]])
    order = [NO_COST, SEES_NONE, NOT_MEASURED, NO_DROPS]
    return OverviewPoints(pd.DataFrame(rows, columns=OVERVIEW_COLUMNS),
                          dict(rates),
                          {k: left_out[k] for k in order if k in left_out})


def _p99_decades(p99: np.ndarray) -> tuple[int, int]:
    """The decades (log10 µs) the size legend shows: those the data spans, within
    ``P99_DECADES``."""
    v = p99[np.isfinite(p99) & (p99 > 0)]
    lo_all, hi_all = P99_DECADES
    if not len(v):
        return lo_all, lo_all + 1
    lo = min(max(math.floor(math.log10(v.min())), lo_all), hi_all - 1)
    hi = max(min(math.ceil(math.log10(v.max())), hi_all), lo + 1)
    return lo, hi


def _p99_area(p99) -> np.ndarray:
    """Marker area for p99 latencies: linear in log10(p99) over a fixed 10 µs .. 1 s, so
    one decade more latency is the same step more area and the charts of two runs can be
    set side by side (latencies span eBPF's tens of µs to polling's hundreds of ms)."""
    lo, hi = P99_DECADES
    x = np.log10(np.clip(np.asarray(p99, float), 10.0 ** lo, 10.0 ** hi))
    return P99_AREA[0] + (P99_AREA[1] - P99_AREA[0]) * (x - lo) / (hi - lo)


def _us(v: float) -> str:
    return (f"{v / 1e6:g} s" if v >= 1e6 else f"{v / 1e3:g} ms" if v >= 1e3 else f"{v:g} µs")


def _cost_axis(ax, pts: pd.DataFrame) -> str:
    """Linear x unless the costs span more than ~1.5 decades, then symlog (costs near 0 and
    negative ones, noise of the paired difference, stay visible); returns the scale's
    name for the axis label."""
    x = pts["cost_us"].abs().to_numpy(float)
    ends = pts[["cost_us", "cost_lo_us", "cost_hi_us"]].abs().to_numpy(float).ravel()
    ends = ends[np.isfinite(ends)]
    small = x[x > 0].min() if (x > 0).any() else math.nan
    big = ends.max() if len(ends) else math.nan
    if not (big / small >= 30):
        return ""
    lin = 10.0 ** math.floor(math.log10(max(small, big / 1e3)))
    ax.set_xscale("symlog", linthresh=lin, linscale=0.4)
    from matplotlib.ticker import FuncFormatter

    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    return ", symlog"


def _keep_zero(ax) -> None:
    """Widen the x range so that 0 (no added cost) is in view with a little room, measured
    on the axis' own scale (on symlog, a fraction of the data range would add decades)."""
    t = ax.xaxis.get_transform()
    (a, b), z = t.transform(np.array(ax.get_xlim())), float(t.transform(np.array([0.0]))[0])
    pad = 0.04 * (b - a)
    a, b = min(a, z - pad), max(b, z + pad)
    ax.set_xlim(*t.inverted().transform(np.array([a, b])))


def overview(run: RunData, styles: Styles, out: Path):
    """Per workload, each backend as one point: what it costs (x), what it loses (y) and
    how late it is (marker area), at the middle rate of the sweep."""
    rates = {w: headline_rate(run, w) for w in run.workloads()}
    ov = overview_points(run.cells, rates)
    pts = ov.points
    if not len(pts):
        return None, ("no backend has a cost estimate (machine_cpu_us_per_op): an older "
                      "results folder or a run without baselines"
                      if NO_COST in ov.left_out else "no backend measured anything")
    workloads = [w for w in rates if rates[w] is not None]
    same_rate = len({rates[w] for w in workloads}) == 1
    decades = _p99_decades(pts["p99_us"].to_numpy(float))
    ncol = min(len(workloads), 3)
    nrow = math.ceil(len(workloads) / ncol)

    def at(rate: str) -> str:
        return "closed loop (max)" if math.isnan(rate_value(rate)) else f"{rate} ops/s"

    with plt.rc_context(RC):
        fig, axes = plt.subplots(nrow, ncol, figsize=(max(7.5, 5.4 * ncol), 4.7 * nrow + 1.9),
                                 squeeze=False, sharey=True, layout="constrained")
        labels: list[tuple] = []
        for ax, w in zip(axes.flat, workloads):
            g = pts[pts["workload_spec"] == w]
            ax.set_title(f"{w} @ {at(rates[w])}")
            # 0 % gets a band of its own (linear below 0.01 %): most backends drop
            # nothing, and their names need room.
            ax.set_yscale("symlog", linthresh=0.01, linscale=0.9)
            ax.set_ylim(-0.009, 200)
            ax.set_yticks([0, 0.01, 0.1, 1, 10, 100], ["0", "0.01", "0.1", "1", "10", "100"])
            ax.axhline(DROP_THRESHOLD * 100, color="black", linewidth=0.8, linestyle="-.",
                       zorder=1)
            ax.axvline(0, color="#444", linewidth=0.8, zorder=1)
            if not len(g):   # the caption says why each backend is missing
                ax.text(0.5, 0.5, "no backend with a cost estimate and a drop rate",
                        transform=ax.transAxes, ha="center", va="center", color="#888")
            scale = _cost_axis(ax, g) if len(g) else ""
            ax.set_xlabel(f"machine CPU per operation, sensor − baseline (µs{scale})")
            if not len(g):
                continue
            items, whiskers = [], []
            for _, r in g.iterrows():
                mode = r["mode"] if r["mode"] in MODE_MARKER else "user"
                colour = MODE_COLOUR[mode]
                y = r["drop_rate"] * 100
                if np.isfinite(r["cost_lo_us"]) and np.isfinite(r["cost_hi_us"]):
                    ax.errorbar([r["cost_us"]], [y],
                                xerr=[[max(r["cost_us"] - r["cost_lo_us"], 0)],
                                      [max(r["cost_hi_us"] - r["cost_us"], 0)]],
                                fmt="none", ecolor=colour, elinewidth=1.3, capsize=3.5,
                                alpha=0.9, zorder=3)
                    whiskers.append((r["cost_lo_us"], r["cost_hi_us"], y))
                seen = np.isfinite(r["p99_us"])
                area = float(_p99_area([r["p99_us"]])[0]) if seen else P99_AREA[0]
                ax.scatter([r["cost_us"]], [y], s=area, marker=MODE_MARKER[mode],
                           facecolor=colour if seen else "none", edgecolor=colour if not seen
                           else "white", linewidth=1.5 if not seen else 0.8,
                           alpha=0.8 if seen else 1, zorder=4, clip_on=False)
                items.append((r["cost_us"], y, r["series"], colour, math.sqrt(area) / 2))
            ax.margins(x=0.12)
            _keep_zero(ax)
            labels.append((ax, items, whiskers))
        for ax in axes[:, 0]:
            ax.set_ylabel("events dropped (%, supported kinds pooled)")
        for ax in list(axes.flat)[len(workloads):]:
            ax.set_visible(False)
        modes = [m for m in ("kernel", "user", "calibration") if m in set(pts["mode"])]
        enc = [plt.Line2D([], [], linestyle="none", marker=MODE_MARKER[m], markersize=9,
                          color=MODE_COLOUR[m], label=MODE_NAME[m]) for m in modes]
        if pts["p99_us"].isna().any():
            enc.append(plt.Line2D([], [], linestyle="none", marker="o", markersize=6,
                                  markerfacecolor="none", color="#444",
                                  label="hollow: no event seen, so no latency"))
        enc.append(plt.Line2D([], [], color="#444", marker="|", markersize=9, linewidth=1.3,
                              label="whiskers: 95 % CI over paired blocks"))
        enc.append(plt.Line2D([], [], color="black", linestyle="-.", linewidth=0.8,
                              label=f"drop threshold {DROP_THRESHOLD:.1%}"))
        sizes = [plt.Line2D([], [], linestyle="none", marker="o", color="#999",
                            markersize=math.sqrt(_p99_area([10.0 ** d])[0]),
                            label=_us(10.0 ** d)) for d in range(decades[0], decades[1] + 1)]
        fig.legend(handles=enc, loc="outside lower left", frameon=False, fontsize=9,
                   ncol=2 if ncol > 1 else 1, title="colour and shape: mode",
                   title_fontsize=9, alignment="left")
        fig.legend(handles=sizes, loc="outside lower right", frameon=False, fontsize=9,
                   ncol=len(sizes), title="marker area: p99 latency (t_seen − t_issue)",
                   title_fontsize=9, columnspacing=1.6, handletextpad=0.8, borderpad=0.9)
        rate_txt = (at(rates[workloads[0]]) if same_rate else
                    "the middle rate of each workload's sweep")
        fig.suptitle(f"Cost vs loss per backend at {rate_txt}: lower left is better")
        # Labels go on last, once the layout is fixed: their overlaps are measured on screen.
        fig.canvas.draw()
        fig.set_layout_engine("none")
        for ax, items, whiskers in labels:
            place_labels(fig, ax, items, whiskers)
        paths = save(fig, out, "overview")

    rate_txt = (at(rates[workloads[0]]) + (", the middle of the rate sweep"
                                           if len(run.numeric_rates()) > 1 else "")
                if same_rate else "the middle rate of each workload's sweep")
    if same_rate and rates[workloads[0]] == headline_rate(run):
        rate_txt += " (as in the headline table)"
    caption = (
        f"One point per backend and workload at {rate_txt}. "
        "x: total cost, whole-machine CPU µs per workload operation, sensor cell minus its "
        "paired no-sensor baseline; whiskers: 95 % CI over paired blocks. y: events dropped, "
        "pooled over the kinds the backend supports (symlog scale, so 0 % is the bottom "
        f"line; dash-dot: the {DROP_THRESHOLD:.1%} drop threshold). Marker area: p99 "
        "latency t_seen − t_issue over all kinds, on a log scale (size legend); a hollow "
        "marker saw no event. Colour and shape give the mode: red squares kernel (eBPF), "
        "blue circles user space, grey diamonds calibration.")
    if ov.left_out:
        caption += " Not drawn — " + ov.left_out_text() + "."
    return paths, caption
