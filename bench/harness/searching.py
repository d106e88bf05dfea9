"""Searched saturation, run: per backend x workload, offered rates chosen one probe at a time
(``bench.analysis.search``) until the bracket is as narrow as asked.

A probe is ``repeat`` paired blocks at one rate, judged by the read model's rule through
``judge``, which the CLI passes in: the harness reads no results. Searches go in rounds,
one probe of each per round, block by block, so slow drift of a shared machine spreads over
every backend as a fixed sweep's rotation does; the probes of a round at the same workload
x rate share baselines as a fixed sweep's cells do, two sensors around one.
A search is capped at a share of its workload's generator ceiling, measured before the
first probe.

Resuming replays each search's decisions from the probes already stored and runs only the
cells that are missing: the decisions are a function of the stored results.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

from rich.console import Console

from bench.analysis.search import Probe, SearchSettings, kept_rate, next_rate, rate_text
from bench.core.settings import Spec
from bench.harness import pairing
from bench.harness.cell import Cell

# (results folder, [(spec text, workload spec text, rate text)]) -> [(kept up, why not)]
Judge = Callable[[Path, list[tuple[str, str, str]]], list[tuple[bool, str]]]


@dataclass
class Search:
    spec: Spec
    workload: Spec
    settings: SearchSettings
    probes: list[Probe] = field(default_factory=list)

    @property
    def key(self) -> str:
        return f"{self.spec.text}|{self.workload.text}"


def round_cells(due: list[tuple[Search, str]], blocks: range, duration: float, arrivals: str,
                baseline: bool) -> list[Cell]:
    """The cells of one round of probes, each ``(search, rate)``, in the order they run:
    block by block, the searches due at the same workload x rate paired two by two around
    a baseline as a fixed sweep's are (``bench.harness.pairing``; without baselines each
    sensor cell alone), their order rotated between blocks."""
    groups: dict[tuple[str, str], list[Search]] = {}
    for s, rate in due:
        groups.setdefault((s.workload.text, rate), []).append(s)
    cells: list[Cell] = []
    for r in blocks:
        for (_, rate), group in groups.items():
            specs = pairing.rotated([s.spec for s in group], r)
            cells += pairing.block_cells(specs if baseline else [], [] if baseline else specs,
                                         group[0].workload, rate, r, duration, arrivals)
    return cells


def run_searches(searches: list[Search], run_probes: Callable[[list[tuple[Search, str]]], None],
                 judge: Callable[[list[tuple[str, str, str]]], list[tuple[bool, str]]],
                 console: Console) -> dict[str, list[Probe]]:
    """Run every search to its end in rounds, one probe of each active search per round
    (``run_probes`` runs a round's cells and stores them); the probes of each, by key."""
    active = list(searches)
    while active:
        due = []
        for s in list(active):
            rate = next_rate(s.settings, s.probes)
            if rate is None:
                active.remove(s)
                console.print(f"[dim]search {s.spec.text} {s.workload.text}: done after "
                              f"{len(s.probes)} probe(s)[/]", highlight=False)
            else:
                due.append((s, rate_text(rate)))
        if not due:
            break
        run_probes(due)
        verdicts = judge([(s.spec.text, s.workload.text, rate) for s, rate in due])
        for (s, rate), (ok, why) in zip(due, verdicts):
            s.probes.append(Probe(float(rate), ok, why))
            console.print(f"search {s.spec.text} {s.workload.text} @{rate}: "
                          + ("kept up" if ok else f"[yellow]{why or 'failed'}[/]"),
                          highlight=False)
    return {s.key: s.probes for s in searches}


def run_cost_blocks(searches: list[Search], blocks: range,
                    run_probes: Callable[[list[tuple[Search, str]], range, str], None],
                    judge: Callable[[list[tuple[str, str, str]]], list[tuple[bool, str]]],
                    console: Console) -> None:
    """``blocks`` more at the highest rate each search kept up with, where the total cost
    stands furthest above the noise. The probe is then judged again on all its blocks, as
    the report and a resumed search judge it: a verdict the added blocks overturn reopens
    that search (it bisects below the rate, whose cost blocks then go to the new highest
    kept rate), so the searched bracket is always the report's."""
    costed: set[tuple[str, str]] = set()
    while True:
        due = [(s, rate_text(kept)) for s in searches
               if (kept := kept_rate(s.probes)) is not None
               and (s.key, rate_text(kept)) not in costed]
        if not due:
            return
        console.print(f"cost: {len(blocks)} more block(s) at the highest rate "
                      f"{len(due)} search(es) kept up with", highlight=False)
        run_probes(due, blocks, "cost")
        costed |= {(s.key, rate) for s, rate in due}
        reopened = []
        for (s, rate), (ok, why) in zip(due, judge([(s.spec.text, s.workload.text, rate)
                                                    for s, rate in due])):
            if ok:
                continue
            s.probes = [Probe(p.rate, False, why) if rate_text(p.rate) == rate else p
                        for p in s.probes]
            console.print(f"search {s.spec.text} {s.workload.text} @{rate}: "
                          f"[yellow]{why or 'failed'}[/] with its cost blocks; searching on",
                          highlight=False)
            reopened.append(s)
        if reopened:
            run_searches(reopened, run_probes, judge, console)


def settings_for(base: SearchSettings, workload: Spec, caps: dict[str, float]) -> SearchSettings:
    """The search's settings capped at the workload's cap (``bench.analysis.search.caps``)."""
    return replace(base, ceiling=caps.get(workload.text, math.inf))
