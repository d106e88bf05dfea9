"""Charts of one results folder, as PNG (for the report and slides) and SVG (for papers).

Each chart function draws only what the data has and returns ``None`` with a reason when
there is nothing to draw (e.g. a single offered rate has no saturation curve); ``build``
collects the charts and those reasons, which the report shows.

The first chart, the overview (``bench.report.overview``), answers the benchmark's
question at a glance.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from bench.analysis.metrics import DROP_THRESHOLD
from bench.core import fmt
from bench.results.rundata import RunData, kind_order, rate_order, rate_value
from bench.report.figure import Chart, Skipped, headline_rate, save, slug
from bench.report import appchart, scenarios
from bench.report.capacity import capacity
from bench.report.overview import overview
from bench.report.style import RC, Styles
from bench.results import applications as apps
from bench.results.sustainable import max_sustainable

import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.patches import Patch  # noqa: E402

ECDF_POINTS = 400   # points per ECDF line: smooth to the eye, small in SVG


def _rate_axis(ax, rates: list[float]) -> None:
    if len(rates) >= 2 and max(rates) / min(rates) >= 10:
        ax.set_xscale("log")
    ax.set_xticks(rates)
    ax.set_xticklabels([f"{r:g}" for r in rates])
    ax.minorticks_off()


# -- coverage ------------------------------------------------------------------------------
COVERAGE_STATES = [("not measured", "#ffffff"), ("unsupported", "#d9d9d9"),
                   ("failed / skipped", "#f4a6a6"), ("supported, none seen", "#c0392b"),
                   ("seen, drops > 0.1 %", "#f5b041"), ("seen, drops <= 0.1 %", "#52be80")]


def coverage(run: RunData, styles: Styles, out: Path):
    """Backend x kind: what each backend is able to see and what it actually saw (all
    workloads, rates and repeats pooled)."""
    k = run.kinds
    if not len(k):
        return None, "no measured cells"
    series = list(run.series_info()["series"])
    kinds = sorted(k["kind"].dropna().unique(), key=kind_order)
    state = np.zeros((len(series), len(kinds)))
    text = [["" for _ in kinds] for _ in series]
    for (s, kind), g in k.groupby(["series", "kind"]):
        i, j = series.index(s), kinds.index(kind)
        ok = g[g["status"] == "ok"]
        if len(ok):
            exp, mat = ok["expected"].sum(), ok["matched"].sum()
            seen = mat / exp if exp else 0
            drop = 1 - seen
            state[i, j] = 3 if mat == 0 else (4 if drop > DROP_THRESHOLD else 5)
            text[i][j] = f"{seen * 100:.0f}" if seen < 0.995 or seen == 1 else f"{seen * 100:.1f}"
        elif (g["status"] == "unsupported").any():   # support is static, see data._status
            state[i, j] = 1
            text[i][j] = fmt.DASH
        else:
            state[i, j] = 2
            text[i][j] = "!"
    from matplotlib.colors import BoundaryNorm, ListedColormap

    cmap = ListedColormap([c for _, c in COVERAGE_STATES])
    norm = BoundaryNorm(np.arange(-0.5, len(COVERAGE_STATES)), cmap.N)
    with plt.rc_context(RC | {"axes.grid": False}):
        fig, ax = plt.subplots(figsize=(max(6, 0.95 * len(kinds) + 3), 0.42 * len(series) + 2.2))
        ax.imshow(state, cmap=cmap, norm=norm, aspect="auto")
        for i in range(len(series)):
            for j in range(len(kinds)):
                ax.text(j, i, text[i][j], ha="center", va="center", fontsize=8,
                        color="white" if state[i, j] == 3 else "black")
        ax.set_xticks(range(len(kinds)), kinds, rotation=35, ha="right")
        ax.set_yticks(range(len(series)), [styles.label(s) for s in series])
        for lbl, s in zip(ax.get_yticklabels(), series):
            lbl.set_color(styles(s)["color"])
        ax.set_xticks(np.arange(-0.5, len(kinds)), minor=True)
        ax.set_yticks(np.arange(-0.5, len(series)), minor=True)
        ax.grid(which="minor", color="white", linewidth=1.5)
        ax.tick_params(which="minor", length=0)
        ax.set_title("Coverage: % of expected events seen (all workloads, rates, repeats)")
        ax.legend(handles=[Patch(facecolor=c, edgecolor="#999", label=n)
                           for n, c in COVERAGE_STATES], loc="upper left",
                  bbox_to_anchor=(1.01, 1), frameon=False, fontsize=8)
        return save(fig, out, "coverage"), ""


# -- latency ECDF --------------------------------------------------------------------------
def _ecdf_rates(run: RunData, workload: str) -> list[str]:
    """The rates a workload's latency ECDFs are drawn at: every rate it ran at, but in a
    searched run, which probes dozens (each series its own), only its first rate, which
    every search probed, and the highest rate at which two series or more saw events."""
    m = run.measured
    rates = rate_order(m.loc[m["workload_spec"] == workload, "rate_target"].dropna().unique())
    if not (run.meta.get("plan") or {}).get("search"):
        return rates
    c = run.cells
    seen = c[(c["workload_spec"] == workload) & (c["kinds_seen"] > 0)]
    shared = [r for r, g in seen.groupby("rate_target") if g["series"].nunique() >= 2]
    top = max(shared, key=rate_value) if shared else None
    return [r for r in rates if r == headline_rate(run, workload) or r == top]


def ecdf(run: RunData, styles: Styles, out: Path, workload: str, rate: str):
    """Latency ECDF (t_seen - t_issue, log x) per kind, one line per backend."""
    ev = run.events
    if ev is None:
        return None, "no events.parquet (per-event latencies)"
    sel = ev[(ev["workload_spec"] == workload) & (ev["rate_target"] == rate)]
    if not len(sel):
        return None, "no backend matched any event"
    kinds = sorted(sel["kind"].unique(), key=kind_order)
    present = set(sel["series"].unique())
    order = [s for s in run.series_info()["series"] if s in present]
    ncol = min(len(kinds), 3) if len(kinds) != 4 else 2
    nrow = math.ceil(len(kinds) / ncol)
    qs = np.linspace(0, 1, ECDF_POINTS)
    with plt.rc_context(RC):
        fig, axes = plt.subplots(nrow, ncol, figsize=(4.6 * ncol, 3.4 * nrow + 0.8),
                                 squeeze=False, sharey=True)
        lo, hi = math.inf, 0.0
        for ax, kind in zip(axes.flat, kinds):
            g = sel[sel["kind"] == kind]
            for s in order:
                v = g.loc[g["series"] == s, "latency_ns"].to_numpy(np.float64) / 1e3
                v = v[v > 0]   # a log axis cannot show <= 0 (clock granularity)
                if not len(v):
                    continue
                x = np.quantile(v, qs)
                lo, hi = min(lo, x[0]), max(hi, x[-1])
                st = styles(s)
                ax.plot(x, qs, color=st["color"], linestyle=st["linestyle"], linewidth=1.8,
                        label=styles.label(s) + f" (n={len(v)})")
            ax.set_xscale("log")
            ax.set_title(kind)
            ax.set_xlabel("latency (µs, log)")
            ax.axhline(0.99, color="#888", linewidth=0.7, linestyle=":")
            ax.legend(loc="lower right", frameon=False, fontsize=7)
        for ax in axes[:, 0]:
            ax.set_ylabel("fraction of events")
        for ax in list(axes.flat)[len(kinds):]:
            ax.set_visible(False)
        if hi > 0:
            for ax in axes.flat:
                ax.set_xlim(max(lo * 0.8, 0.1), hi * 1.25)
        fig.suptitle(f"{workload} @ {rate} ops/s: event latency ECDF (t_seen − t_issue; "
                     "dotted line = p99)")
        fig.tight_layout()
        return save(fig, out, f"ecdf-{slug(workload)}-{slug(rate)}"), ""


# -- saturation curve -------------------------------------------------------------------------
def saturation(run: RunData, styles: Styles, out: Path, workload: str):
    """Worst-kind drop rate vs offered rate, max sustainable rate starred (series are
    dodged sideways a little so that those sitting on 0 stay visible)."""
    c = run.cells
    c = c[(c["workload_spec"] == workload) & (c["status"] == "ok")
          & c["rate_target"].map(lambda r: not math.isnan(rate_value(r)))]
    rates = sorted({rate_value(r) for r in c["rate_target"]})
    if len(rates) < 2:
        return None, "one offered rate only: a saturation curve needs a rate sweep (-r A,B,...)"
    sus = {s.series: s for s in max_sustainable(run) if s.workload_spec == workload}
    order = [x for x in run.series_info()["series"] if x in set(c["series"])]
    # Many backends drop nothing: dodge the series sideways (a few % of the rate, so the
    # position still reads as the rate) so that lines sitting on 0 stay distinguishable.
    log_x = max(rates) / min(rates) >= 10
    span = (math.log(max(rates) / min(rates)) if log_x else max(rates) - min(rates)) or 1.0
    width = 0.06 * span

    def dodge(x: np.ndarray, k: int) -> np.ndarray:
        off = (k - (len(order) - 1) / 2) * width / max(len(order), 1)
        return x * math.exp(off) if log_x else x + off

    lossless_all = []
    with plt.rc_context(RC):
        fig, ax = plt.subplots(figsize=(9, 5))
        for k, s in enumerate(order):
            g = c[c["series"] == s].assign(_r=lambda d: d["rate_target"].map(rate_value)) \
                .sort_values("_r")
            y = g["drop_rate_worst"].to_numpy(float) * 100
            if np.isnan(y).all():
                continue
            if (y == 0).all():
                lossless_all.append(s)
            st = styles(s)
            x = dodge(g["_r"].to_numpy(float), k)
            ax.plot(x, y, color=st["color"], linestyle=st["linestyle"],
                    marker=st["marker"], label=styles.label(s), linewidth=1.8)
            m = sus.get(s)
            if m and m.rate is not None:
                i = int(np.where(g["_r"].to_numpy() == m.rate)[0][0])
                ax.plot([x[i]], [y[i]], marker="*", markersize=17, color=st["color"],
                        markeredgecolor="black", linestyle="none", zorder=5)
        if lossless_all:   # under the legend: the one place no data point can be
            import textwrap

            ax.text(1.02, 0.0, textwrap.fill("No drops at any rate: " + ", ".join(lossless_all),
                                             32),
                    transform=ax.transAxes, fontsize=8, va="bottom", ha="left", color="#333")
        ax.axhline(DROP_THRESHOLD * 100, color="black", linewidth=1, linestyle="-.")
        ax.text(rates[0], DROP_THRESHOLD * 100 * 1.15, f"  drop threshold {DROP_THRESHOLD:.1%}",
                fontsize=8, va="bottom")
        ax.set_yscale("symlog", linthresh=0.01, linscale=0.5)
        ax.set_ylim(-0.004, 130)
        ax.set_yticks([0, 0.01, 0.1, 1, 10, 100], ["0", "0.01", "0.1", "1", "10", "100"])
        _rate_axis(ax, rates)
        ax.set_xlabel("offered rate (ops/s)")
        ax.set_ylabel("drop rate of the worst kind (%)")
        ax.set_title(f"{workload}: saturation (★ = max sustainable rate: drops ≤ "
                     f"{DROP_THRESHOLD:.1%}, kept up)")
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1), frameon=False)
        return save(fig, out, f"saturation-{slug(workload)}"), ""


# -- CPU ------------------------------------------------------------------------------------
def cpu(run: RunData, styles: Styles, out: Path, workload: str):
    """Sensor CPU (% of one core) and CPU µs per event vs offered rate; in-kernel cost
    (eBPF run time) drawn separately, never added in."""
    c = run.cells
    c = c[(c["workload_spec"] == workload) & (c["status"] == "ok")
          & c["sensor_cpu_pct"].notna()]
    c = c[c["rate_target"].map(lambda r: not math.isnan(rate_value(r)))]
    if not len(c):
        return None, "no CPU measurements at an offered rate"
    rates = sorted({rate_value(r) for r in c["rate_target"]})
    order = [s for s in run.series_info()["series"] if s in set(c["series"])]
    with plt.rc_context(RC):
        fig, (a1, a2) = plt.subplots(1, 2, figsize=(13, 5))
        if len(rates) == 1:
            # One rate: bars per backend are clearer than single points.
            y = np.arange(len(order))
            for ax, col, xl in ((a1, "sensor_cpu_pct", "sensor CPU (% of one core)"),
                                (a2, "cpu_us_per_event", "sensor CPU per event (µs)")):
                vals = [c.loc[c["series"] == s, col].mean() for s in order]
                ax.barh(y, vals, color=[styles(s)["color"] for s in order])
                ax.set_yticks(y, [styles.label(s) for s in order])
                ax.invert_yaxis()
                ax.set_xlabel(xl)
            a2.set_yticklabels([])
            if np.nanmax([v for v in c["cpu_us_per_event"]] + [0]) > 0:
                a2.set_xscale("log")
            fig.suptitle(f"{workload} @ {rates[0]:g} ops/s: sensor CPU")
        else:
            for s in order:
                g = c[c["series"] == s].assign(_r=lambda d: d["rate_target"].map(rate_value)) \
                    .sort_values("_r")
                kw = styles.line(s)
                a1.plot(g["_r"], g["sensor_cpu_pct"], label=styles.label(s), **kw)
                v = g["cpu_us_per_event"].where(g["cpu_us_per_event"] > 0)
                if v.notna().any():
                    a2.plot(g["_r"], v, **kw)
                k = g["kernel_ns_per_event"] / 1e3
                if k.notna().any():
                    a2.plot(g["_r"], k, color=kw["color"], linestyle=(0, (1, 1)), marker="x",
                            label=f"{s}: in-kernel (bpf_stats)")
            for ax in (a1, a2):
                _rate_axis(ax, rates)
                ax.set_xlabel("offered rate (ops/s)")
            a1.set_ylabel("sensor CPU (% of one core)")
            a2.set_ylabel("CPU per matched event (µs, log)")
            a2.set_yscale("log")
            a1.legend(loc="upper left", bbox_to_anchor=(0, -0.15), frameon=False, fontsize=8,
                      ncol=2)
            if any(line.get_label().endswith("(bpf_stats)") for line in a2.get_lines()):
                a2.legend(loc="upper left", bbox_to_anchor=(0, -0.15), frameon=False, fontsize=8)
            fig.suptitle(f"{workload}: sensor CPU vs offered rate (user-space process tree; "
                         "in-kernel eBPF cost dotted)")
        fig.tight_layout()
        return save(fig, out, f"cpu-{slug(workload)}"), ""


# -- slowdown -----------------------------------------------------------------------------
def slowdown(run: RunData, styles: Styles, out: Path, workload: str):
    """Workload slowdown vs the no-sensor baseline, 95 % CI whiskers, per backend and rate."""
    c = run.cells
    c = c[(c["workload_spec"] == workload) & c["slowdown_pct"].notna()]
    if not len(c):
        return None, "no slowdown (run without baseline cells?)"
    order = [s for s in run.series_info()["series"] if s in set(c["series"])]
    rates = sorted(set(c["rate_target"]), key=lambda r: (math.isnan(rate_value(r)),
                                                         rate_value(r) if r != "max" else 0))
    markers = ["o", "s", "^", "D", "v", "P"]
    step = 0.7 / max(len(rates), 1)
    with plt.rc_context(RC):
        fig, ax = plt.subplots(figsize=(9, 0.5 * len(order) * max(1, len(rates) * 0.6) + 1.8))
        for i, s in enumerate(order):
            col = styles(s)["color"]
            for j, r in enumerate(rates):
                g = c[(c["series"] == s) & (c["rate_target"] == r)]
                if not len(g):
                    continue
                row = g.iloc[0]
                y = i - 0.35 + step * (j + 0.5)
                p, lo, hi = row["slowdown_pct"], row["slowdown_ci_low_pct"], row["slowdown_ci_high_pct"]
                err = [[p - lo if not math.isnan(lo) else 0], [hi - p if not math.isnan(hi) else 0]]
                ax.errorbar([p], [y], xerr=err, fmt=markers[j % len(markers)], color=col,
                            capsize=3, markersize=6, linewidth=1.4)
        ax.axvline(0, color="black", linewidth=0.8)
        ax.axvline(run.overhead_limit_pct, color="#c0392b", linewidth=0.8, linestyle="--")
        ax.set_yticks(range(len(order)), [styles.label(s) for s in order])
        for lbl, s in zip(ax.get_yticklabels(), order):
            lbl.set_color(styles(s)["color"])
        ax.invert_yaxis()
        ax.set_xlabel("slowdown of the workload vs no sensor (%), 95 % CI over paired blocks")
        ax.legend(handles=[plt.Line2D([], [], marker=markers[j % len(markers)], color="#444",
                                      linestyle="none", label=f"{r} ops/s")
                           for j, r in enumerate(rates)]
                  + [plt.Line2D([], [], color="#c0392b", linestyle="--",
                                label=f"{run.overhead_limit_pct:g} % limit")],
                  loc="upper left", bbox_to_anchor=(1.01, 1), frameon=False)
        ax.set_title(f"{workload}: workload slowdown (time per operation vs baseline)")
        return save(fig, out, f"slowdown-{slug(workload)}"), ""


# -- max sustainable rate -----------------------------------------------------------------
def sustainable_chart(run: RunData, styles: Styles, out: Path):
    """Max sustainable rate per backend and workload (horizontal bars, labelled)."""
    items = max_sustainable(run)
    if len(run.numeric_rates()) < 2 or not items:
        return None, "needs a sweep of at least two offered rates"
    workloads = [w for w in run.workloads() if any(i.workload_spec == w for i in items)]
    order = [s for s in run.series_info()["series"] if any(i.series == s for i in items)]
    tested = [rate_value(r) for r in run.numeric_rates()]
    top, low = max(tested), min(tested)
    # a search spans decades: a log axis, the bars starting below the lowest rate tested
    log_x = top / low >= 20
    left = low / 2 if log_x else 0
    with plt.rc_context(RC):
        fig, axes = plt.subplots(1, len(workloads), figsize=(4.2 * len(workloads) + 2.5,
                                                              0.38 * len(order) + 1.8),
                                 squeeze=False, sharey=True)
        for ax, w in zip(axes[0], workloads):
            if log_x:
                ax.set_xscale("log")
            for i, s in enumerate(order):
                it = next((x for x in items if x.series == s and x.workload_spec == w), None)
                if it is None:
                    ax.text(left, i, " sees none", va="center", fontsize=8, color="#888")
                    continue
                colour = styles(s)["color"]
                v = it.rate or left
                ax.barh(i, v - left, left=left, color=colour,
                        hatch="//" if it.qualifier == ">=" else None, edgecolor="white")
                x_text = v
                if it.failed is not None:   # the bracket: up to the rate that failed
                    ax.plot([v, it.failed], [i, i], color=colour, linewidth=2, alpha=0.45)
                    ax.plot([it.failed], [i], marker="|", markersize=9, color=colour)
                    x_text = it.failed
                ll = it.lossless
                if ll is not None and ll.rate is not None and ll.rate != it.rate:
                    ax.plot([ll.rate], [i], marker="D", markersize=7, markerfacecolor="none",
                            markeredgecolor=colour, markeredgewidth=1.5)
                    x_text = max(x_text, ll.rate)
                ax.text(x_text * 1.15 if log_x else x_text + top * 0.03, i,
                        f" {it.full_label}", va="center", fontsize=8)
            ax.set_xlim(left, top * 30 if log_x else top * 1.7)
            ax.set_title(w)
            ax.set_xlabel("ops/s" + (" (log)" if log_x else ""))
        axes[0][0].set_yticks(range(len(order)), [styles.label(s) for s in order])
        for lbl, s in zip(axes[0][0].get_yticklabels(), order):
            lbl.set_color(styles(s)["color"])
        axes[0][0].invert_yaxis()
        fig.suptitle("Max sustainable rate: drops ≤ 0.1 % and no slowdown\n(bar: kept up; "
                     "line: up to the rate that failed; hatched: never saturated;\n"
                     "◇: lossless rate, drops only)", fontsize=10)
        fig.tight_layout()
        return save(fig, out, "sustainable"), ""


def build(run: RunData, out: Path) -> tuple[list[Chart], list[Skipped]]:
    """Draw every chart the data supports into ``out``; say why the others are missing."""
    sc = run.scenarios
    if len(run.raw) or sc is None:
        styles = Styles(run.series_info())
    else:   # scenarios only: one style per scenario spec, kernel mode first
        rows = scenarios.table_rows(sc)
        styles = Styles(rows.rename(columns={"spec": "series"})[["series", "mode"]]
                        .drop_duplicates("series"))
    charts: list[Chart] = []
    skipped: list[Skipped] = []

    def add(section, name, title, caption, result):
        paths, reason = result
        if paths is None:
            skipped.append(Skipped(section, title, reason))
        else:
            charts.append(Chart(name, title, " ".join(caption.split()), section, *paths))

    tl = run.timeline
    if sc is not None and len(sc):
        for case in scenarios.cases(sc):
            add("scenarios", f"scenario-{slug(case)}", f"Scenario {case}: timeline",
                scenarios.timeline_chart.__doc__.strip() + " " + scenarios.__doc__.split(
                    "\n\n")[1].strip(),
                scenarios.timeline_chart(sc, tl, styles, out, case) if tl is not None
                else (None, "no timeline.parquet"))
    if not len(run.raw):   # a folder of failure scenarios only: no cost views
        return charts, skipped
    # The overview goes first: the report and the Markdown page open with it.
    # With a sweep or a search, the glance is capacity against cost; with one rate, cost
    # against loss at that rate.
    if len(run.numeric_rates()) >= 2:
        paths, text = capacity(run, styles, out)
        add("headline", "overview", "Capacity vs cost at a glance", text, (paths, text))
    else:
        paths, text = overview(run, styles, out)
        add("headline", "overview", "Cost vs loss at a glance", text, (paths, text))
    add("overview", "coverage", "Coverage", coverage.__doc__.strip(),
        coverage(run, styles, out))
    add("overview", "sustainable", "Max sustainable rate", sustainable_chart.__doc__.strip(),
        sustainable_chart(run, styles, out))
    if apps.recipes(run):
        add("applications", "applications", "Applications", appchart.chart.__doc__.strip(),
            appchart.chart(run, styles, out))
    for w in run.workloads():
        add(w, f"saturation-{slug(w)}", "Saturation curve", saturation.__doc__.strip(),
            saturation(run, styles, out, w))
        for r in _ecdf_rates(run, w):
            add(w, f"ecdf-{slug(w)}-{slug(r)}", f"Latency ECDF @ {r} ops/s",
                ecdf.__doc__.strip(), ecdf(run, styles, out, w, r))
        add(w, f"cpu-{slug(w)}", "Sensor CPU", cpu.__doc__.strip(), cpu(run, styles, out, w))
        add(w, f"slowdown-{slug(w)}", "Workload slowdown", slowdown.__doc__.strip(),
            slowdown(run, styles, out, w))
    return charts, skipped
