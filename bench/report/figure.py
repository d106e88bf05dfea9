"""What every chart of a report shares: where a chart goes (``Chart``), why one is missing
(``Skipped``), saving it as PNG and SVG, and the rate the headline shows."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path

from bench.report import style  # noqa: F401  (selects the Agg backend before pyplot)
from bench.analysis.search import rate_text
from bench.results.rundata import RunData, rate_order, rate_value

import matplotlib.pyplot as plt  # noqa: E402


@dataclass
class Chart:
    name: str          # file stem under charts/
    title: str
    caption: str
    section: str       # 'overview' or a workload spec
    png: Path
    svg: Path


@dataclass
class Skipped:
    section: str
    what: str
    reason: str


def slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("_") or "x"


PNG_COLOURS = 24    # a chart's palette: its few colours and their anti-aliasing shades


def save(fig, out: Path, name: str) -> tuple[Path, Path]:
    out.mkdir(parents=True, exist_ok=True)
    png, svg = out / f"{name}.png", out / f"{name}.svg"
    # Fixed metadata keeps regenerated files byte-stable when nothing changed (git diffs).
    fig.savefig(png, bbox_inches="tight", metadata={"Software": None})
    with plt.rc_context({"svg.hashsalt": "sensorbench"}):   # fixed ids inside the SVG
        fig.savefig(svg, bbox_inches="tight", metadata={"Date": None, "Creator": None})
    plt.close(fig)
    _palette(png)
    return png, svg


def _palette(png: Path) -> None:
    """Rewrite a chart PNG with a palette: a chart has a handful of colours, so 8-bit
    indexed colour looks the same and is about a third of the size of 32-bit RGBA (the
    report embeds every chart; the SVG next to it stays exact)."""
    from PIL import Image

    with Image.open(png) as im:
        flat = im.convert("RGB").quantize(colors=PNG_COLOURS, method=Image.Quantize.MEDIANCUT,
                                          dither=Image.Dither.NONE)
    flat.save(png, optimize=True)


# -- the rate the headline shows ------------------------------------------------------------
def headline_rate(run: RunData, workload: str | None = None) -> str | None:
    """The rate the headline table and the overview chart show: the middle of the sweep
    (busy but not extreme), a searched run's first rate; closed loop only when no offered
    rate was run. With
    ``workload``, the middle of that workload's own sweep, which is the run's sweep except
    in a merged folder whose hosts ran different rates."""
    if workload is None:
        rates, numeric = run.rates(), run.numeric_rates()
    else:
        m = run.measured
        rates = rate_order(m.loc[m["workload_spec"] == workload, "rate_target"].dropna().unique())
        numeric = [r for r in rates if not math.isnan(rate_value(r))]
    if not numeric:
        return rates[0] if rates else None
    # A searched run probes dozens of rates, each series its own: its first rate is the
    # one every search probed (the middle one would be a probe few series ran).
    search = (run.meta.get("plan") or {}).get("search") or {}
    if "start" in search and rate_text(float(search["start"])) in numeric:
        return rate_text(float(search["start"]))
    return numeric[(len(numeric) - 1) // 2]
