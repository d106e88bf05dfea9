"""How a number is written wherever people read one: report.html, the Markdown page, the
terminal summary of a run and ``compare``. One rule for all of them:

- unknown (None, NaN, pandas' NA, not a number at all) is a dash, ``–``;
- thousands are grouped (``1,070``), never written in exponent form;
- ``digits`` fixes the decimals; without it a number gets three significant digits and no
  trailing zeros (``1,070``, ``31``, ``2.5``, ``0.0123``);
- a value with an interval shares its decimals with the interval (without ``digits``,
  three significant digits of the largest of the three): ``1,070 [1,050–1,080]``,
  ``0.7 [-28.9, 30.3]``, or ``+2.1 [-0.4, +3.8]`` when signs are shown (a comma whenever
  a bound is negative: a dash between two signed numbers reads as a minus).
"""

from __future__ import annotations

import math

DASH = "–"


def value_of(v) -> float:
    """``v`` as a float; NaN when it is unknown or not a number."""
    try:
        x = float(v)
    except (TypeError, ValueError):
        return math.nan
    return x if math.isfinite(x) else math.nan


def known(v) -> bool:
    return not math.isnan(value_of(v))


def decimals(v: float) -> int:
    """Decimals that give ``v`` three significant digits (none from 100 up)."""
    x = abs(value_of(v))
    if not x or math.isnan(x):
        return 0
    return max(0, 2 - math.floor(math.log10(x)))


def number(v, digits: int | None = None, sign: bool = False, scale: float = 1.0) -> str:
    """``v * scale`` written by the rule above, or a dash."""
    x = value_of(v) * scale
    if math.isnan(x):
        return DASH
    d = decimals(x) if digits is None else digits
    text = f"{x:{'+' if sign else ''},.{d}f}"
    if digits is None and "." in text:   # general form: no trailing zeros
        text = text.rstrip("0").rstrip(".")
    if text.lstrip("+-").strip("0.,") == "":   # rounds to zero: no "-0"
        text = ("+" if sign else "") + text.lstrip("+-")
    return text


def interval(v, lo, hi, digits: int | None = None, sign: bool = False,
             scale: float = 1.0, unit: str = "") -> str:
    """``v unit [lo–hi]`` (all scaled by ``scale``), the value alone when the interval is
    unknown, a dash when the value is."""
    x = value_of(v) * scale
    if math.isnan(x):
        return DASH
    a, b = value_of(lo) * scale, value_of(hi) * scale
    wide = max(abs(x), abs(a), abs(b)) if not (math.isnan(a) or math.isnan(b)) else abs(x)
    d = decimals(wide) if digits is None else digits   # three digits of the widest
    head = number(x, d, sign) + (f" {unit}" if unit else "")
    if math.isnan(a) or math.isnan(b):
        return head
    sep = ", " if sign or a < 0 or b < 0 else "–"
    return f"{head} [{number(a, d, sign)}{sep}{number(b, d, sign)}]"


def plusminus(v, half, digits: int | None = None, sign: bool = False) -> str:
    """``v ± half``, both with the decimals of ``v`` (or ``digits``)."""
    x = value_of(v)
    if math.isnan(x):
        return DASH
    d = decimals(x) if digits is None else digits
    h = value_of(half)
    return number(x, d, sign) if math.isnan(h) else f"{number(x, d, sign)} ± {number(h, d)}"
