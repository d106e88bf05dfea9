"""``report.html``: one self-contained file (inline CSS, charts as data URIs, no scripts,
no network fetches) that can be mailed, attached to a CI run or opened from disk."""

from __future__ import annotations

import base64
import html
import json
import math
from pathlib import Path

import pandas as pd

from bench.analysis.metrics import DROP_THRESHOLD, LATENCY_COLUMNS
from bench.report import mechanisms, resolution, scenarios
from bench.results import sustainable
from bench.report.figure import Chart, Skipped, headline_rate
from bench.results.rundata import RunData

CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:2rem auto;
max-width:1400px;padding:0 1rem;color:#222;line-height:1.45}
.scroll{overflow-x:auto;max-width:100%}
h1{font-size:1.6rem;margin-bottom:.2rem}h2{margin-top:2.2rem;border-bottom:2px solid #ddd}
h3{margin-top:1.5rem}.sub{color:#666;margin-top:0}
table{border-collapse:collapse;margin:.6rem 0;font-size:.86rem}
th,td{border:1px solid #ddd;padding:.25rem .5rem;text-align:right;vertical-align:top}
td{white-space:nowrap}td.l{white-space:normal}
th{background:#f4f4f4}td.l,th.l{text-align:left}
tr.kernel td:first-child{border-left:4px solid #c0392b}
tr.user td:first-child{border-left:4px solid #1f5fa8}
tr.calibration td:first-child{border-left:4px solid #777}
.warn{background:#fff6e0;border-left:4px solid #e6a700;padding:.5rem 1rem}
.note{color:#555;font-size:.9rem}.bad{color:#b03a2e;font-weight:600}.ok{color:#1e8449}
figure{margin:1rem 0}figure img{max-width:100%;height:auto;border:1px solid #eee}
figcaption{color:#555;font-size:.85rem}code{background:#f4f4f4;padding:0 .2rem}
details{margin:.5rem 0}
"""


def e(x) -> str:
    return html.escape("" if x is None else str(x))


def num(v, fmt: str = ".1f", scale: float = 1.0) -> str:
    try:
        if v is None or v is pd.NA or (isinstance(v, float) and math.isnan(v)):
            return "–"
        return format(float(v) * scale, fmt)
    except (TypeError, ValueError):
        return "–"


def table(headers: list[str], rows: list[list], row_class: list[str] | None = None,
          left: int = 1) -> str:
    """A plain table; the first ``left`` columns are left-aligned text."""
    h = "".join(f'<th class="{"l" if i < left else ""}">{e(c)}</th>' for i, c in enumerate(headers))
    body = []
    for n, r in enumerate(rows):
        cls = f' class="{e(row_class[n])}"' if row_class else ""
        cells = "".join(f'<td class="{"l" if i < left else ""}">{c}</td>' for i, c in enumerate(r))
        body.append(f"<tr{cls}>{cells}</tr>")
    return (f"<div class=scroll><table><thead><tr>{h}</tr></thead>"
            f"<tbody>{''.join(body)}</tbody></table></div>")


def figure(c: Chart) -> str:
    data = base64.b64encode(c.png.read_bytes()).decode()
    return (f'<figure id="{e(c.name)}"><img src="data:image/png;base64,{data}" '
            f'alt="{e(c.title)}"><figcaption><b>{e(c.title)}.</b> {e(c.caption)} '
            f'(<a href="charts/{e(c.svg.name)}">SVG</a>)</figcaption></figure>')


def _overhead(r) -> str:
    p = r.get("overhead_ns_per_op", float("nan"))
    if p != p:
        return "–"
    n = r.get("blocks_used")
    return (f"{p / 1e3:+.2f} <span class=note>[{num(r['overhead_ci_low_ns'] / 1e3, '+.2f')}, "
            f"{num(r['overhead_ci_high_ns'] / 1e3, '+.2f')}]"
            + (f" {int(n)} blocks" if n == n and n is not None else "") + "</span>")


def _machine(r) -> str:
    p = r.get("machine_cpu_us_per_op", float("nan"))
    if p != p:
        return "–"
    return (f"{p:+.1f} <span class=note>[{num(r['machine_cpu_ci_low_us'], '+.1f')}, "
            f"{num(r['machine_cpu_ci_high_us'], '+.1f')}]</span>")


def _slowdown(r) -> str:
    p = r["slowdown_pct"]
    if p != p:
        return "–"
    return (f"{p:+.1f} <span class=note>[{num(r['slowdown_ci_low_pct'], '+.0f')}, "
            f"{num(r['slowdown_ci_high_pct'], '+.0f')}]</span>")


def summary_section(run: RunData) -> str:
    c = run.cells
    blind = c[c["status"] == "unsupported"]
    c = c[c["status"] != "unsupported"]
    rows, cls = [], []
    for _, r in c.iterrows():
        # The reason is in the warnings box at the top; here it is a tooltip.
        status = e(r["status"]) if r["status"] == "ok" else \
            f'<span class=bad title="{e(r["reason"])}">{e(r["status"])}</span>'
        sat = r["saturation"]
        rows.append([e(r["series"]), e(r["mode"]), e(r["workload_spec"]), e(r["rate_target"]),
                     status, f'{r["kinds_seen"]}/{r["kinds_supported"]}/{r["kinds_total"]}',
                     num(r["drop_rate"], ".2f", 100), num(r["drop_rate_worst"], ".2f", 100),
                     num(r["latency_p50_us"], ".0f"), num(r["latency_p99_us"], ".0f"),
                     _machine(r), num(r["sensor_cpu_pct"], ".1f"),
                     num(r["cpu_us_per_event"], ".1f"), num(r.get("sensor_idle_cpu_pct"), ".2f"),
                     e(mechanisms.marginal_text(r)),
                     num(r["kernel_ns_per_event"], ".0f"),
                     _gap(r["counter_gap"]), _overhead(r), _slowdown(r),
                     f'<span class=bad>{e(sat)}</span>' if sat else "", str(r["repeats"])])
        cls.append(r["mode"])
    head = ["backend", "mode", "workload", "rate", "status", "kinds seen/supp./all",
            "drop %", "worst kind drop %", "p50 µs", "p99 µs",
            "machine CPU µs/op [95 % CI]", "CPU %", "CPU µs/event", "idle CPU %",
            "marginal µs/event [range]", "kernel ns/event", "missed − self-reported",
            "overhead µs/op [95 % CI]",
            "slowdown % [95 % CI]", "limit", "repeats"]
    return ("<h2 id=summary>Summary</h2><p class=note>Repetitions combined: drops pooled over "
            "repeats and supported kinds; latency percentiles from the raw per-event latencies "
            "of all repeats and kinds; CPU averaged. <i>machine CPU</i>: the total cost of "
            "sensing, the whole machine's busy CPU per operation (kernel threads, interrupts "
            "and the sensor included) minus its paired baseline's, with a t-interval over "
            "blocks. <i>CPU %</i>, <i>µs/event</i>: the sensor's own CPU (for a third-party "
            "tool, the tool's, never our parsing of its output), split into its <i>idle</i> "
            "cost and a <i>marginal</i> cost per event. <i>overhead</i>: time added to each "
            "operation, from paired blocks (each sensor cell next to a baseline cell of its "
            "own), with a t-interval over the blocks; <i>slowdown</i> the same as a ratio. "
            "<i>limit</i> says whether any repeat failed to keep up: dropped more than "
            f"{DROP_THRESHOLD:.1%} of a kind (drops), fell short of its target rate (behind), "
            "fell further behind its schedule over the cell (queues), or had an overhead "
            f"interval wholly above {run.overhead_limit_pct:g} % (slows). "
            "<i>missed − self-reported</i>: events the ground truth says were missed minus "
            "what the backend's own loss counter says it lost; above 0, losses its counter "
            "did not see (counters count in their own units: audit in records)."
            + (f" Left out: {len(blind)} backend × workload × rate cells where the backend "
               "sees none of the workload's kinds (see the coverage chart)." if len(blind) else "")
            + "</p>" + table(head, rows, cls, left=5))


def mechanisms_section(run: RunData) -> str:
    rows = mechanisms.rows(run)
    if not rows:
        return ""
    cls = [r[2] for r in rows]
    return ("<h2 id=mechanisms>Each mechanism: our reference sensor and the real tool</h2>"
            f"<p class=note>{_inline(mechanisms.INTRO.format(rate=headline_rate(run)))}</p>"
            + table(mechanisms.HEAD, [[_inline(c) for c in r] for r in rows], cls, left=4))


def _gap(v) -> str:
    if v != v:
        return "–"
    return f'<span class=bad>{v:+.0f}</span>' if v > 0 else f"{v:+.0f}"


def sustainable_section(run: RunData) -> str:
    t = sustainable.table(run)
    if len(run.numeric_rates()) < 2:
        return ("<h2 id=sustainable>Max sustainable rate</h2><p class=note>Only one offered "
                "rate was run, so there is no rate sweep and no max sustainable rate. Run "
                "several rates (<code>-r 200,1000,5000</code>) to get one.</p>")
    if t.empty:
        return ""
    modes = run.series_info().set_index("series")["mode"]
    rows = [[e(s), e(modes.get(s, ""))] + [e(v) for v in t.loc[s]] for s in t.index]
    return ("<h2 id=sustainable>Max sustainable rate (ops/s)</h2><p class=note>Highest offered "
            f"rate at which the backend — and every lower rate — kept drops ≤ {DROP_THRESHOLD:.1%} "
            f"for every kind it supports and kept up with the workload (achieved ≥ 95 % of the "
            f"target, no growing lag behind the schedule, overhead interval not wholly above "
            f"{run.overhead_limit_pct:g} %). ≥: never saturated "
            "in this sweep; &lt;: the lowest rate already failed; n/a: sees none of the "
            "workload's kinds; <i>lossless</i>: the same judged on drops alone, shown when "
            "something else was the limit.</p>"
            + table(["backend", "mode"] + [str(c) for c in t.columns], rows,
                    [modes.get(s, "") for s in t.index], left=2))


def workload_section(run: RunData, wl: str, charts: list[Chart], skipped: list[Skipped]) -> str:
    k = run.kinds
    k = k[k["workload_spec"] == wl]
    rows, cls = [], []
    for _, r in k.iterrows():
        st = r["status"]
        rows.append([e(r["series"]), e(r["rate_target"]), e(r["kind"]),
                     e(st) if st == "ok" else f"<span class=note>{e(st)}</span>",
                     str(r["expected"]), str(r["matched"]) if st == "ok" else "–",
                     num(r["drop_rate"], ".2f", 100),
                     str(r["duplicates"]) if st == "ok" else "–",
                     str(r["unmatched"]) if st == "ok" else "–",
                     "–" if r["self_reported_lost"] is pd.NA else str(r["self_reported_lost"]),
                     *[num(r[c], ".0f") for c in LATENCY_COLUMNS]])
        cls.append(r["mode"])
    head = ["backend", "rate", "kind", "status", "expected", "matched", "drop %", "dup.",
            "unmatched", "self-reported lost", *(f"{p} µs" for p in LATENCY_COLUMNS.values())]
    parts = [f"<h2 id=\"wl-{e(wl)}\">Workload <code>{e(wl)}</code></h2>",
             table(head, rows, cls, left=4)]
    parts += [figure(c) for c in charts if c.section == wl]
    miss = [s for s in skipped if s.section == wl]
    if miss:
        parts.append("<p class=note>Not drawn: " + "; ".join(
            f"{e(s.what)} ({e(s.reason)})" for s in miss) + "</p>")
    return "\n".join(parts)


def settings_section(run: RunData) -> str:
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
        rows.append([e(spec), e(b.get("mode")), e(b.get("mechanism")),
                     f"<code>{e(settings)}</code>" if settings else "–",
                     e(json.dumps(other, default=str)) if other else ""])
        cls.append(b.get("mode") or "")
    return ("<h2 id=backends>Backends and their settings</h2>"
            + table(["spec", "mode", "mechanism", "settings", "other"], rows, cls, left=5))


STATS_CELLS_SHOWN = 60   # up to this many cells, their backend statistics are in the page


def machine_section(run: RunData) -> str:
    metas = ([(src.get("host"), src.get("meta") or {}) for src in run.meta["merged_from"]]
             if "merged_from" in run.meta else [(None, run.meta)])
    out = ["<h2 id=machine>Machine and run</h2>"]
    for host, meta in metas:
        if host:
            out.append(f"<h3>{e(host)}</h3>")
        m = meta.get("machine") or {}
        rows = [[e(k), e(json.dumps(v) if isinstance(v, (dict, list)) else v)] for k, v in m.items()]
        for k in ("started", "finished", "interrupted", "resumed_at"):
            if k in meta:
                rows.append([e(k), e(meta[k])])
        if meta.get("plan"):
            rows.append(["plan", f"<code>{e(json.dumps(meta['plan']))}</code>"])
        out.append(table(["fact", "value"], rows, left=2))
        stats = meta.get("backend_stats")
        if stats and len(stats) <= STATS_CELLS_SHOWN:
            out.append("<details><summary>Backend statistics per cell (own counters: loss, "
                       "polls, overruns, …)</summary>"
                       + table(["cell", "stats"], [[e(c), f"<code>{e(json.dumps(s))}</code>"]
                                                   for c, s in stats.items()], left=2)
                       + "</details>")
        elif stats:
            # a large run's per-cell counters would be most of the page: they stay in meta.json
            out.append(f"<p class=note>Backend statistics of the {len(stats)} cells (own "
                       "counters: loss, polls, overruns, …): <code>backend_stats</code> in "
                       "<code>meta.json</code>.</p>")
    return "\n".join(out)


def warnings_section(run: RunData, skipped: list[Skipped]) -> str:
    warns = list(run.meta.get("warnings") or [])
    for src in run.meta.get("merged_from") or []:
        warns += [f"{src.get('host')}: {w}" for w in (src.get("meta") or {}).get("warnings") or []]
    if run.meta.get("interrupted"):
        warns.append("the run was interrupted: some cells are missing")
    bad = run.cells[run.cells["status"].isin(["failed", "skipped"])] if len(run.cells) else []
    for _, r in (bad.iterrows() if len(bad) else []):
        warns.append(f"{r['series']} {r['workload_spec']} @ {r['rate_target']}: "
                     f"{r['status']}: {r['reason']}")
    notes = list(run.notes) + [f"{s.what}: {s.reason}" for s in skipped
                               if s.section in ("headline", "overview")]
    out = []
    if warns:
        out.append("<div class=warn><b>Warnings</b> (fine differences may be noise):<ul>"
                   + "".join(f"<li>{e(w)}</li>" for w in warns) + "</ul></div>")
    if notes:
        out.append("<p class=note>" + "<br>".join(e(n) for n in notes) + "</p>")
    return "\n".join(out)


def resolution_section(run: RunData) -> str:
    t = resolution.table(run)
    if t.empty:
        return ""
    rows = [[e(r["series"]), e(r["workload_spec"]), e(r["rate_target"]), num(r["spun_us"], ".2f"),
             f"{num(r['overhead_us'], '+.2f')} ± {num(r['overhead_half_us'], '.2f')}",
             f"{num(r['machine_us'], '+.1f')} ± {num(r['machine_half_us'], '.1f')}",
             num(r["blocks"], ".0f")] for _, r in t.iterrows()]
    return ("<h2 id=resolution>What this machine could resolve</h2><p class=note>From the "
            "run's own controls: <code>null_sensor</code> costs nothing, so the half-width of "
            "its 95 % interval is the smallest overhead (and total cost) this machine could "
            "tell from zero at these settings; <code>injected_cost</code> adds a known spin in "
            "the kernel on each operation (plus the tracepoint's own fixed cost, which nothing "
            "counts). µs per operation.</p>"
            + table(["control", "workload", "rate", "spun", "overhead ± half-width",
                     "machine CPU ± half-width", "blocks"], rows, ["calibration"] * len(rows),
                    left=3))


def _inline(text: str) -> str:
    """Markdown's *emphasis* and `code` of a shared text, as HTML."""
    import re

    text = re.sub(r"`([^`]+)`", r"<code>\1</code>", e(text))
    return re.sub(r"\*([^*]+)\*", r"<b>\1</b>", text)


def scenario_section(run: RunData, charts: list[Chart]) -> str:
    """What happens when the sensor fails: the scenario table, then the timelines."""
    sc = run.scenarios
    if sc is None or not len(sc):
        return ""
    head, rows, modes = scenarios.summary_rows(sc)
    return "\n".join([
        '<h2 id="scenarios">What happens when the sensor fails</h2>',
        f"<p class=note>{_inline(scenarios.LEGEND)}</p>",
        table(head, [[e(c) for c in r] for r in rows], modes, left=5),
        f"<p class=note>{e(scenarios.not_applicable(sc))}</p>",
        f"<p class=note>{e(scenarios.NOT_HERE)}</p>",
        "\n".join(figure(c) for c in charts if c.section == "scenarios"),
    ])


def render(run: RunData, charts: list[Chart], skipped: list[Skipped]) -> str:
    m = run.meta.get("machine") or {}
    hosts = sorted(set(run.raw["host"]))
    sub = (f"{len(hosts)} hosts: {', '.join(hosts)}" if len(hosts) > 1 else
           f"{m.get('hostname', '?')} · {m.get('os') or 'Linux'} {m.get('kernel', '?')} · "
           f"{m.get('cpu_model', '?')} "
           f"× {m.get('cpu_logical', '?')} · started {run.meta.get('started', '?')}")
    wls = run.workloads()
    top = [c for c in charts if c.section == "headline"]
    nav = " · ".join([f'<a href="#{e(c.name)}">at a glance</a>' for c in top]
                     + (['<a href="#scenarios">when the sensor fails</a>']
                        if run.scenarios is not None else [])
                     + ['<a href="#summary">summary</a>', '<a href="#sustainable">max rate</a>']
                     + [f'<a href="#wl-{e(w)}">{e(w)}</a>' for w in wls]
                     + ['<a href="#backends">backends</a>', '<a href="#machine">machine</a>'])
    if not len(run.raw):   # a folder of failure scenarios only
        body = [f"<h1>sensorbench scenarios: {e(run.path.resolve().name)}</h1>",
                f"<p class=sub>{e(sub)}</p>", scenario_section(run, charts),
                machine_section(run),
                f"<p class=note>Regenerate with <code>sensorbench report {e(run.path)}</code>. "
                "Raw data: scenarios.parquet / scenarios.csv (one row per scenario × backend "
                "× case), timeline.parquet (per 10 ms), cells.csv, meta.json.</p>"]
        return _page(f"sensorbench scenarios: {run.path.resolve().name}", body)
    body = [
        f"<h1>sensorbench report: {e(run.path.resolve().name)}</h1>",
        f"<p class=sub>{e(sub)}</p><p>{nav}</p>",
        "<p class=note>Rows and lines are coloured by mode: <b style='color:#c0392b'>kernel</b> "
        "(sensor code in the kernel: eBPF), <b style='color:#1f5fa8'>user</b> (user-space "
        "consumer of what the OS offers, or polling), <b style='color:#777'>calibration</b> "
        "(controls whose truth is known: synthetic's injected delay and drops, the null "
        "sensor's zero cost, injected_cost's known spin).</p>",
        # The chart that answers the question comes before everything else.
        "\n".join(figure(c) for c in top),
        scenario_section(run, charts),
        warnings_section(run, skipped),
        sustainable_section(run),
        summary_section(run),
        mechanisms_section(run),
        resolution_section(run),
        "\n".join(figure(c) for c in charts if c.section == "overview"),
        *[workload_section(run, w, charts, skipped) for w in wls],
        settings_section(run),
        machine_section(run),
        f"<p class=note>Regenerate with <code>sensorbench report {e(run.path)}</code>. Raw "
        "data: cells.parquet / cells.csv (one row per cell × kind), events.parquet (one row per "
        "matched event), meta.json.</p>",
    ]
    return _page(f"sensorbench report: {run.path.resolve().name}", body)


def _page(title: str, body: list[str]) -> str:
    return (f"<!doctype html>\n<html lang=en><head><meta charset=utf-8><link rel=icon href=\"data:,\">"
            f"<meta name=viewport content=\"width=device-width, initial-scale=1\">"
            f"<title>{e(title)}</title><style>{CSS}</style></head><body>\n"
            + "\n".join(b for b in body if b) + "\n</body></html>\n")


def write(run: RunData, charts: list[Chart], skipped: list[Skipped], path: Path) -> Path:
    tmp = path.with_suffix(".html.tmp")
    tmp.write_text(render(run, charts, skipped), encoding="utf-8")
    tmp.replace(path)
    return path
