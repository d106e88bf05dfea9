"""Searched saturation: which offered rate to probe next, from the probes judged so far.

A search runs per backend x workload. From a start rate it steps up by ``factor`` while each
probe keeps up (down, while the start fails), then bisects between the highest rate that
kept up and the lowest that did not (geometric midpoint) until the two are within the
resolution: ``failed <= kept * (1 + resolution)``. Each probe is judged by the read model's
saturation rule on its paired blocks (``bench.results.sustainable.passes``), never by a rule
of its own. A probe is never offered above the generator's ceiling, and a probe whose
no-sensor baselines could not reach its rate says the generator, not the sensor, is the
limit; either ends the search with ``>= kept (generator limit)``, never a made-up bound.
(The cap is ``CEILING_SHARE`` of the ceiling the generator reached closed loop.)

The functions here are pure: the runner asks for the next rate, runs the probe, judges it
and asks again, so a resumed search replays the same decisions from the stored probes.
Bisection between a kept and a failed rate is consistent by construction: a failure lowers
the upper end, so every probe that kept up lies below every probe that failed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from bench.core.errors import BadInput
from bench.core.settings import Setting, non_negative, parse_spec, positive

GENERATOR = "generator"   # the reason a probe did not decide: the load could not be offered
# Probes stop at this share of the generator's closed-loop ceiling: an open-loop schedule
# at the ceiling itself falls behind on every hiccup of a shared machine, so its baselines
# fall short and the probe decides nothing (measured here: every probe at the ceiling did).
CEILING_SHARE = 0.8


@dataclass(frozen=True)
class SearchSettings:
    start: float = 1000.0         # ops/s of the first probe
    factor: float = 4.0           # step between probes before the bracket is found
    resolution: float = 0.10      # stop when failed / kept - 1 is at most this
    lowest: float = 0.0           # no probe below this ('< lowest'); 0: as low as a block goes
    cost_blocks: int = 3          # blocks added at the highest rate kept, for the total cost
    ceiling: float = math.inf     # the highest rate to probe (``caps``)


def _above_one(v) -> str | None:
    return None if v > 1 else "must be > 1"


SETTINGS = {
    "start": Setting(float, SearchSettings.start, "ops/s of the first probe", positive),
    "factor": Setting(float, SearchSettings.factor,
                      "step between probes until one fails (then bisection)", _above_one),
    "resolution": Setting(float, SearchSettings.resolution,
                          "stop when the failed rate is within this share above the kept one",
                          positive),
    "lowest": Setting(float, SearchSettings.lowest,
                      "no probe below this rate: the answer is then '< lowest' (0: the "
                      "lowest rate whose cells still make a block)", non_negative),
    "cost_blocks": Setting(int, SearchSettings.cost_blocks,
                           "blocks added at the highest rate kept up with once the search "
                           "is over: where the total cost stands furthest above the noise",
                           non_negative),
}


def parse(text: str) -> SearchSettings:
    """``search[:start=,factor=,resolution=,lowest=,cost_blocks=]`` (BadInput, one line)."""
    spec = parse_spec(text, "rate", lambda n: SETTINGS if n == "search" else _not_search(n))
    s = SearchSettings(**spec.settings)
    if s.lowest > s.start:
        raise BadInput(f"bad rate spec {text!r}: start ({s.start:g}) is below lowest "
                       f"({s.lowest:g})")
    return s


def _not_search(name: str) -> dict:
    raise BadInput(f"bad rate {name!r}: give operations per second, 'max' or 'search'")


def rate_text(rate: float) -> str:
    """A rate as a cell's id and ``rate_target`` hold it: whole numbers without a decimal
    point or an exponent ('16000', '1000000'), others as short as they go."""
    return f"{rate:.0f}" if float(rate).is_integer() else f"{rate:g}"


@dataclass(frozen=True)
class Probe:
    rate: float
    passed: bool
    reason: str = ""              # why it failed: 'drops', 'behind', ..., or GENERATOR


def _rate(x: float) -> float:
    """Probe rates are whole operations per second (a cell's rate is part of its id)."""
    return float(max(1, round(x)))


def caps(found: dict) -> dict[str, float]:
    """Workload spec text -> the highest rate a search probes it at: ``CEILING_SHARE`` of
    the most ops/s its generator offered (closed loop, no sensor; ``found`` as
    ``bench.harness.ceiling.measure`` gives it and meta.json keeps it), a whole rate as a
    probe's is. Workloads the ceiling did not measure are not capped."""
    return {w: _rate(float(e["ops_per_s"]) * CEILING_SHARE)
            for w, e in (found.get("workloads") or {}).items() if e.get("ops_per_s")}


def next_rate(s: SearchSettings, probes: list[Probe]) -> float | None:
    """The rate to probe next, or None when the search is over."""
    top = _rate(s.ceiling) if math.isfinite(s.ceiling) else math.inf
    if not probes:
        return min(_rate(s.start), top)
    kept = kept_rate(probes)
    # the lowest rate that did not keep up, whether the sensor or the generator failed it:
    # the search closes in on either
    upper = min((p.rate for p in probes if not p.passed), default=None)
    if upper is None:                 # everything so far kept up: step up, to the ceiling
        return None if kept >= top else min(_rate(kept * s.factor), top)
    if kept is None:                  # nothing kept up yet: step down, to the lowest rate
        floor = _rate(max(1.0, s.lowest))
        return None if upper <= floor else max(_rate(upper / s.factor), floor)
    if upper <= kept * (1 + s.resolution):
        return None
    mid = _rate(math.sqrt(kept * upper))
    return mid if kept < mid < upper else None


def kept_rate(probes: list[Probe]) -> float | None:
    """The highest rate the probes kept up with (None: none did)."""
    return max((p.rate for p in probes if p.passed), default=None)
