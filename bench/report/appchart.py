"""The applications chart: each sensor's slowdown of every recipe it ran, and its impact
score (``bench.results.applications``), on one axis."""

from __future__ import annotations

import math
from pathlib import Path

from bench.report.figure import save
from bench.report.style import RC, Styles
from bench.results import applications as apps
from bench.results.rundata import RunData

import matplotlib.pyplot as plt  # noqa: E402

MARKERS = ["o", "s", "^", "v", "<", ">", "P", "X", "h", "*"]


def _err(v: float, lo: float, hi: float) -> list[list[float]]:
    return [[v - lo if math.isfinite(lo) else 0], [hi - v if math.isfinite(hi) else 0]]


def chart(run: RunData, styles: Styles, out: Path):
    """Slowdown of each recipe's wall time under each sensor (small markers, one shape per
    recipe, 95 % CI over paired blocks) and the sensor's impact score (black diamond with
    its 95 % CI): the geometric mean over its recipes, every recipe weighing the same."""
    rows = [r for r in apps.table(run) if math.isfinite(r.slowdown[0])]
    if not rows:
        return None, "no application recipe measured"
    names = apps.recipes(run)
    scores = {i.series: i for i in apps.impact(run)}
    order = list(dict.fromkeys(r.series for r in rows))
    step = 0.7 / max(len(names), 1)
    with plt.rc_context(RC):
        fig, ax = plt.subplots(figsize=(9.5, 0.55 * len(order) + 2.0))
        for i, s in enumerate(order):
            colour = styles(s)["color"]
            for r in (r for r in rows if r.series == s):
                j = names.index(r.recipe)
                y = i - 0.35 + step * (j + 0.5)
                ax.errorbar([r.slowdown[0]], [y], xerr=_err(*r.slowdown),
                            fmt=MARKERS[j % len(MARKERS)], color=colour, markersize=4,
                            linewidth=0.8, alpha=0.7, capsize=2)
            sc = scores.get(s)
            if sc is not None and math.isfinite(sc.pct):
                ax.errorbar([sc.pct], [i], xerr=_err(sc.pct, sc.lo, sc.hi), fmt="D",
                            color="black", markersize=7, linewidth=1.6, capsize=4, zorder=5)
        ax.axvline(0, color="black", linewidth=0.8)
        ax.set_yticks(range(len(order)), [styles.label(s) for s in order])
        for lbl, s in zip(ax.get_yticklabels(), order):
            lbl.set_color(styles(s)["color"])
        ax.invert_yaxis()
        ax.set_xscale("symlog", linthresh=10)
        ax.set_xlabel("slowdown of the recipe's wall time vs no sensor (%, symlog), "
                      "95 % CI over paired blocks")
        ax.legend(handles=[plt.Line2D([], [], marker=MARKERS[j % len(MARKERS)], color="#444",
                                      linestyle="none", label=n) for j, n in enumerate(names)]
                  + [plt.Line2D([], [], marker="D", color="black", linestyle="none",
                                label="impact score")],
                  loc="upper left", bbox_to_anchor=(1.01, 1), frameon=False)
        ax.set_title("Applications: what each sensor costs real programs")
        return save(fig, out, "applications"), ""
