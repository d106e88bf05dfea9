"""``report.html``: one self-contained file (inline CSS, charts as data URIs, no scripts,
no network fetches) that can be mailed, attached to a CI run or opened from disk.

The page is the sections of ``bench.report.sections`` in order, rendered by the Jinja2
template ``templates/report.html.j2`` (every value escaped by Jinja2's autoescape); what is
particular to HTML here is how a cell, an inline text and a chart are written."""

from __future__ import annotations

import base64
import re
from functools import lru_cache
from pathlib import Path

from markupsafe import Markup, escape

from bench.report import sections
from bench.report.figure import Chart, Skipped, headline_rate
from bench.report.present import Details, Figure, Ival, Num, Para, Section, Table, Text
from bench.results.rundata import RunData
from bench.results.store import EVENTS_PER_CELL

CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:2rem auto;
max-width:1400px;padding:0 1rem;color:#222;line-height:1.45}
.scroll{overflow-x:auto;max-width:100%}
h1{font-size:1.6rem;margin-bottom:.2rem}h2{margin-top:2.2rem;border-bottom:2px solid #ddd}
h3{margin-top:1.5rem}.sub{color:#666;margin-top:0}
table{border-collapse:collapse;margin:.6rem 0;font-size:.86rem}
caption{text-align:left;font-weight:600}
th,td{border:1px solid #ddd;padding:.25rem .5rem;text-align:right;vertical-align:top}
td{white-space:nowrap}td.l{white-space:normal}
th{background:#f4f4f4}td.l,th.l{text-align:left}
tr.kernel td:first-child{border-left:4px solid #c0392b}
tr.user td:first-child{border-left:4px solid #1f5fa8}
tr.calibration td:first-child{border-left:4px solid #777}
.warn{background:#fff6e0;border-left:4px solid #e6a700;padding:.5rem 1rem;margin:.6rem 0}
.note{color:#555;font-size:.9rem}.bad{color:#b03a2e;font-weight:600}.ok{color:#1e8449}
figure{margin:1rem 0}figure img{max-width:100%;height:auto;border:1px solid #eee}
figcaption{color:#555;font-size:.85rem}code{background:#f4f4f4;padding:0 .2rem}
details{margin:.5rem 0}summary{cursor:pointer}
"""

MODES = Markup(
    "<p class=note>Rows and lines are coloured by mode: <b style='color:#c0392b'>kernel</b> "
    "(sensor code in the kernel: eBPF), <b style='color:#1f5fa8'>user</b> (user-space "
    "consumer of what the OS offers, or polling), <b style='color:#777'>calibration</b> "
    "(controls whose truth is known: synthetic's injected delay and drops, the null "
    "sensor's zero cost, injected_cost's known spin).</p>")


def inline(text: str) -> Markup:
    """Markdown's ``*emphasis*`` and ```code``` of a shared text, as HTML."""
    t = re.sub(r"`([^`]+)`", r"<code>\1</code>", str(escape(text)))
    return Markup(re.sub(r"\*([^*]+)\*", r"<i>\1</i>", t))


def cell(c) -> Markup:
    """A table cell: an interval quieter than its value, code as code, bad news in red
    with its reason as a tooltip."""
    if isinstance(c, Ival):
        value, ci = c.parts()
        return escape(value) + (Markup(" <span class=note>%s</span>") % ci if ci else "")
    if isinstance(c, Num):
        return Markup("<span class=bad>%s</span>") % c.text() if c.bad else escape(c.text())
    if isinstance(c, Text):
        inner = Markup("<code>%s</code>") % c.text if c.code else escape(c.text)
        if c.bad:
            return (Markup('<span class=bad title="%s">%s</span>') % (c.title, inner)
                    if c.title else Markup("<span class=bad>%s</span>") % inner)
        return inner
    return inline(str(c)) if "`" in str(c) else escape(c)


def datauri(c: Chart) -> str:
    return "data:image/png;base64," + base64.b64encode(c.png.read_bytes()).decode()


@lru_cache(maxsize=1)
def _template():
    from jinja2 import Environment, PackageLoader

    env = Environment(loader=PackageLoader("bench.report", "templates"), autoescape=True,
                      trim_blocks=True, lstrip_blocks=True)
    env.filters.update(cell=cell, inline=inline, datauri=datauri)
    env.tests.update(table=lambda b: isinstance(b, Table), para=lambda b: isinstance(b, Para),
                     details=lambda b: isinstance(b, Details),
                     figure=lambda b: isinstance(b, Figure),
                     section=lambda b: isinstance(b, Section))
    return env.get_template("report.html.j2")


def page(title: str, sub: str, parts: list, nav: list[tuple[str, str]] | None = None) -> str:
    """A whole page: ``parts`` are sections, blocks and ready HTML (Markup)."""
    return _template().render(title=title, sub=sub, nav=nav or [], css=Markup(CSS),
                              parts=[p for p in parts if p])


def _figures(charts: list[Chart], section: str) -> list[Figure]:
    return [Figure(c) for c in charts if c.section == section]


def _scenarios(run: RunData, charts: list[Chart]) -> list:
    sc = run.scenarios
    if sc is None or not len(sc):
        return []
    return [sections.scenarios(sc), *_figures(charts, "scenarios")]


def _workload(run: RunData, wl: str, charts: list[Chart], skipped: list[Skipped]) -> Section:
    s = sections.kinds(run, wl)
    s.id, s.title = f"wl-{wl}", f"Workload `{wl}`"
    s.blocks = sections.ranked(run, wl) + s.blocks + _figures(charts, wl)
    miss = [x for x in skipped if x.section == wl]
    if miss:
        s.blocks.append(Para("Not drawn: " + "; ".join(f"{x.what} ({x.reason})" for x in miss)))
    return s


def _sub(run: RunData) -> str:
    m = run.meta.get("machine") or {}
    hosts = sorted(set(run.raw["host"]))
    if len(hosts) > 1:
        return f"{len(hosts)} hosts: {', '.join(hosts)}"
    return (f"{m.get('hostname', '?')} · {m.get('os') or 'Linux'} {m.get('kernel', '?')} · "
            f"{m.get('cpu_model', '?')} × {m.get('cpu_logical', '?')} · started "
            f"{run.meta.get('started', '?')}")


def render(run: RunData, charts: list[Chart], skipped: list[Skipped]) -> str:
    name = run.path.resolve().name
    if not len(run.raw):   # a folder of failure scenarios only
        return page(f"sensorbench scenarios: {name}", _sub(run), [
            *_scenarios(run, charts), sections.machine(run),
            Para(f"Regenerate with `sensorbench report {run.path}`. Raw data: "
                 "scenarios.parquet / scenarios.csv (one row per scenario × backend × case), "
                 "timeline.parquet (per 10 ms), cells.csv, meta.json.")])
    wls = run.workloads()
    top = _figures(charts, "headline")
    # sections a run may not have (an empty one is left off the page): linked when present
    applications = sections.applications(run)
    applications.blocks += _figures(charts, "applications")
    rates = [(sections.sustainable(run), "max rate"), (sections.total_cost(run), "total cost"),
             (sections.bursts(run), "bursts"), (applications, "applications")]
    nav = ([(f.chart.name, "at a glance") for f in top]
           + ([("scenarios", "when the sensor fails")] if run.scenarios is not None else [])
           + [("summary", "summary")] + [(s.id, label) for s, label in rates if s]
           + [(f"wl-{w}", w) for w in wls] + [("backends", "backends"), ("machine", "machine")])
    notes = list(run.notes) + [f"{s.what}: {s.reason}" for s in skipped
                               if s.section in ("headline", "overview")]
    rate = headline_rate(run)
    return page(f"sensorbench report: {name}", _sub(run), [
        MODES,
        *top,   # the chart that answers the question comes before everything else
        *_scenarios(run, charts),
        sections.warnings(run, notes),
        *(s for s, _ in rates),
        sections.summary(run),
        sections.mechanisms(run, rate),
        sections.resolution(run),
        *_figures(charts, "overview"),
        *[_workload(run, w, charts, skipped) for w in wls],
        sections.settings(run),
        sections.machine(run),
        Para(f"Regenerate with `sensorbench report {run.path}`. Raw data: cells.parquet / "
             "cells.csv (one row per cell × kind), events.parquet (matched events, a "
             f"sample of at most {EVENTS_PER_CELL:,} per cell), meta.json."),
    ], nav)


def write(run: RunData, charts: list[Chart], skipped: list[Skipped], path: Path) -> Path:
    tmp = path.with_suffix(".html.tmp")
    tmp.write_text(render(run, charts, skipped), encoding="utf-8")
    tmp.replace(path)
    return path
