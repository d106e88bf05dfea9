"""Searched saturation, run: per backend x workload, offered rates chosen one probe at a time
(``bench.analysis.search``) until the bracket is as narrow as asked.

A probe is ``repeat`` paired blocks at one rate (a sensor cell and a no-sensor cell of its
own, in an order a coin decides), judged by the read model's rule through ``judge``, which
the CLI passes in: the harness reads no results. Searches take turns, one probe each, so
slow drift of a shared machine spreads over every backend as a fixed sweep's rotation does.
A search is capped at its workload's generator ceiling, measured before the first probe.

Resuming replays each search's decisions from the probes already stored and runs only the
cells that are missing: the decisions are a function of the stored results.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

from rich.console import Console

from bench.analysis.search import Probe, SearchSettings, next_rate, rate_text
from bench.core.settings import Spec
from bench.harness.cell import Cell

# (results folder, spec text, workload spec text, rate text) -> (kept up, why not)
Judge = Callable[[Path, str, str, str], tuple[bool, str]]


@dataclass
class Search:
    spec: Spec
    workload: Spec
    settings: SearchSettings
    probes: list[Probe] = field(default_factory=list)

    @property
    def key(self) -> str:
        return f"{self.spec.text}|{self.workload.text}"


def probe_cells(spec: Spec, workload: Spec, rate: str, repeat: int, duration: float,
                arrivals: str, baseline: bool, coin: Callable[[str], bool]) -> list[Cell]:
    """The cells of one probe, in the order they run: block r is the sensor cell and its
    own baseline (sides by ``coin``), or the sensor cell alone without baselines."""
    cells: list[Cell] = []
    for r in range(repeat):
        if not baseline:
            cells.append(Cell(0, r, workload, rate, duration, spec, arrivals))
            continue
        base = Cell(0, r, workload, rate, duration, None, arrivals, (spec,))
        sensor = Cell(0, r, workload, rate, duration, spec, arrivals, baseline_id=base.id)
        cells += [sensor, base] if coin(f"first|{base.id}") else [base, sensor]
    return cells


def ceilings(found: dict) -> dict[str, float]:
    """Workload spec text -> the most ops/s its generator offered (closed loop, no sensor),
    from ``bench.harness.ceiling.measure``; unmeasured ones are not capped."""
    return {w: float(e["ops_per_s"]) for w, e in (found.get("workloads") or {}).items()
            if e.get("ops_per_s")}


def run_searches(searches: list[Search], run_probe: Callable[[list[Cell]], None],
                 flush: Callable[[], None], judge: Callable[[str, str, str], tuple[bool, str]],
                 make_cells: Callable[[Search, str], list[Cell]],
                 console: Console) -> dict[str, list[Probe]]:
    """Run every search to its end, one probe of each in turn; the probes of each, by key."""
    active = list(searches)
    while active:
        for s in list(active):
            rate = next_rate(s.settings, s.probes)
            if rate is None:
                active.remove(s)
                console.print(f"[dim]search {s.spec.text} {s.workload.text}: done after "
                              f"{len(s.probes)} probe(s)[/]", highlight=False)
                continue
            text = rate_text(rate)
            run_probe(make_cells(s, text))
            flush()
            ok, why = judge(s.spec.text, s.workload.text, text)
            s.probes.append(Probe(rate, ok, why))
            console.print(f"search {s.spec.text} {s.workload.text} @{text}: "
                          + ("kept up" if ok else f"[yellow]{why or 'failed'}[/]"),
                          highlight=False)
    return {s.key: s.probes for s in searches}


def settings_for(base: SearchSettings, workload: Spec, caps: dict[str, float]) -> SearchSettings:
    """The search's settings capped at the workload's generator ceiling."""
    return replace(base, ceiling=caps.get(workload.text, math.inf))
