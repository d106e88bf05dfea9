"""A Markdown page for a results folder (e.g. ``results/README.md`` of the published
reference run): the overview chart first, then the headline tables and the other charts,
linked by relative path so the page renders on a git forge next to the committed charts.

The tables are the sections of ``bench.report.sections``, written here as Markdown;
per-kind tables fold away in ``<details>``."""

from __future__ import annotations

import os
from pathlib import Path

from bench.report import sections
from bench.report.figure import Chart, headline_rate, slug
from bench.report.present import Details, Figure, Para, Section, Table, Text, cell_text
from bench.results.rundata import RunData


def cell(c) -> str:
    text = f"`{c.text}`" if isinstance(c, Text) and c.code else cell_text(c)
    return text.replace("|", "\\|").replace("\n", " ")


def table(t: Table) -> list[str]:
    out = [f"**{t.title}**", ""] if t.title else []
    out += ["| " + " | ".join(t.columns) + " |", "|" + "|".join("---" for _ in t.columns) + "|"]
    out += ["| " + " | ".join(cell(c) for c in r) + " |" for r in t.rows]
    return out + [""]


def block(b, link) -> list[str]:
    if isinstance(b, Table):
        return table(b) if b else []
    if isinstance(b, Para):
        if b.kind == "warn":
            return ([f"> **{b.text}**"] if b.text else []) + [f"> - {i}" for i in b.items] + [""]
        return ([b.text, ""] if b.text else []) + \
            ([f"- {i}" for i in b.items] + [""] if b.items else [])
    if isinstance(b, Details):
        inner = [x for blk in b.blocks for x in block(blk, link)]
        return [f"<details><summary>{b.summary}</summary>", "", *inner, "</details>", ""]
    if isinstance(b, Figure):
        c = b.chart
        return [f"**{c.title}.** {c.caption}", "", f"![{c.title}]({link(c.png)})", ""]
    if isinstance(b, Section):
        return section(b, link)
    return [str(b), ""]


def section(s: Section, link, level: int = 2) -> list[str]:
    if not s:
        return []
    out = [f"{'#' * level} {s.title}", ""] if s.title else []
    if s.intro:
        out += [s.intro, ""]
    return out + [x for b in s.blocks for x in block(b, link)]


def _figures(charts: list[Chart], section_name: str) -> list[Figure]:
    return [Figure(c) for c in charts if c.section == section_name]


def _machine_words(m: dict) -> str:
    return (f"**{m.get('cpu_model', '?')} × {m.get('cpu_logical', '?')} CPUs**, "
            f"{m.get('os') or 'Linux'} `{m.get('kernel', '?')}`"
            + (f" (virtual machine: {m['virtualized']})" if m.get("virtualized") else ""))


def render_scenarios(run: RunData, charts: list[Chart], link, command: str) -> str:
    """The page of a folder of failure scenarios only."""
    metas = [x.get("meta") or {} for x in run.meta.get("merged_from") or []] or [run.meta]
    m = next((x.get("machine") for x in metas if x.get("machine")), {}) or {}
    settings = sorted({f"{k}={v}" for x in metas
                       for k, v in (x.get("scenario_settings") or {}).items()})
    parts = [
        "# sensorbench failure scenarios", "",
        "What happens to the host and to the data when a security sensor crashes, stalls, "
        f"gets a malformed content update or is tampered with, measured on {_machine_words(m)}"
        + (f"; {', '.join(settings)}" if settings else "") + ".", "",
        f"Regenerate (as root, on this machine): `{command}`. Full report: "
        f"[{link(run.path / 'report.html')}]({link(run.path / 'report.html')}); every row: "
        f"[{link(run.path / 'scenarios.csv')}]({link(run.path / 'scenarios.csv')}).", "",
        *section(sections.scenarios(run.scenarios), link),
        *[x for f in _figures(charts, "scenarios") for x in block(f, link)]]
    return "\n".join(parts).rstrip() + "\n"


def _sibling_scenarios(run: RunData, link) -> list[str]:
    """The reference run's page also answers the reliability half, from the scenario run
    published next to it (make reference-scenarios)."""
    sibling = run.path.parent / "scenarios"
    if not (sibling / "scenarios.parquet").exists():
        return []
    other = RunData.load(sibling, strict_meta=False).scenarios
    if other is None or not len(other):
        return []
    page = sibling / "README.md"
    return section(sections.scenarios(other, (
        f"From the failure scenarios run on the same machine ([{link(page)}]({link(page)}): "
        "timelines, settings, every row).")), link)


def _sibling_run(run: RunData, link, name: str, build, label: str, what: str) -> list[str]:
    """A section of the ``label`` run published next to this one (``results/<name>``),
    built by ``build(RunData)``, with a line after its heading saying where its rows come
    from (``what``: what that run's own page holds)."""
    sibling = run.path.parent / name
    if not (sibling / "cells.parquet").exists():
        return []
    out = section(build(RunData.load(sibling, strict_meta=False)), link)
    page = sibling / "README.md"
    if out:   # after the heading: where these rows come from
        out[2:2] = [f"From the {label} run published next to this one "
                    f"([{link(page)}]({link(page)}): {what}).", ""]
    return out


def _sibling_bursts(run: RunData, link) -> list[str]:
    """The reference run's page also shows who recovers from bursts, from the burst run
    published next to it (make reference-bursts)."""
    return _sibling_run(run, link, "bursts", sections.bursts, "burst",
                        "every backend at its defaults, its charts and every row")


def _sibling_applications(run: RunData, link) -> list[str]:
    """The reference run's page also shows what each sensor costs real programs, from the
    applications run published next to it (make reference-applications)."""
    return _sibling_run(run, link, "applications", sections.applications, "applications",
                        "its settings, per-kind rows and charts")


def render(run: RunData, charts: list[Chart], md_path: Path, command: str) -> str:
    md_dir = md_path.parent.resolve()

    def link(p: Path) -> str:
        return os.path.relpath(p.resolve(), md_dir)

    if not len(run.raw) and run.scenarios is not None:
        return render_scenarios(run, charts, link, command)
    m = run.meta.get("machine") or {}
    plan = run.meta.get("plan") or {}
    rate = headline_rate(run)
    parts = [
        "# sensorbench reference run", "",
        f"What security sensing costs and loses, kernel vs user space, measured on "
        f"{_machine_words(m)}, started {run.meta.get('started', '?')}. Matrix: backends "
        f"`{', '.join(plan.get('backends', []))}`; workloads "
        f"`{', '.join(plan.get('workloads', []))}`; rates `{', '.join(plan.get('rates', []))}` "
        f"ops/s; {plan.get('duration_s', '?')} s per cell; {plan.get('repeat', '?')} repeats "
        "with interleaved no-sensor baselines.", "",
        f"Regenerate (as root, on this machine): `{command}`. Full report: "
        f"[{link(run.path / 'report.html')}]({link(run.path / 'report.html')}) "
        "(self-contained HTML; download and open it). Per-cell numbers: "
        f"[{link(run.path / 'cells.csv')}]({link(run.path / 'cells.csv')}). The per-event "
        "latencies (`events.parquet`) are not committed: they are large and `make reference` "
        "rebuilds them.", "",
    ]
    for ch in charts:   # the one chart that answers the question, before any table
        if ch.section == "headline":
            parts += [f"## {ch.title}", "", f"![{ch.title}]({link(ch.png)})", "", ch.caption,
                      ""]
    sc = run.scenarios
    if sc is not None and len(sc):
        parts += section(sections.scenarios(sc), link)
    else:
        parts += _sibling_scenarios(run, link)
    applications = sections.applications(run)
    applications.blocks += _figures(charts, "applications")
    for s in (sections.resolution(run), sections.warnings(run, []), sections.sustainable(run),
              sections.total_cost(run), sections.bursts(run), applications):
        parts += section(s, link)
    if not sections.bursts(run):
        parts += _sibling_bursts(run, link)
    if not sections.applications(run):
        parts += _sibling_applications(run, link)
    for s in (sections.headline(run, rate), sections.mechanisms(run, rate)):
        parts += section(s, link)

    parts += ["## Charts", "", "Kernel-mode backends are drawn in warm colours with solid "
              "lines, user-mode in cool colours with dashed lines, the calibration backend in "
              "grey (dotted). Every chart is also in SVG next to its PNG.", ""]
    for f in _figures(charts, "overview"):
        parts += block(f, link)
    for wl in run.workloads():
        parts += [f"### Workload `{wl}`", ""]
        for p in sections.ranked(run, wl, [rate] if rate else None):
            parts += block(p, link)
        for ch in charts:
            if ch.section != wl or (ch.name.startswith("ecdf-")
                                    and not ch.name.endswith(f"-{slug(str(rate))}")):
                continue   # one ECDF per workload here; all rates are in report.html
            parts += block(Figure(ch), link)
        parts += section(sections.kinds(run, wl, [rate] if rate else None), link)
    return "\n".join(parts).rstrip() + "\n"


def write(run: RunData, charts: list[Chart], path: Path, command: str) -> Path:
    path = Path(path)
    tmp = path.with_suffix(".md.tmp")
    tmp.write_text(render(run, charts, path, command), encoding="utf-8")
    tmp.replace(path)
    return path
