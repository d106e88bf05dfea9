"""A Markdown page for a results folder (e.g. ``results/README.md`` of the published
reference run): the overview chart first, then the headline tables and the other charts,
linked by relative path so the page renders on a git forge next to the committed charts."""

from __future__ import annotations

import math
import os
from pathlib import Path

from bench.analysis.metrics import DROP_THRESHOLD
from bench.report import mechanisms, resolution
from bench.results import sustainable
# headline_rate is shared with the charts: the overview chart shows the same rate as the table.
from bench.report import scenarios
from bench.report.figure import Chart, headline_rate, slug
from bench.results.rundata import RunData


def _ci(r, point: str, lo: str, hi: str, scale: float = 1.0) -> str:
    """'+2.1 [+0.4, +3.8]' from a point and its interval (divided by ``scale``), or '–'."""
    p = r.get(point, math.nan)
    if p is None or p != p:
        return "–"
    ci = (f" [{r[lo] / scale:+.1f}, {r[hi] / scale:+.1f}]"
          if r.get(lo) == r.get(lo) and r.get(hi) == r.get(hi) else "")
    return f"{p / scale:+.1f}{ci}"


def _n(v, fmt=".0f", scale=1.0) -> str:
    try:
        if v is None or v != v:
            return "–"
        return format(float(v) * scale, fmt)
    except (TypeError, ValueError):
        return "–"


def _md_table(head: list[str], rows: list[list[str]]) -> str:
    out = ["| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in head) + "|"]
    out += ["| " + " | ".join(str(c).replace("|", "\\|") for c in r) + " |" for r in rows]
    return "\n".join(out)


def _scenario_section(sc, charts: list[Chart], link, intro: str) -> list[str]:
    """"What happens when the sensor fails": the table, what did not run, what cannot run
    here; then the timelines drawn for this page (none for a sibling folder's)."""
    head, rows, _ = scenarios.summary_rows(sc)
    parts = ["## What happens when the sensor fails", "", intro, "", _md_table(head, rows), "",
             scenarios.not_applicable(sc), "", scenarios.NOT_HERE, ""]
    for ch in charts:
        if ch.section == "scenarios":
            parts += [f"**{ch.title}.** {ch.caption}", "", f"![{ch.title}]({link(ch.png)})", ""]
    return parts


def render_scenarios(run: RunData, charts: list[Chart], link, command: str) -> str:
    """The page of a folder of failure scenarios only."""
    metas = [x.get("meta") or {} for x in run.meta.get("merged_from") or []] or [run.meta]
    m = next((x.get("machine") for x in metas if x.get("machine")), {}) or {}
    settings = sorted({f"{k}={v}" for x in metas
                       for k, v in (x.get("scenario_settings") or {}).items()})
    parts = [
        "# sensorbench failure scenarios", "",
        "What happens to the host and to the data when a security sensor crashes, stalls, "
        f"gets a malformed content update or is tampered with, measured on "
        f"**{m.get('cpu_model', '?')} × {m.get('cpu_logical', '?')} CPUs**, "
        f"{m.get('os') or 'Linux'} "
        f"`{m.get('kernel', '?')}`" + (f" (virtual machine: {m['virtualized']})"
                                      if m.get("virtualized") else "")
        + (f"; {', '.join(settings)}" if settings else "") + ".", "",
        f"Regenerate (as root, on this machine): `{command}`. Full report: "
        f"[{link(run.path / 'report.html')}]({link(run.path / 'report.html')}); every row: "
        f"[{link(run.path / 'scenarios.csv')}]({link(run.path / 'scenarios.csv')}).", "",
        *_scenario_section(run.scenarios, charts, link, scenarios.LEGEND)]
    return "\n".join(parts).rstrip() + "\n"


def render(run: RunData, charts: list[Chart], md_path: Path, command: str) -> str:
    md_dir = md_path.parent.resolve()

    def link(p: Path) -> str:
        return os.path.relpath(p.resolve(), md_dir)

    if not len(run.raw) and run.scenarios is not None:
        return render_scenarios(run, charts, link, command)
    m = run.meta.get("machine") or {}
    plan = run.meta.get("plan") or {}
    parts = [
        "# sensorbench reference run",
        "",
        f"What security sensing costs and loses, kernel vs user space, measured on "
        f"**{m.get('cpu_model', '?')} × {m.get('cpu_logical', '?')} CPUs**, "
        f"{m.get('os') or 'Linux'} "
        f"`{m.get('kernel', '?')}`"
        + (f" (virtual machine: {m['virtualized']})" if m.get("virtualized") else "")
        + f", started {run.meta.get('started', '?')}. Matrix: backends "
        f"`{', '.join(plan.get('backends', []))}`; workloads "
        f"`{', '.join(plan.get('workloads', []))}`; rates `{', '.join(plan.get('rates', []))}` "
        f"ops/s; {plan.get('duration_s', '?')} s per cell; {plan.get('repeat', '?')} repeats "
        "with interleaved no-sensor baselines.",
        "",
        f"Regenerate (as root, on this machine): `{command}`. Full report: "
        f"[{link(run.path / 'report.html')}]({link(run.path / 'report.html')}) "
        "(self-contained HTML; download and open it). Per-cell numbers: "
        f"[{link(run.path / 'cells.csv')}]({link(run.path / 'cells.csv')}). The per-event "
        "latencies (`events.parquet`) are not committed: they are large and `make reference` "
        "rebuilds them.",
        "",
    ]
    for ch in charts:   # the one chart that answers the question, before any table
        if ch.section == "headline":
            parts += [f"## {ch.title}", "", f"![{ch.title}]({link(ch.png)})", "", ch.caption,
                      ""]
    sc = run.scenarios
    sibling = run.path.parent / "scenarios"
    if sc is not None and len(sc):
        parts += _scenario_section(sc, charts, link, scenarios.LEGEND)
    elif (sibling / "scenarios.parquet").exists():
        # the reference run's page also answers the reliability half, from the scenario
        # run published next to it (make reference-scenarios)
        other = RunData.load(sibling, strict_meta=False).scenarios
        page = sibling / "README.md"
        if other is not None and len(other):
            parts += _scenario_section(
                other, [], link, f"From the failure scenarios run on the same machine "
                f"([{link(page)}]({link(page)}): timelines, settings, every row). "
                + scenarios.LEGEND)
    res = resolution.table(run)
    if not res.empty:
        parts += ["## What this machine could resolve", "",
                  "From the run's own controls: `null_sensor` costs nothing, so the half-width "
                  "of its 95 % interval is the smallest overhead (and total cost) this machine "
                  "could tell from zero at these settings; `injected_cost` adds a known spin "
                  "in the kernel on each operation (plus the tracepoint's own fixed cost, "
                  "which nothing counts). Values in µs per operation.", "",
                  _md_table(["control", "workload", "rate", "spun", "overhead [± half-width]",
                             "machine CPU [± half-width]", "blocks"],
                            [[f"`{r['series']}`", r["workload_spec"], r["rate_target"],
                              _n(r["spun_us"], ".2f"),
                              f"{_n(r['overhead_us'], '+.2f')} ± {_n(r['overhead_half_us'], '.2f')}",
                              f"{_n(r['machine_us'], '+.1f')} ± {_n(r['machine_half_us'], '.1f')}",
                              _n(r["blocks"])] for _, r in res.iterrows()]), ""]
    warns = run.meta.get("warnings") or []
    if warns:
        parts += ["> **Noise warnings for this machine** — read small differences with care:"]
        parts += [f"> - {w}" for w in warns]
        parts.append("")
    missing = [f"`{c['series']}` {c['workload_spec']} @{c['rate_target']}: {c['status']} "
               f"({c['reason']})" for _, c in run.cells.iterrows()
               if c["status"] in ("failed", "skipped")]
    if missing:
        parts += ["Cells that did not produce a measurement:", ""]
        parts += [f"- {x}" for x in missing] + [""]

    t = sustainable.table(run)
    if not t.empty and len(run.numeric_rates()) >= 2:
        info = run.series_info().set_index("series")
        parts += ["## Max sustainable rate (ops/s)", "",
                  f"Highest offered rate at which the backend (and every lower rate) kept "
                  f"drops ≤ {DROP_THRESHOLD:.1%} for every kind it supports and kept up "
                  "(achieved ≥ 95 % of the target, no growing lag behind the schedule, "
                  f"overhead interval not wholly above {run.overhead_limit_pct:g} %). `≥`: "
                  "never saturated in the sweep; `<`: the lowest rate already failed; n/a: "
                  "sees none of the workload's kinds; *lossless*: the same judged on drops "
                  "alone, shown when something else was the limit.", "",
                  _md_table(["backend", "mode"] + list(t.columns),
                            [[f"`{s}`", info.loc[s, "mode"]] + list(t.loc[s]) for s in t.index]),
                  ""]

    rate = headline_rate(run)
    c = run.cells
    c = c[(c["rate_target"] == rate) & (c["status"] == "ok")]
    if len(c):
        rows = [[f"`{r['series']}`", r["mode"], r["workload_spec"],
                 f"{r['kinds_seen']}/{r['kinds_supported']}/{r['kinds_total']}",
                 _n(r["drop_rate"], ".2f", 100), _n(r["drop_rate_worst"], ".2f", 100),
                 _n(r["latency_p50_us"]), _n(r["latency_p99_us"]),
                 _ci(r, "machine_cpu_us_per_op", "machine_cpu_ci_low_us",
                     "machine_cpu_ci_high_us"),
                 _n(r.get("sensor_idle_cpu_pct"), ".2f"),
                 mechanisms.marginal_text(r), _n(r["kernel_ns_per_event"]),
                 _ci(r, "overhead_ns_per_op", "overhead_ci_low_ns", "overhead_ci_high_ns", 1e3)]
                for _, r in c.iterrows()]
        parts += [f"## Headline at {rate} ops/s", "",
                  "Repeats combined: drops pooled over repeats and supported kinds, latency "
                  "percentiles (µs, `t_seen − t_issue`) from the raw events of all kinds. "
                  "*Machine CPU*: the total cost of sensing, the whole machine's busy CPU per "
                  "operation minus its paired baseline's, 95 % interval over blocks. The "
                  "sensor's own CPU (a third-party tool's, never our parsing of its output) "
                  "as its *idle* cost and its *marginal* cost per event; kernel ns/event: "
                  "in-kernel eBPF run time. *Overhead*: time added to each operation, 95 % "
                  "interval over blocks.",
                  "",
                  _md_table(["backend", "mode", "workload", "kinds seen/supp./all", "drop %",
                             "worst kind drop %", "p50 µs", "p99 µs",
                             "machine CPU µs/op [95 % CI]", "idle CPU %",
                             "marginal µs/event [range]",
                             "kernel ns/event", "overhead µs/op [95 % CI]"], rows), ""]

    mech = mechanisms.rows(run)
    if mech:
        parts += ["## Each mechanism: our reference sensor and the real tool", "",
                  mechanisms.INTRO.format(rate=rate), "", _md_table(mechanisms.HEAD, mech), ""]

    parts += ["## Charts", "", "Kernel-mode backends are drawn in warm colours with solid "
              "lines, user-mode in cool colours with dashed lines, the calibration backend in "
              "grey (dotted). Every chart is also in SVG next to its PNG.", ""]
    by_section: dict[str, list[Chart]] = {}
    for ch in charts:
        if ch.section not in ("headline", "scenarios"):   # already shown above
            by_section.setdefault(ch.section, []).append(ch)
    for section, chs in by_section.items():
        if section != "overview":
            parts += [f"### Workload `{section}`", ""]
        for ch in chs:
            if ch.name.startswith("ecdf-") and not ch.name.endswith(f"-{slug(str(rate))}"):
                continue   # one ECDF per workload here; all rates are in report.html
            parts += [f"**{ch.title}.** {ch.caption}", "",
                      f"![{ch.title}]({link(ch.png)})", ""]
    return "\n".join(parts).rstrip() + "\n"


def write(run: RunData, charts: list[Chart], path: Path, command: str) -> Path:
    path = Path(path)
    tmp = path.with_suffix(".md.tmp")
    tmp.write_text(render(run, charts, path, command), encoding="utf-8")
    tmp.replace(path)
    return path
