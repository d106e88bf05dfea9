"""The sections of a report, each built once from a results folder's read model as data
(``bench.report.present``) and rendered to report.html, the Markdown page and the terminal.

``costs`` is the cost and loss table (the report's summary, the Markdown page's headline,
one workload of the terminal summary: the same rows, columns picked from
``bench.report.columns``); ``kinds`` the per-kind detail, which names a backend's kinds
it does not see once instead of a row of dashes per kind; then max sustainable rate, what
the machine could resolve, the mechanisms, the failure scenarios, warnings, settings and
the machine.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd

from bench.analysis.metrics import DROP_THRESHOLD
from bench.core import fmt
from bench.report import mechanisms as mech, ranking, resolution as res, scenarios as scen
from bench.report.columns import CELL, KIND, KIND_LATENCIES, legend, limit_legend
from bench.report.present import Details, Ival, Num, Para, Section, Table, Text, backend
from bench.results import (applications as apps, bursts as burstmod, cost as costmod,
                           sustainable as sus)
from bench.results.rundata import RunData

# The columns each view shows (names in bench.report.columns.CELL)
REPORT = ["backend", "mode", "workload", "rate", "status", "kinds", "drop", "worst_drop",
          "p50", "p99", "machine", "cpu_pct", "cpu_event", "idle", "marginal", "kernel", "gap",
          "overhead", "slowdown", "limit", "repeats", "blocks"]
HEADLINE = ["backend", "mode", "workload", "kinds", "drop", "worst_drop", "p50", "p99",
            "machine", "idle", "marginal", "kernel", "overhead"]
TERMINAL = ["backend", "rate", "kinds_seen", "worst_drop", "p50", "p99", "cpu_event",
            "machine", "limit"]
KIND_COLUMNS = ["backend", "rate", "kind", "status", "expected", "matched", "drop",
                "duplicates", "unmatched", "self_lost", *KIND_LATENCIES]


def table(rows: pd.DataFrame, columns: list[str], catalogue=CELL, left: int = 1) -> Table:
    """A table of ``rows`` (a frame of cells or kinds) with the named columns."""
    cols = [catalogue[c] for c in columns]
    return Table([c.header for c in cols], [[c.get(r) for c in cols] for _, r in rows.iterrows()],
                 [str(m) for m in rows["mode"]] if len(rows) else [], left)


def intro(columns: list[str], overhead_limit_pct: float, lead: str) -> str:
    """``lead``, then what each column shown means."""
    parts = [legend(columns)] + ([limit_legend(overhead_limit_pct)] if "limit" in columns else [])
    return f"{lead} " + "; ".join(p for p in parts if p) + "."


def sees_none(cells: pd.DataFrame) -> dict[str, list[str]]:
    """workload -> the series that see none of its kinds (listed once, not as rows)."""
    blind = cells[cells["status"] == "unsupported"] if len(cells) else cells
    out: dict[str, list[str]] = {}
    for _, r in blind.iterrows():
        names = out.setdefault(str(r["workload_spec"]), [])
        if r["series"] not in names:
            names.append(str(r["series"]))
    return out


def _names(series) -> str:
    return ", ".join(f"`{s}`" for s in series)


LEAD = "Repetitions combined: CPU averaged over repeats."


def summary(run: RunData) -> Section:
    """Every measured backend x workload x rate (report.html)."""
    c = run.cells
    blocks = [table(c[c["status"] != "unsupported"], REPORT, left=5)] if len(c) else []
    blind = sees_none(c)
    if blind:
        blocks.append(Para("Not in the table, sees none of the workload's kinds (see the "
                           "coverage chart):", [f"{w}: {_names(s)}" for w, s in blind.items()]))
    return Section("summary", "Summary", intro(REPORT, run.overhead_limit_pct, LEAD), blocks)


def headline(run: RunData, rate: str | None) -> Section:
    """The measured backends x workloads at one rate (the Markdown page)."""
    c = run.cells
    c = c[(c["rate_target"] == rate) & (c["status"] == "ok")] if len(c) else c
    if not len(c):
        return Section("headline", "")
    return Section("headline", f"Headline at {rate} ops/s",
                   intro(HEADLINE, run.overhead_limit_pct, LEAD), [table(c, HEADLINE)])


def costs(run: RunData, workload: str) -> Section:
    """One workload of the terminal summary: a row per backend x rate that measured it,
    those that see none of its kinds named once, what did not run with its reason, and
    the ranking sentences per rate."""
    c = run.cells
    c = c[c["workload_spec"] == workload]
    shown = c[c["status"] != "unsupported"]
    rates = list(dict.fromkeys(shown["rate_target"]))
    one = len(rates) == 1   # one rate: said in the title, not on every row
    blocks: list = [table(shown, [x for x in TERMINAL if not (one and x == "rate")])]
    blind = sees_none(c).get(workload)
    if blind:
        blocks.append(Para(f"sees none of its kinds: {_names(blind)}"))
    bad = shown[shown["status"].isin(["failed", "skipped"])]
    if len(bad):
        blocks.append(Para("did not measure:", [f"`{r['series']}` @ {r['rate_target']}: "
                                                f"{r['status']}: {r['reason']}"
                                                for _, r in bad.iterrows()], kind="warn"))
    blocks += ranked(run, workload, legend=False)
    return Section(f"wl-{workload}", f"Workload {workload}"
                   + (f" @ {rates[0]} ops/s" if one else ""), "", blocks)


def ranked(run: RunData, workload: str, rates: list[str] | None = None,
           legend: bool = True) -> list[Para]:
    """The ranking sentences of a workload, one paragraph per rate that has any (of
    ``rates``, default all), and what they mean."""
    multi = len(run.rates()) > 1
    out = []
    for rate in run.rates() if rates is None else rates:
        said = ranking.sentences(run, workload, rate)
        if said:
            out.append(Para((f"At {rate} ops/s: " if multi else "") + " ".join(said),
                            kind="plain"))
    return out + [Para(ranking.LEGEND)] if out and legend else out


def kinds(run: RunData, workload: str, rates: list[str] | None = None) -> Section:
    """Per kind, folded away: the kinds each backend supports (rows), and for each backend
    the kinds of the workload it does not see, said once."""
    k = run.kinds
    k = k[k["workload_spec"] == workload] if len(k) else k
    if rates is not None and len(k):
        k = k[k["rate_target"].isin(rates)]
    if not len(k):
        return Section(f"kinds-{workload}", "")
    shown = k[k["status"] != "unsupported"]
    blocks: list = [table(shown, KIND_COLUMNS, KIND, left=4)] if len(shown) else []
    missing = []
    all_kinds = list(dict.fromkeys(k["kind"]))
    for s, g in k.groupby("series", sort=False):
        unseen = list(dict.fromkeys(g.loc[g["status"] == "unsupported", "kind"]))
        if unseen and len(unseen) == len(all_kinds):
            missing.append(f"`{s}` sees none of them")
        elif unseen:
            missing.append(f"`{s}` does not see: {', '.join(unseen)}")
    if missing:
        blocks.append(Para("Kinds not supported (no row above):", missing))
    where = "" if rates is None else f" at {', '.join(rates)} ops/s"
    return Section(f"kinds-{workload}", "", "", [
        Details(f"Per kind{where}: expected, matched, drops, duplicates, latency "
                f"percentiles ({len(shown)} rows)", blocks)])


def sustainable(run: RunData) -> Section:
    title = "Max sustainable rate (ops/s)"
    if len(run.numeric_rates()) < 2:
        return Section("sustainable", "Max sustainable rate",
                       "Only one offered rate was run, so there is no rate sweep and no max "
                       "sustainable rate. Run several rates (`-r 200,1000,5000`) to get one.")
    t = sus.table(run)
    if t.empty:
        return Section("sustainable", "")
    modes = run.series_info().set_index("series")["mode"]
    rows = [[backend(s), str(modes.get(s, ""))] + [str(v) for v in t.loc[s]] for s in t.index]
    return Section("sustainable", title, (
        f"The highest offered rate at which the backend (and every lower rate) kept drops ≤ "
        f"{DROP_THRESHOLD:.1%} for every kind it supports and kept up with the workload "
        "(achieved ≥ 95 % of the target, no growing lag behind the schedule, overhead "
        f"interval not wholly above {run.overhead_limit_pct:g} %), and the tested rate "
        "above it that failed: `kept–failed` (a searched run, `-r search`, narrows the two "
        "to its resolution). `≥`: never saturated in the sweep; *generator limit*: the "
        "next rate could not be offered (its no-sensor baselines fell short of it); `<`: "
        "the lowest rate already failed; n/a: sees none of the workload's kinds; "
        "*lossless*: the same judged on drops alone, shown when something else was the "
        "limit."),
        [Table(["backend", "mode"] + [str(c) for c in t.columns], rows,
               [str(modes.get(s, "")) for s in t.index], left=2)])


def total_cost(run: RunData) -> Section:
    """The total cost of sensing where it can be told from the noise (bench.results.cost)."""
    items = costmod.costs(run)
    if not items or all(c.rates < 2 for c in items):
        return Section("total-cost", "")
    modes = run.series_info().set_index("series")["mode"]
    rows = [[backend(c.series), str(modes.get(c.series, "")), c.workload_spec,
             Ival(c.us_per_event, c.ci_low_us, c.ci_high_us, sign=True),
             Ival(*c.cores_per_100k, 2, sign=True),
             Text("yes" if c.resolved else "no"),
             Num(c.points, 0), Num(c.rates, 0), c.at_rate,
             Ival(c.at_rate_us, c.at_rate_low_us, c.at_rate_high_us, sign=True),
             Num(c.own_us_per_event)]
            for c in items]
    return Section("total-cost", "Total cost of sensing (µs of machine CPU per event)", (
        "The whole machine's busy CPU that the sensor adds, per event it is offered "
        "(kernel, interrupts, the workload and the sensor's own processes). *slope*: of "
        "the busy cores added over each block's own baseline against the events a second "
        "offered, across every rate the sensor kept up with, with its 95 % t-interval; "
        "*cores per 100 k/s* the same slope as cores per 100 000 events a second; "
        f"*resolved* when that interval lies within ±{costmod.RESOLVED_WITHIN:.0%} of the "
        "value. *at rate*: the paired-block estimate at the highest rate kept up with, per "
        "event, a method that resolves only at high rates. *own*: the sensor's processes' "
        "CPU per event there, for comparison."),
        [Table(["backend", "mode", "workload", "slope µs/event [95 % CI]",
                "cores per 100 k/s", "resolved", "blocks", "rates", "at rate",
                "at rate µs/event",
                "own µs/event"], rows, [str(modes.get(c.series, "")) for c in items], 3),
         _rankings(items)])


def _rankings(items: list) -> Para:
    """Where ranking by the sensor's own CPU would get the total cost's order wrong."""
    def ival(t) -> str:
        return fmt.interval(*t, sign=True)

    found = costmod.ranking_disagreements(items)
    if not found:
        return Para("Ranked by the sensor's own CPU per event, no two sensors of a workload "
                    "come out in the opposite order to their total costs where those "
                    "intervals tell them apart (and the cheaper one's from zero).")
    return Para(
        "Ranked by the sensor's own CPU per event, these pairs come out the other way round "
        "from their total cost (µs per event, the method that resolved it, whose intervals "
        "do not overlap, the cheaper one's above zero). The dearer one spends its cost outside its own processes: in the "
        "kernel on the workload's own path (an audit record built in the syscall, an eBPF "
        "program run in the workload's context), in kernel threads and in interrupts, "
        "which its own CPU does not count:",
        [f"{d.workload_spec}: `{d.cheaper}` {ival(d.total[0])} in total, own "
         f"{fmt.number(d.own[0])}; `{d.dearer}` {ival(d.total[1])} in total, own "
         f"{fmt.number(d.own[1])}"
         for d in found])


def bursts(run: RunData) -> Section:
    """Who recovers from bursts, and how fast (bench.results.bursts)."""
    t = burstmod.table(run)
    if t.empty:
        return Section("bursts", "")
    rows = [[backend(r["series"]), str(r["mode"]), str(r["workload_spec"]), str(r["rate_target"]),
             Num(r["bursts"], 0), Num(r["loss_worst"], 2, scale=100), Num(r["loss"], 2, scale=100),
             Num(r["drain_ms"], 1), Num(r["drain_max_ms"], 1), Num(r["recovery_p99_us"]),
             Num(r["base_p99_us"])] for _, r in t.iterrows()]
    return Section("bursts", "Bursts: loss and recovery", (
        f"Cells run with `--arrivals {t['arrivals'].iloc[0]}` (the base rate between "
        "bursts is the cell's rate). *peak loss*: the share of a burst's operations no "
        "event was matched to, the worst burst and over all of them; *drain*: from a "
        "burst's end to the last of its events seen (median and worst over the bursts); "
        "*recovery p99*: latency of the operations in the base stretch after a burst "
        "(median over the bursts), beside the base stretch before the first burst."),
        [Table(["backend", "mode", "workload", "rate", "bursts", "worst burst loss %",
                "loss %", "drain ms", "worst drain ms", "recovery p99 µs", "base p99 µs"],
               rows, [str(m) for m in t["mode"]], 4)])


def applications(run: RunData) -> Section:
    """Real programs under each sensor (bench.results.applications): slowdown, drops
    against the counted truth, CPU; and the impact score per sensor."""
    rows = apps.table(run)
    if not rows:
        return Section("applications", "")

    def drops(r: apps.AppRow):
        if r.status == "unsupported":   # a control that sees no kind: it ran, saw nothing
            return Text(f"sees no kind ({r.mode})")
        if r.status != "ok":
            return Text(f"{r.status}: {r.reason}", bad=r.status == "failed")
        if not r.drops:
            return Text("none") if math.isfinite(r.worst_drop) else Text(fmt.DASH)
        return Text(", ".join(f"{k} {fmt.number(d, 1, scale=100)} %" for k, d in r.drops),
                    bad=True)

    body = [[backend(r.series), r.mode, r.recipe,
             Ival(*r.slowdown, 1, sign=True), Num(r.blocks, 0), drops(r), Num(r.beyond, 0),
             Num(r.sensor_cpu_ms), Ival(*r.machine_ms, sign=True), Num(r.baseline_s, 2),
             ", ".join(r.unseen) or fmt.DASH] for r in rows]
    blocks: list = [Table(["backend", "mode", "recipe", "slowdown % [95 % CI]", "blocks",
                           f"kinds dropped > {DROP_THRESHOLD:.1%}", "events beyond count",
                           "sensor CPU ms", "machine CPU added ms [95 % CI]",
                           "baseline s", "kinds it cannot see"],
                          body, [r.mode for r in rows], 3)]
    unseen = apps.blind(run)
    if unseen:
        blocks.append(Para("Not run, sees none of the recipe's kinds:",
                           [f"{w}: {_names(s)}" for w, s in unseen.items()]))
    scores = apps.impact(run)
    if scores:
        blocks.append(Table(
            ["backend", "mode", "impact % [95 % CI]", "per repetition [min–max]", "recipes",
             "repetitions"],
            [[backend(i.series), i.mode, Ival(i.pct, i.lo, i.hi, 1, sign=True),
              Ival(float(np.median(i.per_repeat)), min(i.per_repeat), max(i.per_repeat), 1,
                   sign=True) if i.per_repeat else Text(fmt.DASH),
              f"{len(i.recipes)} of {i.of}" + ("" if len(i.recipes) == i.of else
                                               f" ({', '.join(i.recipes)})"),
              Num(i.repeats, 0)] for i in scores],
            [i.mode for i in scores], 2, title="Impact score"))
    return Section("applications", "Applications: real programs under each sensor", (
        "Each recipe runs a real program once per cell on generated input (`copy`: cp -r; "
        "`archive`: tar czf + xzf; `build`: make -j with cc; `find`: find + grep -r; "
        "`install`: pip install + uninstall of a wheel into a venv; `launch`: /bin/true and "
        "python3 -c pass, many times; `download`: curl from a server on 127.0.0.1; "
        "`stress-ng`: its open, fork, exec and sock stressors; `cmd`: yours). *slowdown*: "
        "the recipe's wall time against its paired baselines, geometric mean of the "
        "blocks' ratios with a t-interval on their logs. *kinds dropped*: against the "
        "operations counted in the kernel for the cell's cgroup (the sensor's events "
        "matched by the cgroup's processes and the cell's directory); *events beyond "
        "count*: reports of a kind more often than it was counted (a duplicate and a drop "
        "of one kind cancel). *sensor CPU*: its own processes' for the recipe; *machine "
        "CPU added*: the whole machine's busy CPU beyond the baseline's. *Impact score*: "
        "per repetition, the geometric mean over the recipes a sensor ran of its wall "
        "times against its baselines' (every recipe weighs the same), with the blocks' "
        "t-interval over repetitions, and the median [min–max] of the repetitions' own."), blocks)


def resolution(run: RunData) -> Section:
    t = res.table(run)
    if t.empty:
        return Section("resolution", "")
    rows = [[backend(r["series"]), str(r["workload_spec"]), str(r["rate_target"]),
             Num(r["spun_us"], 2), _pm(r["overhead_us"], r["overhead_half_us"], 2),
             _pm(r["machine_us"], r["machine_half_us"], 1), Num(r["blocks"], 0)]
            for _, r in t.iterrows()]
    return Section("resolution", "What this machine could resolve", res.INTRO, [
        Table(["control", "workload", "rate", "spun", "overhead ± half-width",
               "machine CPU ± half-width", "blocks"], rows, ["calibration"] * len(rows), 3)])


def _pm(v, half, digits: int) -> str:
    return fmt.plusminus(v, half, digits, sign=True)


def mechanisms(run: RunData, rate: str | None) -> Section:
    rows = mech.rows(run)
    if not rows:
        return Section("mechanisms", "")
    return Section("mechanisms", "Each mechanism: our reference sensor and the real tool",
                   mech.INTRO.format(rate=rate),
                   [Table(mech.HEAD, rows, [str(r[2]) for r in rows], left=4)])


def scenarios(sc: pd.DataFrame, lead: str = "") -> Section:
    """What happens when the sensor fails: the table, what did not run, what cannot run
    here (the timelines are figures the pages add)."""
    head, rows, modes = scen.summary_rows(sc)
    blocks: list = [Table(head, rows, modes, left=5)]
    na = scen.not_applicable(sc)
    if na:
        blocks.append(Para(na))
    blocks.append(Para(scen.NOT_HERE))
    return Section("scenarios", "What happens when the sensor fails",
                   (lead + " " if lead else "") + scen.LEGEND, blocks)


def warnings(run: RunData, notes: list[str]) -> Section:
    """The machine's noise warnings, the cells that did not measure, and ``notes`` (what
    the read model or the charts had to leave out)."""
    warns = list(run.meta.get("warnings") or [])
    for src in run.meta.get("merged_from") or []:
        warns += [f"{src.get('host')}: {w}" for w in (src.get("meta") or {}).get("warnings") or []]
    if run.meta.get("interrupted"):
        warns.append("the run was interrupted: some cells are missing")
    blocks = []
    if warns:
        blocks.append(Para("Noise warnings for this machine (read small differences with "
                           "care):", warns, kind="warn"))
    c = run.cells
    bad = c[c["status"].isin(["failed", "skipped"])] if len(c) else c
    if len(bad):
        blocks.append(Para("Cells that did not produce a measurement:", [
            f"`{r['series']}` {r['workload_spec']} @ {r['rate_target']}: {r['status']}: "
            f"{r['reason']}" for _, r in bad.iterrows()], kind="warn"))
    if notes:
        blocks.append(Para("", list(notes)))
    return Section("warnings", "", "", blocks)


def settings(run: RunData) -> Section:
    backends = run.meta.get("backends") or {}
    if "merged_from" in run.meta:   # a merged folder: settings per source host
        backends = {}
        for src in run.meta["merged_from"]:
            for spec, b in ((src.get("meta") or {}).get("backends") or {}).items():
                backends[f"{spec}@{src.get('host')}"] = b
    rows, cls = [], []
    for spec, b in backends.items():
        settings = ", ".join(f"{k}={v}" for k, v in (b.get("settings") or {}).items())
        other = {k: v for k, v in b.items() if k not in ("name", "settings", "mode", "mechanism")}
        rows.append([backend(spec), str(b.get("mode")), str(b.get("mechanism")),
                     Text(settings, code=True) if settings else fmt.DASH,
                     json.dumps(other, default=str) if other else ""])
        cls.append(str(b.get("mode") or ""))
    return Section("backends", "Backends and their settings", "", [
        Table(["spec", "mode", "mechanism", "settings", "other"], rows, cls, left=5)])


STATS_CELLS_SHOWN = 60   # up to this many cells, their backend statistics are in the page


def machine(run: RunData) -> Section:
    metas = ([(src.get("host"), src.get("meta") or {}) for src in run.meta["merged_from"]]
             if "merged_from" in run.meta else [(None, run.meta)])
    blocks: list = []
    for host, meta in metas:
        m = meta.get("machine") or {}
        rows = [[str(k), json.dumps(v) if isinstance(v, (dict, list)) else str(v)]
                for k, v in m.items()]
        rows += [[k, str(meta[k])] for k in ("started", "finished", "interrupted", "resumed_at")
                 if k in meta]
        if meta.get("plan"):
            rows.append(["plan", Text(json.dumps(meta["plan"]), code=True)])
        blocks.append(Table(["fact", "value"], rows, left=2, title=str(host or "")))
        stats = meta.get("backend_stats")
        if stats and len(stats) <= STATS_CELLS_SHOWN:
            blocks.append(Details("Backend statistics per cell (own counters: loss, polls, "
                                  "overruns, …)", [Table(["cell", "stats"], [
                                      [str(c), Text(json.dumps(s), code=True)]
                                      for c, s in stats.items()], left=2)]))
        elif stats:
            # a large run's per-cell counters would be most of the page: they stay in meta.json
            blocks.append(Para(f"Backend statistics of the {len(stats)} cells (own counters: "
                               "loss, polls, overruns, …): `backend_stats` in `meta.json`."))
    return Section("machine", "Machine and run", "", blocks)
