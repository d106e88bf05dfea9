"""The presentation model: a report section as data, written once and rendered three ways
(``html``: report.html, ``markdown``: the published page, ``terminal``: what ``run`` and
``compare`` print).

A ``Section`` has a title, an introduction and blocks: ``Table`` (columns, rows of cells,
a class per row: the backend's mode), ``Para`` (a paragraph, optionally with bullets),
``Details`` (blocks that fold away) and ``Figure`` (a chart; the terminal has none). Cells
are typed and know how to write themselves (``bench.core.fmt``): ``Num`` a number with its
precision, ``Ival`` a value with its interval, ``Text`` words (code, or bad news). A plain
string is a ``Text``. Text in titles, introductions and paragraphs may use Markdown's
``*emphasis*`` and ```code```; each renderer turns that into its own markup.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from bench.core import fmt


@dataclass(frozen=True)
class Num:
    """A number: ``digits`` decimals (None: three significant digits), times ``scale``,
    with a sign when ``sign``; ``bad`` marks it (e.g. losses a counter missed)."""

    value: object
    digits: int | None = None
    sign: bool = False
    scale: float = 1.0
    bad: bool = False

    def text(self) -> str:
        return fmt.number(self.value, self.digits, self.sign, self.scale)


@dataclass(frozen=True)
class Ival:
    """A value with its interval, ``v [lo–hi]``: the value and the interval are rendered
    apart (the interval quieter) where the medium can."""

    value: object
    lo: object
    hi: object
    digits: int | None = None
    sign: bool = False
    scale: float = 1.0
    unit: str = ""

    def text(self) -> str:
        return fmt.interval(self.value, self.lo, self.hi, self.digits, self.sign, self.scale,
                            self.unit)

    def parts(self) -> tuple[str, str]:
        """(value, '[lo–hi]' or '')."""
        whole = self.text()
        head, _, rest = whole.partition(" [")
        return head, (f"[{rest}" if rest else "")


@dataclass(frozen=True)
class Text:
    """Words in a cell: ``code`` (a spec, a path), ``bad`` (a limit hit, a failure) with
    ``title`` the why (a tooltip in HTML), ``good`` (an improvement)."""

    text: str
    code: bool = False
    bad: bool = False
    title: str = ""
    good: bool = False

    def __str__(self) -> str:
        return self.text


Cell = Num | Ival | Text | str


def cell_text(c: Cell) -> str:
    """A cell as plain text."""
    return c if isinstance(c, str) else c.text if isinstance(c, Text) else c.text()


@dataclass
class Table:
    columns: list[str]
    rows: list[list[Cell]]
    classes: list[str] = field(default_factory=list)   # per row: the backend's mode
    left: int = 1          # the first ``left`` columns are words, aligned left
    title: str = ""        # a caption (the terminal's table title, a bold line elsewhere)

    def __bool__(self) -> bool:
        return bool(self.rows)


@dataclass
class Para:
    text: str
    items: list[str] = field(default_factory=list)   # bullets under the text
    kind: str = "note"     # note (quiet), warn (a box), plain


@dataclass
class Figure:
    chart: object          # bench.report.figure.Chart


@dataclass
class Details:
    summary: str
    blocks: list = field(default_factory=list)


@dataclass
class Section:
    id: str
    title: str
    intro: str = ""
    blocks: list = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.intro or self.blocks)


def backend(name: str) -> Text:
    """A backend spec (or series) in a cell."""
    return Text(str(name), code=True)
