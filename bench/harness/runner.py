"""Plan cells, run them in order with a progress bar, write results cell by cell.

Every sensor cell has a no-sensor baseline cell next to it, in random order: the two form
a block (a baseline between two sensor cells serves both), and overhead comes from the
blocks' paired differences (``bench.analysis.blocks``), never from operations pooled across
cells. The run stores what each cell measured; the estimates over its blocks are computed
when the results are read (``bench.results.estimates``).
The order of backends rotates between repetitions, so slow drift of a noisy machine
spreads over all backends.
"""

from __future__ import annotations

import math
import shutil
from dataclasses import dataclass
from typing import Protocol
from collections.abc import Callable
from pathlib import Path

from rich.console import Console
from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn,
                           TimeElapsedColumn, TimeRemainingColumn)

from bench.analysis.search import SearchSettings, caps as search_caps, next_rate, rate_text
from bench.harness import ceiling, machine, pairing, searching
from bench.harness.accounting import IDLE_S
from bench.harness.cell import Cell, CellRunner
from bench.core.errors import BadInput
from bench.harness.session import RunSession, now
from bench.harness.spec import unavailable
from bench.analysis.metrics import (DROP_THRESHOLD, LAG_GROWTH_MS, OVERHEAD_LIMIT_PCT,
                                    RATE_SHORTFALL)
from bench.core.settings import Spec


CEILING_BURSTS = 3   # bursts of the generator's ceiling before a search (the fastest caps it)


@dataclass
class RunConfig:
    specs: list[Spec]
    workloads: list[Spec]
    rates: list[str]
    duration: float
    repeat: int
    out: Path
    baseline: bool = True
    resume: bool = False
    workdir: Path | None = None
    arrivals: str = "poisson"
    overhead_limit_pct: float = OVERHEAD_LIMIT_PCT
    idle_s: float = IDLE_S      # the idle stretch after each sensor cell (accounting)
    # searched saturation (``-r search``): the search's settings, and how a probe is judged
    # (the read model's rule, passed in by the CLI: the harness reads no results)
    search: SearchSettings | None = None
    judge: searching.Judge | None = None


def _measurable(spec: Spec, workload: Spec) -> bool:
    """Whether a sensor cell of ``spec`` on ``workload`` will run (and so needs a
    baseline): the backend and the workload's engine are available and the backend sees
    one of the workload's kinds."""
    from bench import backends
    from workloads import get_workload

    cls = backends.get(spec.name)
    if backends.availability(spec.name) or unavailable(workload.name, workload.settings):
        return False
    return bool(get_workload(workload.name).kinds & cls.kinds) or cls.runs_without_kinds


def _recipe(workload: Spec) -> bool:
    from workloads import get_workload

    return get_workload(workload.name).recipe


def rates_for(workload: Spec, rates: list[str]) -> list[str]:
    """The rates a workload runs at: an application recipe runs its program once per cell,
    as fast as it goes (``max``), whatever rates the run sweeps."""
    return ["max"] if _recipe(workload) else rates


def _searchable(spec: Spec, workload: Spec) -> bool:
    """Whether a search has anything to find: the cell runs, the backend sees one of the
    workload's kinds (a control that sees none has no rate it could fail at) and can fail
    below the generator's limit (``Backend.has_limit``)."""
    from bench import backends
    from workloads import get_workload

    cls = backends.get(spec.name)
    return _measurable(spec, workload) and not _recipe(workload) \
        and bool(get_workload(workload.name).kinds & cls.kinds) and cls.has_limit(spec.settings)


def plan(cfg: RunConfig) -> list[Cell]:
    """Cells in the order they run. With baselines, every measurable sensor cell is paired
    with a no-sensor cell next to it, two sensors around one baseline
    (``bench.harness.pairing``). Repetition r is block r of every spec x workload x rate;
    the order of specs rotates between repetitions."""
    cells: list[Cell] = []
    for r in range(cfg.repeat):
        rot = pairing.rotated(cfg.specs, r)
        for w in cfg.workloads:
            for rate in rates_for(w, cfg.rates):
                paired = [s for s in rot if cfg.baseline and _measurable(s, w)]
                cells += pairing.block_cells(paired, [s for s in rot if s not in paired], w,
                                             rate, r, cfg.duration, cfg.arrivals)
    for i, c in enumerate(cells):
        c.index = i
    return cells


def plan_meta(cfg: RunConfig) -> dict:
    """The plan as meta.json records it."""
    return {"backends": [s.text for s in cfg.specs], "workloads": [w.text for w in cfg.workloads],
            "rates": cfg.rates, "duration_s": cfg.duration, "repeat": cfg.repeat,
            "arrivals": cfg.arrivals, "baseline": cfg.baseline,
            "baselines": "one between two sensor cells" if cfg.baseline else None,
            "idle_s": cfg.idle_s,
            **({"search": {k: v for k, v in vars(cfg.search).items() if k != "ceiling"}}
               if cfg.search else {})}


def plan_change(old: dict, new: dict) -> tuple[str, list[str]]:
    """How a resumed run's plan relates to the one in the folder: ``same``, ``extends``
    (only adds cells: more backends, workloads, rates or repeats) or ``differs`` (cells
    of the two would not be comparable, or some would be dropped); and what changed."""
    differs, adds = [], []
    for key in ("duration_s", "arrivals", "baseline", "baselines", "search"):
        if old.get(key) != new.get(key):
            differs.append(f"{key} {old.get(key)!r} -> {new.get(key)!r}")
    for key in ("backends", "workloads", "rates"):
        o, n = list(old.get(key) or []), list(new.get(key) or [])
        gone, added = [x for x in o if x not in n], [x for x in n if x not in o]
        if gone:
            differs.append(f"{key} without {', '.join(map(str, gone))}")
        if added:
            adds.append(f"{key} + {', '.join(map(str, added))}")
    o, n = old.get("repeat"), new.get("repeat")
    if isinstance(o, int) and isinstance(n, int) and n != o:
        (adds if n > o else differs).append(f"repeat {o} -> {n}")
    if differs:
        return "differs", differs
    return ("extends", adds) if adds else ("same", [])


class Store(Protocol):
    """Where a run's cells go, one at a time, so that a killed run keeps what it finished
    and ``--resume`` can go on (``bench.results.store.ResultsDir``; the CLI chooses it,
    so the harness depends on no storage format)."""

    path: Path
    parts: Path

    def done(self) -> set[str]: ...
    def meta(self) -> dict: ...
    def write_meta(self, update: dict) -> None: ...
    def add_cell(self, rows: list[dict], events, op_times, cell_id: str) -> None: ...
    def rows(self) -> list[dict]: ...
    def write_cells(self) -> None: ...
    def finalize(self) -> None: ...


def run(cfg: RunConfig, open_store: Callable[[Path], Store],
        console: Console | None = None) -> Store:
    """Run ``cfg``'s plan into the store ``open_store(cfg.out)`` makes (opened only once
    the work directory is known good, so a bad run writes no results folder)."""
    console = console or Console(stderr=True)
    interrupted = False
    with RunSession(cfg.out, cfg.workdir, open_store, console, resume=cfg.resume) as s:
        res = s.res
        plan_now = plan_meta(cfg)
        plans = _resumed_plans(res, cfg, plan_now, console) if cfg.resume else [plan_now]
        s.start(cfg.specs, {
            "plan": plan_now, "plans": plans,
            # the saturation rule's limits, so a report judges the run the way it ran
            "rules": {"drop_threshold": DROP_THRESHOLD, "rate_shortfall": RATE_SHORTFALL,
                      "lag_growth_ms": LAG_GROWTH_MS,
                      "overhead_limit_pct": cfg.overhead_limit_pct}})
        cells = plan(cfg)
        done = res.done() if cfg.resume else set()
        todo = [c for c in cells if c.id not in done]
        runner = CellRunner(res.path, s.rundir.path, janitor=s.janitor, idle_s=cfg.idle_s)
        s.janitor.watch("path", path=str(runner.tmp))
        stats: dict[str, dict] = {}
        ceiling = None
        columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                   TimeElapsedColumn(), TextColumn("eta"), TimeRemainingColumn())
        searched: dict = {}

        def run_cell(cell: Cell) -> None:
            outcome = runner.run(cell)
            res.add_cell(outcome.rows, outcome.events, outcome.op_times, cell.id)
            done.add(cell.id)
            if outcome.stats:
                stats[cell.id] = outcome.stats

        def run_cells(cells: list[Cell], what: str = "cells") -> None:
            todo = [c for c in cells if c.id not in done]
            if not todo:
                return
            # a search's rounds come and go: their bars do not stay on the screen
            with Progress(*columns, console=console, transient=what != "cells") as bar:
                task = bar.add_task(what, total=len(todo))
                for cell in todo:
                    bar.update(task, description=f"{what}: {cell.spec_text} "
                                                 f"{cell.workload.text} @{cell.rate} #{cell.repeat}")
                    run_cell(cell)
                    bar.advance(task)

        try:
            run_cells(todo)
            # A search is capped by it: the fastest of 3 bursts, not one a neighbour held.
            # A resumed search keeps the ceiling it started with: the cap is an input of
            # its decisions, which resuming replays.
            kept = res.meta().get("generator_ceiling") if cfg.resume and cfg.search else None
            # a recipe's program has no rate to cap: only the load generator's workloads
            synthetic = [w for w in cfg.workloads if not _recipe(w)]
            ceiling = kept if _covers(kept, synthetic) else generator_ceiling(
                synthetic, s, console, CEILING_BURSTS if cfg.search else 1) \
                if synthetic else None
            if cfg.search is not None:
                searched = _search(cfg, res, ceiling or {}, run_cells, console)
        except KeyboardInterrupt:
            interrupted = True
            console.print("[yellow]interrupted:[/] finished cells are kept; "
                          "run again with --resume to continue")
        finally:
            s.closing()
            steal = machine.steal_warning([(r["cell"], r.get("machine_steal_pct", math.nan))
                                           for r in res.rows()])
            if steal:
                console.print(f"[yellow]warning:[/] {steal}", highlight=False)
            s.finish({"backend_stats": stats, "interrupted": interrupted,
                      "warnings": s.warnings + ([steal] if steal else []),
                      **({"search": {k: [vars(p) for p in v] for k, v in searched.items()}}
                         if searched else {}),
                      **({"generator_ceiling": ceiling} if ceiling else {})})
    if interrupted:
        raise KeyboardInterrupt
    return res


def _search(cfg: RunConfig, res: Store, found: dict,
            run_cells: Callable[[list[Cell], str], None], console: Console) -> dict:
    """Every searchable backend x workload searched (``bench.harness.searching``); a spec
    with nothing to search runs its blocks at the search's first rate, so its row
    (skipped, unsupported, a control's cost and the resolution it gives) is in the
    matrix."""
    caps = search_caps(found)
    searches, once = [], []
    for w in cfg.workloads:
        settings = searching.settings_for(cfg.search, w, caps)
        for spec in cfg.specs:
            if _searchable(spec, w):
                searches.append(searching.Search(spec, w, settings))
        rest = [s for s in cfg.specs if not _searchable(s, w)]
        paired = [s for s in rest if cfg.baseline and _measurable(s, w)]
        first = rates_for(w, [rate_text(next_rate(settings, []))])[0]
        for r in range(cfg.repeat if paired else 1):
            once += pairing.block_cells(pairing.rotated(paired, r),
                                        [s for s in rest if s not in paired] if r == 0 else [],
                                        w, first, r, cfg.duration, cfg.arrivals)

    rounds = iter(range(1, 1_000_000))

    def run_probes(due, blocks: range = range(cfg.repeat), what: str = "") -> None:
        run_cells(searching.round_cells(due, blocks, cfg.duration, cfg.arrivals, cfg.baseline),
                  what or f"search round {next(rounds)}")
        res.write_cells()

    def judge(keys):
        return cfg.judge(res.path, keys)

    run_cells(once, "nothing to search")
    searching.run_searches(searches, run_probes, judge, console)
    # The total cost stands furthest above the noise at the highest rate kept up with:
    # more blocks there (the probes' own are its first), once every search is over.
    if cfg.search.cost_blocks and cfg.baseline:
        searching.run_cost_blocks(searches, range(cfg.repeat, cfg.repeat + cfg.search.cost_blocks),
                                  run_probes, judge, console)
    return {s.key: s.probes for s in searches}


def _covers(found: dict | None, workloads: list[Spec]) -> bool:
    """Whether a stored ceiling measured every one of ``workloads``."""
    return bool(found) and all(w.text in (found.get("workloads") or {}) for w in workloads)


def generator_ceiling(workloads: list[Spec], s: RunSession, console: Console,
                      bursts: int = 1) -> dict:
    """The run's workloads closed loop with no sensor, after its cells (``ceiling``;
    the fastest of ``bursts``); said in one line and kept in meta.json."""
    scratch = s.res.parts / "tmp" / "ceiling"
    try:
        found = ceiling.measure(workloads, s.rundir.path, scratch, s.janitor, bursts=bursts)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    said = [f"{w} {e['ops_per_s']:,.0f}/s" if "ops_per_s" in e else f"{w} {e['status']}"
            for w, e in found["workloads"].items()]
    each = f"the fastest of {bursts} bursts of {ceiling.CEILING_S:g} s" if bursts > 1 else \
        f"{ceiling.CEILING_S:g} s each"
    console.print(f"[dim]generator ceiling (closed loop, no sensor, {each}): "
                  f"{'; '.join(said)}[/]", highlight=False)
    return found


def _resumed_plans(res: Store, cfg: RunConfig, plan_now: dict, console: Console) -> list[dict]:
    """The plans a resumed run records: the folder's, plus this one when it extends them.
    A plan whose cells would not be comparable with the folder's is refused."""
    old_meta = res.meta()
    old_plan = old_meta.get("plan")
    plans = [plan_now]
    if isinstance(old_plan, dict):
        how, what = plan_change(old_plan, plan_now)
        if how == "differs":
            raise BadInput(f"--resume {cfg.out} with another plan ({'; '.join(what)}): "
                           "resume with the same options, or choose another --out")
        if how == "extends":
            console.print(f"[yellow]note:[/] extending the run in {cfg.out}: "
                          + "; ".join(what), highlight=False)
        plans = [*(old_meta.get("plans") or [old_plan]), plan_now] if how == "extends" \
            else (old_meta.get("plans") or [old_plan])
    res.write_meta({"resumed_at": [*old_meta.get("resumed_at", []), now()]})
    return plans
