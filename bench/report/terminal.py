"""Sections in a terminal (rich): what ``run`` prints at its end and what ``compare`` prints.

The same sections as the report (``bench.report.sections``), written as rich tables and
paragraphs: an interval dimmer than its value, bad news in red, a backend's name never
wrapped, rows of one mode with its colour. ``summary`` is the end of a run: per workload,
one row per backend x rate, the backends that see none of its kinds named once, and the
sentences that rank the backends where their intervals allow (``--detail`` adds the
per-kind tables).
"""

from __future__ import annotations

import re

from rich import box
from rich.console import Console
from rich.markup import escape
from rich.table import Table as RichTable

from bench.report import ranking, sections
from bench.report.present import Details, Ival, Num, Para, Section, Table, Text, cell_text
from bench.results import applications as apps
from bench.results.rundata import RunData

MODE_STYLE = {"kernel": "red3", "user": "dodger_blue2", "calibration": "grey50"}


def inline(text: str) -> str:
    """Markdown's ``*emphasis*`` and ```code``` as rich markup; everything else literal."""
    t = escape(text)
    t = re.sub(r"`([^`]+)`", r"[bold]\1[/bold]", t)
    return re.sub(r"\*([^*]+)\*", r"[italic]\1[/italic]", t)


def cell(c, style: str = "") -> str:
    if isinstance(c, Ival):
        value, ci = c.parts()
        return escape(value) + (f" [dim]{escape(ci)}[/dim]" if ci else "")
    if isinstance(c, Num):
        return f"[red]{escape(c.text())}[/red]" if c.bad else escape(c.text())
    if isinstance(c, Text):
        t = escape(c.text)
        if c.bad:
            return f"[bold red]{t}[/bold red]"
        if c.good:
            return f"[green]{t}[/green]"
        return f"[{style}]{t}[/{style}]" if style and c.code else t
    return inline(str(c))


def table(t: Table) -> RichTable:
    rt = RichTable(title=inline(t.title) if t.title else None, title_justify="left",
                   box=box.SIMPLE_HEAD, pad_edge=False)
    for i, h in enumerate(t.columns):
        # a column may wrap between words, never inside one ("[1,050–1,080]" is one), and
        # the first column (a backend's name) not at all
        word = max((len(w) for r in t.rows for w in cell_text(r[i]).split()), default=1)
        rt.add_column(h, justify="left" if i < t.left else "right", no_wrap=i == 0,
                      min_width=max([word, *(len(w) for w in h.split())]))
    first = [cell_text(r[0]) for r in t.rows]
    grouped = len(set(first)) < len(first)   # several rows a backend (rates): rule between
    for n, r in enumerate(t.rows):
        style = MODE_STYLE.get(t.classes[n], "") if t.classes else ""
        last = n + 1 == len(t.rows) or first[n + 1] != first[n]
        rt.add_row(*(cell(c, style) for c in r), end_section=grouped and last)
    return rt


def block(b, console: Console) -> None:
    if isinstance(b, Table):
        if b:
            console.print(table(b))
    elif isinstance(b, Para):
        style = {"note": "dim", "warn": "yellow"}.get(b.kind, "")
        if b.text:
            console.print(inline(b.text), style=style, highlight=False)
        for i in b.items:
            console.print("  " + inline(i), style=style, highlight=False)
    elif isinstance(b, Details):
        console.print(inline(b.summary), style="bold", highlight=False)
        for x in b.blocks:
            block(x, console)
    elif isinstance(b, Section):
        render(b, console)


def render(s: Section, console: Console) -> None:
    if not s:
        return
    if s.title:
        console.print(inline(s.title), style="bold", highlight=False)
    if s.intro:
        console.print(inline(s.intro), style="dim", highlight=False)
    for b in s.blocks:
        block(b, console)
    console.print()


def summary(run: RunData, console: Console, detail: bool = False) -> None:
    """The end of a run: per workload, the cost and loss of each backend x rate."""
    if not len(run.cells):
        console.print("no measured cells", style="yellow")
        return
    console.print(inline(sections.intro(sections.TERMINAL, run.overhead_limit_pct,
                                        "Repetitions combined.") + " " + ranking.LEGEND),
                  style="dim", highlight=False)
    console.print()
    recipes = set(apps.recipes(run))   # shown together in the applications table
    for wl in run.workloads():
        if wl in recipes:
            continue
        render(sections.costs(run, wl), console)
        if detail:
            render(sections.kinds(run, wl), console)
    if len(run.numeric_rates()) >= 2:   # a sweep or a search: where each backend broke
        render(sections.sustainable(run), console)
        render(sections.total_cost(run), console)
    render(sections.bursts(run), console)
    render(sections.applications(run), console)
