"""Sentences that rank backends, in the manner of hyperfine's "A ran 2.6 ± 0.4 times
faster than B", claiming only what the intervals support.

For one workload and rate, the cheapest backend (lowest value) is set against each other
backend whose interval lies wholly above its own: ``inotify used 2.6 × [2.2–3.1] less CPU
per event than audit``. A backend whose interval overlaps the cheapest's is not mentioned,
and when none is apart nothing is said. A ratio needs both values known and their
intervals above zero. The ratio's interval runs from the other's low bound over the
cheapest's high bound to the other's high bound over the cheapest's low bound: it lies
above 1 exactly when the two intervals are apart, so the sentence never claims more than
they do (a ``±`` carried by error propagation can reach below 1 where the cheapest's
interval nears zero). The intervals are those ``compare`` judges by
(``bench.results.compare.cell_side``): one rule of what counts as noise.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from bench.core import fmt
from bench.results.compare import cell_side
from bench.results.rundata import RunData

# what is ranked: (compare's metric, the words for it)
RANKED = (("cpu_us_per_event", "CPU per event"),
          ("machine_cpu", "machine CPU per operation"))


@dataclass(frozen=True)
class Estimate:
    name: str
    value: float
    lo: float
    hi: float

    @property
    def usable(self) -> bool:
        return not any(math.isnan(x) for x in (self.value, self.lo, self.hi)) and self.lo > 0


def ratio(big: Estimate, small: Estimate) -> tuple[float, float, float]:
    """big / small, and the least and the most it can be within the two intervals."""
    return big.value / small.value, big.lo / small.hi, big.hi / small.lo


def ranking(items: list[Estimate], what: str) -> str:
    """One sentence, or '' when no interval is apart from the cheapest's."""
    usable = [e for e in items if e.usable]
    if len(usable) < 2:
        return ""
    best = min(usable, key=lambda e: e.value)
    apart = sorted((e for e in usable if e is not best and e.lo > best.hi),
                   key=lambda e: e.value)
    if not apart:
        return ""
    claims = []
    for e in apart:
        r, lo, hi = ratio(e, best)
        claims.append(f"{fmt.interval(r, lo, hi, 1 if r < 10 else 0, unit='×')} less"
                      + (f" {what}" if not claims else "") + f" than `{e.name}`")
    return f"`{best.name}` used " + ", ".join(claims) + "."


def sentences(run: RunData, workload: str, rate: str) -> list[str]:
    """The ranking sentences of one workload and rate, among the backends that measured
    it (calibration controls are not sensors: left out)."""
    c = run.cells
    c = c[(c["workload_spec"] == workload) & (c["rate_target"] == rate)
          & (c["status"] == "ok") & (c["mode"] != "calibration")]
    out = []
    for metric, what in RANKED:
        items = []
        for s in c["series"]:
            side = cell_side(run, (s, workload, rate), metric)
            items.append(Estimate(str(s), float(side.value), float(side.lo), float(side.hi)))
        text = ranking(items, what)
        if text:
            out.append(text)
    return out


LEGEND = ("The backend that used least is set against those whose 95 % interval lies wholly "
          "above its own (× less: the ratio of the two values, [the least and the most it "
          "can be within the two intervals]); backends whose intervals overlap are not "
          "ranked.")
