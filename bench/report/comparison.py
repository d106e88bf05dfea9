"""What ``compare`` shows, as sections (``bench.report.present``): the verdicts first, then
the metrics grouped under their backend.

The first line counts the verdicts ("2 regressions in 40 metrics compared: ..."); the
backends follow worst first (one that regressed before one that only improved), and within
a backend the rows worst first, as ``bench.results.compare`` sorts them. Values are
written in their unit with their noise interval (``1,070 µs [1,050–1,080]``).
"""

from __future__ import annotations

from bench.report.present import Ival, Para, Section, Table, Text
from bench.results.compare import METRICS, Comparison, Row

ORDER = ["failed", "regression", "improvement", "not significant", "uncertain", "same"]
COLUMNS = ["workload @ rate", "kind", "metric", "base", "new", "change", "verdict"]


def counts(c: Comparison) -> dict[str, int]:
    """Verdict -> how many rows, worst first."""
    out = {v: 0 for v in ORDER}
    for r in c.rows:
        out[r.verdict] = out.get(r.verdict, 0) + 1
    return {k: n for k, n in out.items() if n}


def lead(c: Comparison) -> str:
    """'2 regressions in 40 metrics compared (1 improvement, 37 same)'."""
    n = counts(c)
    if not n:
        return "nothing compared"
    gated = len(c.regressions)
    head = (f"{gated} gated regression{'s' if gated != 1 else ''} in {len(c.rows)} metrics "
            "compared")
    return head + " (" + ", ".join(f"{k}: {v}" for k, v in n.items()) + ")"


def _side(r: Row, side) -> Ival:
    unit = METRICS[r.metric].unit if r.metric in METRICS else ""
    return Ival(side.value, side.lo, side.hi, unit=unit)


def _verdict(r: Row) -> Text:
    text = r.verdict + ("" if r.gated or r.verdict == "same" else " (not gated)")
    return Text(text, bad=r.verdict in ("regression", "failed") and r.gated,
                good=r.verdict == "improvement")


def _metric(r: Row) -> str:
    return METRICS[r.metric].name if r.metric in METRICS else r.metric


def view(c: Comparison, show_all: bool = False) -> list[Section]:
    """The verdict count, then one table per backend (BASE spec, '-> NEW spec' when paired
    by name), worst backend first. Metrics that did not change only with ``show_all``."""
    shown = sorted((r for r in c.rows if show_all or r.verdict != "same"),
                   key=lambda r: ORDER.index(r.verdict) if r.verdict in ORDER else len(ORDER))
    groups: dict[tuple[str, str], list[Row]] = {}
    for r in shown:   # worst first: a backend's place is that of its worst row
        groups.setdefault((r.base_spec, r.new_spec), []).append(r)
    out = [Section("verdicts", "", "", [Para(lead(c), kind="plain")])]
    for (b, n), rows in groups.items():
        name = b if b == n else f"{b} -> {n}"
        out.append(Section(f"cmp-{name}", "", "", [Table(
            COLUMNS, [[f"{r.workload} @ {r.rate}", r.kind or "*", _metric(r), _side(r, r.base),
                       _side(r, r.new), r.change, _verdict(r)] for r in rows],
            left=3, title=f"`{name}`")]))
    return out
