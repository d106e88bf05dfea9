"""Run a failure scenario on each backend: one scenario cell per backend, into a results
folder (its cells rows, a ``scenarios`` row, a timeline), and check after each that
nothing of ours is left, although the scenario killed things on purpose.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, replace
from pathlib import Path
from collections.abc import Callable

import psutil
from rich.console import Console

from bench import backends
from bench.core.errors import BadInput
from bench.core.settings import Spec
from bench.harness.cell import Cell
from bench.harness.session import RunSession
from bench.harness.spec import parse_workload, workload_kinds
from bench.scenario import SCENARIOS, faults, tamper
from bench.scenario.cell import ScenarioRunner, Schedule


# A workload for a backend when none is named: the first of these it sees a kind of.
DEFAULT_WORKLOADS = ("file", "process", "network")


@dataclass
class ScenarioConfig:
    schedules: list[Schedule]     # one per scenario named; each runs on every backend
    specs: list[Spec]
    workloads: list[Spec]         # [] = each backend's first of DEFAULT_WORKLOADS
    rate: str
    duration: float
    out: Path
    workdir: Path | None = None
    forward_ms: float = 5.0


def check(cfg: ScenarioConfig) -> None:
    """Everything the user can get wrong, as one line (exit 2)."""
    if not cfg.schedules:
        raise BadInput(f"name a scenario: {', '.join(SCENARIOS)}")
    for s in cfg.schedules:
        _check(cfg, s)


def _check(cfg: ScenarioConfig, s: Schedule) -> None:
    if s.scenario not in SCENARIOS:
        raise BadInput(f"unknown scenario {s.scenario!r} (known: {', '.join(SCENARIOS)})")
    if not (0 < s.at_s < cfg.duration) or not math.isfinite(s.at_s):
        raise BadInput(f"--at {s.at_s:g} is outside the cell (0 < at < --duration "
                       f"{cfg.duration:g})")
    if s.scenario == "stall" and not (s.for_s > 0 and math.isfinite(s.for_s)):
        raise BadInput(f"--for {s.for_s:g}: a stall must last > 0 seconds")
    if s.restart_ms < 0 or not math.isfinite(s.restart_ms):
        raise BadInput(f"--restart-ms {s.restart_ms:g}: must be >= 0")
    unknown = [t for t in s.techniques if t not in tamper.TECHNIQUES]
    if unknown:
        raise BadInput(f"unknown technique {unknown[0]!r} (known: "
                       f"{', '.join(tamper.TECHNIQUES)})")
    if cfg.rate == "max":
        raise BadInput("a scenario needs an open-loop rate (ops/s), not 'max': the "
                       "workload must keep its schedule whatever the sensor does")


def _workload_for(spec: Spec, workloads: list[Spec]) -> Spec | None:
    cls = backends.get(spec.name)
    if workloads:
        return workloads[0]
    for w in DEFAULT_WORKLOADS:
        if workload_kinds(w) & cls.kinds:
            return parse_workload(w)
    return None


def cases(schedule: Schedule, cls) -> list[tuple[Schedule, str]]:
    """The cells a scenario makes of one backend: (schedule, why it cannot run or '').
    A bad update goes through each update path the backend has, as a case of its own."""
    if schedule.scenario == "tamper":
        kinds = frozenset().union(*(workload_kinds(w) for w in DEFAULT_WORKLOADS))
        return [(replace(schedule, case=f"tamper:{t}", technique=t),
                 tamper.applies(t, cls, kinds) or _unsupported(schedule, cls))
                for t in (schedule.techniques or tamper.TECHNIQUES)]
    if schedule.scenario != "bad-update":
        return [(schedule, _unsupported(schedule, cls))]
    tail = ":canary" if schedule.canary else ""
    if not cls.update_cases:
        return [(replace(schedule, case=f"bad-update{tail}"), cls.no_update)]
    if schedule.canary and cls.name in SINGLE_INSTANCE:
        return [(replace(schedule, case=f"bad-update:{c}{tail}", update_case=c),
                 SINGLE_INSTANCE[cls.name]) for c in cls.update_cases]
    return [(replace(schedule, case=f"bad-update:{c}{tail}", update_case=c),
             _unsupported(schedule, cls)) for c in cls.update_cases]


# Backends of which two instances cannot run at once (so no canary beside the sensor).
SINGLE_INSTANCE = {
    "audit": "one audit consumer per machine: a canary would have to replace the sensor",
    "auditd": "one audit consumer per machine: a canary would have to replace the sensor",
}


def _unsupported(schedule: Schedule, cls) -> str:
    """Why this scenario cannot run on this backend ('' when it can)."""
    if (schedule.scenario == "crash" or schedule.technique == "kill") and cls.needs_tap:
        return ("its ground-truth side channel is handed over once: a restarted instance "
                "would see nothing")
    if cls.mode == "calibration" and not cls.kinds:
        return "a control that observes nothing: nothing to lose"
    return ""


def _leftovers(before: faults.Residue, pids: list[int], timeout_s: float = 3.0) -> str:
    """What of ours is still on the machine once the cell was undone ('' when nothing).
    BPF programs are released asynchronously: wait up to ``timeout_s`` for them."""
    deadline = time.monotonic() + timeout_s
    while True:
        left = [f"process {p} alive" for p in pids
                if psutil.pid_exists(p) and psutil.Process(p).status() != "zombie"]
        kernel = before.now()
        if kernel:
            left.append(kernel)
        if not left or time.monotonic() > deadline:
            return "; ".join(left)
        time.sleep(0.1)


def run(cfg: ScenarioConfig, open_store: Callable[[Path], object],
        console: Console | None = None):
    console = console or Console(stderr=True)
    check(cfg)
    with RunSession(cfg.out, cfg.workdir, open_store, console,
                    resume_hint="choose another --out") as ses:
        res = ses.res
        ses.start(cfg.specs, {
            "scenarios": [{"name": s.scenario, "at_s": s.at_s, "for_s": s.for_s,
                           "restart_ms": s.restart_ms, "canary": s.canary}
                          for s in cfg.schedules],
            "scenario_settings": {"forward_ms": cfg.forward_ms, "rate": cfg.rate,
                                  "duration_s": cfg.duration},
            "plan": {"backends": [x.text for x in cfg.specs],
                     "workloads": [w.text for w in cfg.workloads], "rates": [cfg.rate],
                     "duration_s": cfg.duration, "repeat": 1, "baseline": False}})
        runner = ScenarioRunner(res.path, ses.rundir.path, janitor=ses.janitor,
                                schedule=cfg.schedules[0])
        runner.forward_ms = cfg.forward_ms
        ses.janitor.watch("path", path=str(runner.tmp))
        stats: dict[str, dict] = {}
        try:
            plan = [(spec, sched, why) for base_s in cfg.schedules for spec in cfg.specs
                    for sched, why in cases(base_s, backends.get(spec.name))]
            for i, (spec, s, why) in enumerate(plan):
                runner.schedule = s
                row = _run_one(runner, res, cfg, i, spec, s, why, stats)
                console.print(_line(s, spec, row), highlight=False)
        finally:
            ses.finish({"backend_stats": stats})
    return res


def _line(s: Schedule, spec: Spec, row: dict) -> str:
    """What one scenario cell did, in a line."""
    return (f"{s.label} {spec.text} {row.get('workload_spec')}: {row.get('outcome')}"
            + (f", {row['update']}" if row.get("update") else "")
            + (f", canary {row['canary'].split(':')[0]}" if row.get("canary") else "")
            + (f"; blind {row['blind_ms']:.0f} ms, lost {row['events_lost']}, "
               f"workload held {row['workload_stall_ms']:.0f} ms"
               if row.get("status") == "ok" else "")
            + (f" ({row.get('reason')})" if row.get("reason") else "")
            + (f"; LEFT: {row['leftovers']}" if row.get("leftovers") else ""))


def _run_one(runner: ScenarioRunner, res, cfg: ScenarioConfig, i: int, spec: Spec,
             s: Schedule, why: str, stats: dict) -> dict:
    """One scenario cell into the store; its scenario row."""
    cls = backends.get(spec.name)
    w = _workload_for(spec, cfg.workloads)
    cell = Cell(i, 0, w or parse_workload("file"), cfg.rate, cfg.duration, spec,
                scenario=s.label)
    row = {"scenario": s.scenario, "case": s.label, "cell": cell.id,
           "backend": spec.name, "spec": spec.text, "mode": cls.mode,
           "mechanism": cls.mechanism, "workload_spec": cell.workload.text,
           "rate_target": cfg.rate, "duration_s": cfg.duration, "at_s": s.at_s,
           "technique": s.technique}
    why = why or ("" if w else "sees no kind of any workload")
    if why:
        res.add_cell([], None, None, cell.id)
        row.update(status="unsupported", outcome="unsupported", reason=why)
        res.add_scenario(row, None)
        return row
    outcome = runner.run(cell)
    res.add_cell(outcome.rows, outcome.events, outcome.op_times, cell.id)
    if outcome.stats:
        stats[cell.id] = outcome.stats
    if outcome.scenario is None:
        st = outcome.rows[0]["status"] if outcome.rows else "failed"
        reason = outcome.rows[0].get("reason", "") if outcome.rows else ""
        row.update(status=st, reason=reason,
                   outcome="unsupported" if st in ("unsupported", "skipped") else "failed")
    else:
        row = outcome.scenario
    row["leftovers"] = _leftovers(runner.before, runner.last_pids)
    res.add_scenario(row, outcome.timeline)
    return row
