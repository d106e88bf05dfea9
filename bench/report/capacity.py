"""The capacity overview: where each sensor breaks and what it costs, at a glance.

Per workload, each backend as one point: x is its max sustainable rate (the kept end of
the bracket that a search or a sweep found, ``bench.results.sustainable``; a line runs to
the rate that failed, an arrow marks one that never failed, hollow when the generator, not
the sensor, was the limit), y is the total cost of sensing per event with its 95 %
interval as whiskers (``bench.results.cost.resolved_cost``: the method that resolved it; a
hollow marker when none did). Kernel and user mode are told apart by colour and shape.
Lower right is better: more events a second before it breaks, less CPU each. The points
come from ``capacity_points``, a pure function of the run, so the numbers drawn can be
tested without drawing. A run with a single offered rate has no capacity to show: the
cost-vs-loss overview (``bench.report.overview``) is drawn instead.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd

from bench.report.figure import save
from bench.report.labels import place_labels
from bench.report.style import MODE_COLOUR, MODE_MARKER, MODE_NAME, RC, Styles
from bench.results.cost import costs, resolved_cost
from bench.results.rundata import RunData
from bench.results.sustainable import max_sustainable

import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.ticker import FuncFormatter  # noqa: E402

COLUMNS = ["series", "mode", "workload_spec", "rate", "failed", "at_least", "generator_limit",
           "label", "cost_us", "cost_lo_us", "cost_hi_us", "method", "resolved"]
BELOW_LOWEST = "failed at the lowest rate probed"
NO_COST = "no cost (no block kept up with)"


def _rate(v: float, _=None) -> str:
    return f"{v / 1000:g}k" if v >= 1000 else f"{v:g}"


def _minor_rate(v: float, _=None) -> str:
    """Between the decades, only 2 and 5 times a power of ten are labelled: every minor
    tick labelled runs the labels into each other."""
    lead = round(v / 10 ** math.floor(math.log10(v))) if v > 0 else 0
    return _rate(v) if lead in (2, 5) else ""


def capacity_points(run: RunData) -> tuple[pd.DataFrame, dict[str, list[str]]]:
    """One row per series x workload with a kept rate and a cost (``COLUMNS``), and the
    ones left out per reason, as 'series (workload)'."""
    modes = run.series_info().set_index("series")["mode"].to_dict()
    cost = {(c.series, c.workload_spec): c for c in costs(run)}
    rows, left = [], {}
    for s in max_sustainable(run):
        if s.rates_tested == 0:          # sees none of the workload's kinds
            continue
        name = f"{s.series} ({s.workload_spec})"
        if s.rate is None:
            left.setdefault(BELOW_LOWEST, []).append(name)
            continue
        c = cost.get((s.series, s.workload_spec))
        if c is None:
            left.setdefault(NO_COST, []).append(name)
            continue
        v, lo, hi, method, resolved = resolved_cost(c)
        rows.append([s.series, modes.get(s.series, "user"), s.workload_spec, s.rate,
                     s.failed if s.failed is not None else math.nan,
                     s.failed is None, s.generator_limit, s.label, v, lo, hi, method,
                     resolved])
    return pd.DataFrame(rows, columns=COLUMNS), left


def capacity(run: RunData, styles: Styles, out: Path):
    """Per workload, each backend's max sustainable rate (x) against its total cost per
    event (y): lower right is better."""
    pts, left = capacity_points(run)
    if not len(pts):
        return None, ("no backend has a total cost estimate (a run without baselines, or "
                      "an older results folder)" if NO_COST in left else
                      "no backend kept up with any offered rate")
    workloads = list(dict.fromkeys(pts["workload_spec"]))
    ncol = min(len(workloads), 3)
    nrow = math.ceil(len(workloads) / ncol)
    with plt.rc_context(RC):
        fig, axes = plt.subplots(nrow, ncol, figsize=(max(7.5, 5.4 * ncol), 4.6 * nrow + 1.6),
                                 squeeze=False, layout="constrained")
        labels = []
        for ax, w in zip(axes.flat, workloads):
            g = pts[pts["workload_spec"] == w]
            ax.set_title(w)
            ax.set_xscale("log")
            # symlog: costs span decades, and noise can put an estimate at or below 0
            ax.set_yscale("symlog", linthresh=1.0, linscale=0.5)
            ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
            ax.xaxis.set_major_formatter(FuncFormatter(_rate))
            ax.xaxis.set_minor_formatter(FuncFormatter(_minor_rate))
            ax.axhline(0, color="#444", linewidth=0.8, zorder=1)
            items = []
            for _, r in g.iterrows():
                mode = r["mode"] if r["mode"] in MODE_MARKER else "user"
                colour = MODE_COLOUR[mode]
                x, y = r["rate"], r["cost_us"]
                if np.isfinite(r["failed"]):     # the bracket: kept up .. failed
                    ax.plot([x, r["failed"]], [y, y], color=colour, lw=1.0, alpha=0.6,
                            zorder=2)
                elif r["at_least"]:              # never failed: at least this rate
                    ax.plot([x, x * 1.6], [y, y], color=colour, lw=1.0, alpha=0.7, zorder=2)
                    ax.plot([x * 1.6], [y], marker=">", markersize=5, color=colour,
                            alpha=0.7, zorder=2)
                if np.isfinite(r["cost_lo_us"]) and np.isfinite(r["cost_hi_us"]):
                    ax.errorbar([x], [y], yerr=[[max(y - r["cost_lo_us"], 0)],
                                                [max(r["cost_hi_us"] - y, 0)]],
                                fmt="none", ecolor=colour, elinewidth=1.2, capsize=3, zorder=3)
                hollow = not r["resolved"]
                ax.scatter([x], [y], s=60, marker=MODE_MARKER[mode], zorder=4,
                           facecolor="none" if hollow else colour,
                           edgecolor=colour, linewidth=1.4 if hollow else 0.8)
                items.append((x, y, r["series"], colour, 5.0))
            ax.margins(x=0.25, y=0.15)
            ax.set_xlabel("max sustainable rate (events offered a second, log)")
            labels.append((ax, items))
        for ax in axes[:, 0]:
            ax.set_ylabel("total cost (machine CPU µs per event)")
        for ax in list(axes.flat)[len(workloads):]:
            ax.set_visible(False)
        modes = [m for m in ("kernel", "user", "calibration") if m in set(pts["mode"])]
        enc = [plt.Line2D([], [], linestyle="none", marker=MODE_MARKER[m], markersize=8,
                          color=MODE_COLOUR[m], label=MODE_NAME[m]) for m in modes]
        enc += [plt.Line2D([], [], linestyle="none", marker="o", markersize=7,
                           markerfacecolor="none", color="#444",
                           label="hollow: cost not resolved (interval wider than ±25 %)"),
                plt.Line2D([], [], color="#444", lw=1.0,
                           label="line: kept up .. failed (the bracket)"),
                plt.Line2D([], [], color="#444", marker=">", lw=1.0, markersize=5,
                           label="arrow: never failed (at least this rate)")]
        fig.legend(handles=enc, loc="outside lower left", frameon=False, fontsize=9, ncol=2)
        fig.suptitle("Where each sensor breaks and what it costs: lower right is better")
        fig.canvas.draw()
        fig.set_layout_engine("none")
        for ax, items in labels:
            place_labels(fig, ax, items)
        paths = save(fig, out, "overview")
    caption = (
        "One point per backend and workload. x: the max sustainable rate, the highest "
        "offered rate it kept up with (no drops above 0.1 %, on schedule, overhead "
        "interval not wholly above the limit); a line runs to the rate that failed, an "
        "arrow marks a backend that never failed (with '(generator limit)' in the table "
        "when the load generator, not the sensor, ended the search). y: the total cost of "
        "sensing, whole-machine CPU per event offered (the slope of busy CPU over achieved "
        "rate across the rates kept up with, or the paired-block estimate at the highest "
        "of them, whichever resolved it; symlog scale); whiskers: its 95 % interval; "
        "hollow: neither method resolved it within ±25 %. Red squares kernel mode (eBPF), "
        "blue circles user space, grey diamonds calibration.")
    if left:
        caption += " Not drawn — " + "; ".join(f"{why}: {', '.join(names)}"
                                               for why, names in left.items()) + "."
    return paths, caption
