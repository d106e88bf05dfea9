"""The presentation model: one way to write a number, an interval and an unknown
(``bench.core.fmt``), typed cells (``bench.report.present``) and how the three renderers
(HTML, Markdown, terminal) write them, and ``compare``'s view: the verdicts first, rows
grouped under their backend, values in their unit."""

from __future__ import annotations

import math
import re

import pandas as pd
import pytest
from rich.console import Console

from bench.core import fmt
from bench.report import comparison, html, markdown, terminal
from bench.report.present import Details, Ival, Num, Para, Section, Table, Text
from bench.results.compare import Comparison, Row, Side

NAN = math.nan


# -- numbers, intervals, unknowns -------------------------------------------------------------
@pytest.mark.parametrize("v,kw,expect", [
    (1070.4, {}, "1,070"),                 # three significant digits, thousands grouped
    (31.04, {}, "31"),                     # no trailing zeros without fixed digits
    (2.5, {}, "2.5"),
    (0.0123, {}, "0.0123"),
    (1234567.0, {}, "1,234,567"),          # never 1.23e+06
    (0.0, {}, "0"),
    (50.0, {"sign": True}, "+50"),
    (-1.0, {}, "-1"),
    (0.5, {"digits": 2}, "0.50"),          # fixed digits keep their zeros
    (0.0004, {"digits": 2, "sign": True}, "+0.00"),
    (-0.0004, {"digits": 2}, "0.00"),      # rounds to zero: never "-0.00"
    (0.1234, {"digits": 2, "scale": 100}, "12.34"),
    (NAN, {}, "–"), (None, {}, "–"), (pd.NA, {}, "–"), ("x", {}, "–"), (math.inf, {}, "–"),
])
def test_number(v, kw, expect):
    assert fmt.number(v, **kw) == expect


@pytest.mark.parametrize("args,kw,expect", [
    ((1070.4, 1050.2, 1080.9), {"unit": "µs"}, "1,070 µs [1,050–1,081]"),
    ((2.1, -0.4, 3.8), {"digits": 1, "sign": True}, "+2.1 [-0.4, +3.8]"),
    ((2.1, -0.4, 3.8), {"digits": 1}, "2.1 [-0.4, 3.8]"),   # a negative bound: a comma
    ((31.04, 30.2, 32.55), {}, "31.0 [30.2–32.5]"),          # shared decimals, kept
    ((0.718, -28.889, 30.324), {}, "0.7 [-28.9, 30.3]"),     # ...those of the widest
    ((5.0, NAN, NAN), {"unit": "µs"}, "5.00 µs"),            # no interval: the value alone
    ((NAN, 1.0, 2.0), {}, "–"),
    ((100.0, 60.0, 160.0), {"scale": 1e-3, "digits": 1, "sign": True}, "+0.1 [+0.1, +0.2]"),
])
def test_interval(args, kw, expect):
    assert fmt.interval(*args, **kw) == expect


def test_plusminus():
    assert fmt.plusminus(9.694, 16.888, 2, sign=True) == "+9.69 ± 16.89"
    assert fmt.plusminus(9.694, NAN, 2) == "9.69"
    assert fmt.plusminus(NAN, 1.0) == "–"


# -- cells in each medium ---------------------------------------------------------------------
CELLS = [Text("ebpf:wakeup=event", code=True), Num(0.123, 2, scale=100),
         Ival(74.9, 24.0, 125.7, 1, sign=True), Text("drops", bad=True, title="a <why>"),
         Num(NAN, 0), "plain | text"]


def test_html_cells_escape_and_quiet_the_interval():
    out = [str(html.cell(c)) for c in CELLS]
    assert out[0] == "<code>ebpf:wakeup=event</code>"
    assert out[1] == "12.30"
    assert out[2] == "+74.9 <span class=note>[+24.0, +125.7]</span>"
    assert out[3] == '<span class=bad title="a &lt;why&gt;">drops</span>'
    assert out[4] == "–" and out[5] == "plain | text"
    assert str(html.cell("<script>")) == "&lt;script&gt;"


def test_markdown_cells_escape_pipes():
    out = [markdown.cell(c) for c in CELLS]
    assert out == ["`ebpf:wakeup=event`", "12.30", "+74.9 [+24.0, +125.7]", "drops", "–",
                   "plain \\| text"]


def test_markdown_details_fold_a_table_away():
    s = Section("k", "Per kind", "Intro with `code`.",
                [Details("Per kind (1 row)", [Table(["a", "b"], [["x", Num(1.5, 1)]])])])
    lines = markdown.section(s, str)
    text = "\n".join(lines)
    assert lines[:4] == ["## Per kind", "", "Intro with `code`.", ""]
    assert "<details><summary>Per kind (1 row)</summary>\n\n| a | b |\n|---|---|\n| x | 1.5 |" \
        in text and text.rstrip().endswith("</details>")


def test_html_page_folds_details_and_escapes_everything():
    s = Section("s1", "Title <x>", "Intro *em* and `c`.", [
        Details("fold", [Table(["h"], [[Text("<b>", code=True)]], ["kernel"])]),
        Para("warned", ["one & two"], kind="warn")])
    page = html.page("t", "sub", [s])
    assert '<h2 id="s1">Title &lt;x&gt;</h2>' in page
    assert "<p class=note>Intro <i>em</i> and <code>c</code>.</p>" in page
    assert re.search(r"<details><summary>fold</summary>\s*<div class=scroll><table>", page)
    assert '<tr class="kernel"><td class=l><code>&lt;b&gt;</code></td></tr>' in page
    assert "<li>one &amp; two</li>" in page and "<script" not in page


def _plain(renderable_fn) -> str:
    con = Console(width=140, record=True, color_system=None)
    renderable_fn(con)
    return con.export_text()


def test_terminal_keeps_a_backend_name_on_one_line():
    name = "proc_connector:parser=python,handoff_ms=5"
    t = Table(["backend"] + [f"column {i}" for i in range(8)],
              [[Text(name, code=True)] + [Ival(1070.0, 1050.0, 1080.0, unit="µs")] * 8])
    text = _plain(lambda con: terminal.block(t, con))
    assert name in text   # whole, not folded over lines


# -- compare: the verdicts first, grouped by backend ------------------------------------------
def _row(spec, metric, verdict, base=(1070.4, 1050.2, 1080.9), new=(1100.0, 1090.0, 1110.0),
         new_spec=None, kind=""):
    return Row(spec, new_spec or spec, "file", "1000", kind, metric, Side(*base), Side(*new),
               verdict, True)


def _comparison() -> Comparison:
    rows = [_row("audit", "latency_p50", "regression", kind="file_open"),
            _row("audit", "drop_rate", "regression", (0.1, 0.0, 0.2), (5.0, 4.0, 6.0),
                 kind="file_open"),
            _row("ebpf", "cpu_us_per_event", "improvement", (20.0, 19.0, 21.0),
                 (10.0, 9.5, 10.5))]
    rows += [_row(s, "latency_p99", "same", kind="file_create")
             for s in ("audit", "ebpf", "inotify") for _ in range(12)] + \
        [_row("inotify", "overhead", "same", new_spec="inotify:parser=python")]
    return Comparison(rows, [])


def test_compare_leads_with_the_verdicts():
    c = _comparison()
    assert len(c.rows) == 40
    secs = comparison.view(c)
    assert secs[0].blocks[0].text == ("2 gated regressions in 40 metrics compared "
                                      "(regression: 2, improvement: 1, same: 37)")
    tables = [s.blocks[0] for s in secs[1:]]
    # the backend that regressed first, its regressions first; unchanged metrics hidden
    assert [t.title for t in tables] == ["`audit`", "`ebpf`"]
    assert [r[2] for r in tables[0].rows] == ["latency p50", "drop rate"]
    assert [str(r[-1]) for r in tables[0].rows] == ["regression", "regression"]
    assert tables[0].rows[0][0] == "file @ 1000"
    assert tables[0].rows[0][3].text() == "1,070 µs [1,050–1,081]"
    assert tables[0].rows[1][5] == "+4.9 % (+4,900 %)"
    # with --all the rest follows, renamed pairs under "BASE -> NEW"
    every = comparison.view(c, show_all=True)
    assert [s.blocks[0].title for s in every[1:]] == [
        "`audit`", "`ebpf`", "`inotify`", "`inotify -> inotify:parser=python`"]
    assert sum(len(s.blocks[0].rows) for s in every[1:]) == 40


def test_compare_in_a_terminal_prints_plain_units_verdicts_first():
    text = _plain(lambda con: [terminal.render(s, con) for s in comparison.view(_comparison())])
    assert text.index("2 gated regressions") < text.index("audit") < text.index("ebpf")
    assert "1,070 µs [1,050–1,081]" in text and "e+0" not in text


def test_nothing_compared_says_so():
    assert comparison.lead(Comparison([], [])) == "nothing compared"
