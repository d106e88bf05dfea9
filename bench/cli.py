"""The ``sensorbench`` command line (typer + rich).

Every error the user can cause ends in one line on stderr and exit code 2; tracebacks are
for bugs only (set SENSORBENCH_DEBUG=1 to see them for errors too).
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import sys
import time
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from bench import backends
from bench.analysis.blocks import MIN_OPS
from bench.core import fmt
from bench.core.errors import BadInput, BenchError
from bench.analysis.metrics import OVERHEAD_LIMIT_PCT
from bench.analysis.search import SearchSettings, rate_text
from bench.analysis.search import parse as parse_search
from bench.harness.accounting import IDLE_S, IDLE_WINDOWS
from bench.results.store import ResultsDir
from bench.results.sustainable import judge_probes

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="Measure what security sensing costs and loses, kernel vs user space.")
# Logs (CI, files) are not terminals: give tables room instead of rich's 80 columns.
out = Console(width=None if sys.stdout.isatty() else 160)
err = Console(stderr=True)

# The quick default run: every available backend (but a calibration arm that means
# something only next to its others) x file, process, network, in 0.5 s cells (many short
# blocks beat one long cell: between-cell variance dominates here), and a coarse search of
# each one's max sustainable rate: steps of 8 from 4000 ops/s (up while it keeps up, down
# while it fails) and no bisection, 2 blocks a probe, 2 more at the highest rate kept up
# with for the total cost. That answers "where does it break, what does it cost" in about
# 5 minutes on 2 cores; ``-r search`` (10 % resolution, 3 blocks) narrows it.
DEFAULT_RATES = ["search:start=4000,factor=8,resolution=7,cost_blocks=2"]
DEFAULT_DURATION = 0.5
DEFAULT_BLOCKS = 3
DEFAULT_SEARCH_BLOCKS = 2   # a probe of the default coarse search
CALIBRATE_RATE = "1000"     # the overhead method's check runs at one fixed rate


def _split(values: list[str] | None) -> list[str]:
    return [p.strip() for v in values or [] for p in v.split(",") if p.strip()]


def parse_rates(values: list[str]) -> list[str]:
    rates = []
    for v in values:
        if v == "max":
            rates.append(v)
            continue
        try:
            r = float(v)
        except ValueError:
            raise BadInput(f"bad rate {v!r}: give operations per second, 'max' or 'search'") from None
        if not math.isfinite(r) or r <= 0:
            raise BadInput(f"bad rate {v!r}: must be > 0 (or 'max')")
        rates.append(rate_text(r))
    return rates


def parse_rate_option(values: list[str]) -> tuple[list[str], SearchSettings | None]:
    """``-r``: fixed rates (ops/s, 'max') and at most one ``search[:key=value,...]``,
    whose settings may hold commas of their own."""
    from bench.harness.spec import split_specs

    items = split_specs(values)
    found = [t for t in items if t.partition(":")[0] == "search"]
    if len(found) > 1:
        raise BadInput(f"-r names {len(found)} searches: give one")
    return (parse_rates([t for t in items if t not in found]),
            parse_search(found[0]) if found else None)


@app.command()
def doctor(as_json: bool = typer.Option(False, "--json", help="machine-readable output"),
           ceiling: bool = typer.Option(True, "--ceiling/--no-ceiling",
                                        help="measure the workload generator's ceiling "
                                             "(closed loop, no sensor; about 2 s)")):
    """Which backends can run here (and why not), the workload generator's ceiling, and
    facts about this machine."""
    from bench.harness import machine

    facts = machine.facts()
    generators = _generators(ceiling)
    rows = []
    for name in backends.names():
        reason = backends.availability(name)
        notes: list[str] = []
        if backends.wrong_platform(name):   # its code is not loaded on this platform
            rows.append({"name": name, "mode": "-", "mechanism": "-", "kinds": [],
                         "available": False, "reason": reason, "notes": []})
            continue
        try:
            cls = backends.get(name)
            mode, mech, kinds = cls.mode, cls.mechanism, sorted(k.name for k in cls.kinds)
            if reason is None:
                notes = list(cls.notes())
        except Exception as e:  # a broken backend is reported, not a crash of doctor
            mode, mech, kinds = "?", "?", []
            notes = [f"{type(e).__name__}: {e}"]
        rows.append({"name": name, "mode": mode, "mechanism": mech, "kinds": kinds,
                     "available": reason is None, "reason": reason or "", "notes": notes})
    for name, why in backends.IGNORED.items():
        rows.append({"name": name, "mode": "?", "mechanism": "?", "kinds": [],
                     "available": False, "reason": f"not registered: {why}", "notes": []})
    recipes = _recipes()
    if as_json:
        print(json.dumps({"backends": rows, "generators": generators, "recipes": recipes,
                          "machine": facts}, indent=2, default=str))
        return
    t = Table(title="backends")
    for c in ("backend", "mode", "mechanism", "available", "reason / kinds"):
        t.add_column(c)
    for r in rows:
        ok = "[green]yes[/]" if r["available"] else "[red]no[/]"
        detail = r["reason"] or ", ".join(r["kinds"])
        detail += "".join(f"\n[yellow]note:[/] {n}" for n in r["notes"])
        t.add_row(r["name"], r["mode"], r["mechanism"], ok, detail)
    out.print(t)
    g = Table(title=f"workload generators: closed loop, no sensor "
                    f"({generators.get('note') or 'measured now'})")
    for c in ("workload", "engine", "threads", "ops/s", "work dir"):
        g.add_column(c)
    for w, e in generators.get("workloads", {}).items():
        rate = f"{e['ops_per_s']:,.0f}" if "ops_per_s" in e else f"[red]{e['status']}[/]: " \
            f"{e['reason']}"
        g.add_row(w, e["engine"], str(e["threads"]), rate, e.get("workdir_fs", ""))
    out.print(g)
    a = Table(title="application recipes (-w NAME): their programs and the counted truth")
    for c in ("recipe", "available", "what it does / why not"):
        a.add_column(c)
    for r in recipes:
        a.add_row(r["name"], "[green]yes[/]" if r["available"] else "[red]no[/]",
                  r["reason"] or r["description"])
    out.print(a)
    m = Table(title="machine", show_header=False)
    for k, v in facts.items():
        m.add_row(k, json.dumps(v) if isinstance(v, (dict, list)) else str(v))
    out.print(m)


def _recipes() -> list[dict]:
    """Each application recipe, and why it cannot run here (its program, or the counted
    truth, which every recipe needs)."""
    from bench.harness.spec import unavailable
    from workloads import RECIPES, get_workload

    out = []
    for name in RECIPES:
        cls = get_workload(name)
        why = unavailable(name, {"argv": "true"} if name == "cmd" else {})
        out.append({"name": name, "available": why is None, "reason": why or "",
                    "description": cls.description})
    return out


def _generators(measure: bool) -> dict:
    """doctor's generator table (``bench.harness.ceiling.for_doctor``), or why not."""
    from bench.core.osapi import IS_WINDOWS
    from workloads import base

    native = base.Workload.unavailable({"engine": "native"})
    out: dict = {"native_engine": native or "built"}
    if not measure:
        return {**out, "note": "not measured: --no-ceiling"}
    if IS_WINDOWS:
        return {**out, "note": "not measured on Windows"}
    from bench.harness import ceiling

    return {**out, **ceiling.for_doctor(native_built=native is None)}


@app.command("list")
def list_():
    """Backends with their settings, and workloads with the kinds they produce."""
    from workloads import WORKLOADS, get_workload

    t = Table(title="backends")
    for c in ("backend", "mode", "kinds", "settings (default): help"):
        t.add_column(c)
    for name in backends.names():
        try:
            cls = backends.get(name)
        except Exception as e:  # a broken plugin is listed with its error, not a crash
            t.add_row(name, "?", "", f"[red]cannot load:[/] {type(e).__name__}: {e}")
            continue
        settings = "\n".join(f"{k}={s.default}: {s.help}" for k, s in cls.settings.items())
        t.add_row(name, cls.mode, ", ".join(sorted(k.name for k in cls.kinds)), settings)
    out.print(t)
    w = Table(title="workloads")
    for c in ("workload", "what it does", "kinds", "settings (default): help"):
        w.add_column(c)
    for name in WORKLOADS:
        cls = get_workload(name)
        settings = "\n".join(f"{k}={s.default}: {s.help}" for k, s in cls.settings.items())
        w.add_row(name, cls.description, ", ".join(k.name for k in sorted(cls.kinds)), settings)
    out.print(w)


@app.command()
def run(
    backend: list[str] | None = typer.Option(
        None, "--backend", "-b", help="backend spec NAME[:key=value,...]; repeat or comma-separate"),
    workload: list[str] | None = typer.Option(
        None, "--workload", "-w",
        help="NAME[:key=value,...]: file, process, network (the default: all three), or an "
             "application recipe: copy, archive, build, find, install, launch, download, "
             "stress-ng, cmd:argv=COMMAND"),
    rate: list[str] | None = typer.Option(
        None, "--rate", "-r",
        help="target ops/s, 'max' for closed loop, or 'search[:start=,factor=,resolution=,"
             "lowest=,cost_blocks=]' to search each backend's max sustainable rate "
             f"(default: a coarse search, {DEFAULT_RATES[0]}, in blocks of "
             f"{DEFAULT_SEARCH_BLOCKS})"),
    duration: float = typer.Option(DEFAULT_DURATION, "--duration", "-d", help="seconds per cell"),
    repeat: int | None = typer.Option(
        None, "--repeat", "-n",
        help=f"blocks: repetitions of every cell, each next to a baseline cell of its own "
             f"(at least 2; default {DEFAULT_BLOCKS}, {DEFAULT_SEARCH_BLOCKS} in the default "
             "coarse search, or 1 with --no-baseline)"),
    out_dir: Path | None = typer.Option(None, "--out", "-o",
                                           help="results folder (default results/runs/<time>)"),
    resume: bool = typer.Option(False, "--resume", help="skip cells already in --out"),
    baseline: bool = typer.Option(True, "--baseline/--no-baseline",
                                  help="interleave no-sensor cells (needed for slowdown)"),
    workdir: Path | None = typer.Option(None, "--workdir",
                                           help="where the file workload writes"),
    tmpfs: bool = typer.Option(False, "--tmpfs",
                               help="work directory on a tmpfs (/dev/shm/sensorbench-<uid>): "
                                    "no journal capping file operations"),
    arrivals: str = typer.Option("poisson", "--arrivals",
                                 help="open-loop arrivals: poisson (default), uniform, or "
                                      "burst:on_ms=A,off_ms=B,peak=P (B ms at the rate, "
                                      "then A ms at P ops/s, over and over)"),
    report_after: bool = typer.Option(True, "--report/--no-report",
                                      help="write report.html, charts and CI exports at the end"),
    overhead_limit: float = typer.Option(
        OVERHEAD_LIMIT_PCT, "--overhead-limit",
        help="slowdown (%) whose block interval, lying wholly above it, counts as failing "
             "to keep up; below it overhead is a cost, not saturation"),
    idle: float = typer.Option(
        IDLE_S, "--idle",
        help=f"seconds a sensor's idle CPU is read after each cell, in {IDLE_WINDOWS} "
             "sub-windows: longer narrows the marginal cost's interval"),
    detail: bool = typer.Option(False, "--detail",
                                help="also print the per-kind tables at the end"),
):
    """Run the benchmark matrix: backends x workloads x rates x repetitions."""
    from bench.harness import preflight, runner, spec as specmod
    from workloads import SYNTHETIC

    if duration <= 0 or not math.isfinite(duration):
        raise BadInput(f"bad duration {duration}: must be > 0 seconds")
    if repeat is None:
        repeat = (1 if not baseline else DEFAULT_SEARCH_BLOCKS if not _split(rate)
                  else DEFAULT_BLOCKS)
    if repeat < 1:
        raise BadInput(f"bad repeat {repeat}: must be >= 1")
    if not math.isfinite(overhead_limit) or overhead_limit < 0:
        raise BadInput(f"bad --overhead-limit {overhead_limit}: a percentage >= 0")
    if not (math.isfinite(idle) and idle > 0):
        raise BadInput(f"bad --idle {idle}: must be > 0 seconds")
    # An option given but naming nothing (``-b ,,,``) is a mistake, not "use the default".
    for opt, given in (("--backend/-b", backend), ("--workload/-w", workload),
                       ("--rate/-r", rate)):
        if given is not None and not _split(given):
            raise BadInput(f"{opt} names nothing: give at least one value")
    workloads = [specmod.parse_workload(w)
                 for w in specmod.split_specs(workload or []) or list(SYNTHETIC)]
    specmod.check_runnable(workloads)
    preflight.check_commands(workloads)
    rates, searched = parse_rate_option(rate if _split(rate) else DEFAULT_RATES)
    if searched and not searched.lowest:
        # as low as a cell still makes a block (or one operation a cell without them)
        searched = dataclasses.replace(searched, lowest=float(math.ceil(
            (MIN_OPS if baseline else 1) / duration)))
        if searched.start < searched.lowest:
            raise BadInput(f"-r search: start {searched.start:g} gives fewer than {MIN_OPS} "
                           f"operations a {duration:g} s cell (longer -d, higher start)")
    if baseline:
        _check_blocks(repeat, rates + ([rate_text(searched.lowest)] if searched else []),
                      duration, "-n", "or run --no-baseline")
    arrivals = _parse_arrivals(arrivals, rates)
    specs = _specs(backend, lambda cls: cls.in_default_run)
    if resume and out_dir is None:
        raise BadInput("--resume needs --out pointing at the run to continue")
    if tmpfs:
        from bench.harness.workdir import tmpfs_base

        if workdir is not None:
            raise BadInput("--tmpfs and --workdir both say where to write: give one")
        workdir = tmpfs_base()
    out_dir = out_dir or Path("results/runs") / time.strftime("%Y%m%d-%H%M%S")
    if out_dir.exists() and not out_dir.is_dir():
        raise BadInput(f"--out {out_dir} exists and is not a directory")
    cfg = runner.RunConfig(specs, workloads, rates, duration, repeat, out_dir,
                           baseline=baseline, resume=resume, workdir=workdir,
                           arrivals=arrivals, overhead_limit_pct=overhead_limit,
                           idle_s=idle, search=searched, judge=judge_probes if searched else None)
    try:
        res = runner.run(cfg, ResultsDir, err)
    except KeyboardInterrupt:
        raise typer.Exit(130) from None
    summary(res.path, detail)
    if report_after:
        _report_quietly(res.path)
    out.print(f"results: {res.path}")


def _specs(given: list[str] | None, by_default) -> list:
    """The backend specs named, or every available backend ``by_default(cls)`` admits.
    BadInput when none of those named can run here."""
    from bench.harness import spec as specmod

    if given:
        specs = [specmod.parse_backend(s) for s in specmod.split_specs(given)]
        reasons = {s.name: backends.availability(s.name) for s in specs}
        if all(reasons.values()):
            first = specs[0].name
            raise BadInput(f"backend {first} is unavailable: {reasons[first]}"
                           if len(specs) == 1 else
                           "no requested backend can run here: "
                           + "; ".join(f"{n}: {r}" for n, r in reasons.items()))
        return specs
    specs = []
    for name in backends.names():
        reason = backends.availability(name)
        if reason:
            err.print(f"[dim]skipping {name}: {reason}[/]", highlight=False)
        elif not by_default(backends.get(name)):
            err.print(f"[dim]not in the default run: {name} (-b {name} runs it)[/]",
                      highlight=False)
        else:
            specs.append(specmod.parse_backend(name))
    return specs


def _parse_arrivals(text: str, rates: list[str]) -> str:
    """The arrivals in the one spelling every engine reads (BadInput, one line): a burst's
    peak must be above every offered rate, its base."""
    from workloads.pacing import Burst, parse_arrivals

    try:
        shape = parse_arrivals(text)
    except ValueError as e:
        raise BadInput(str(e)) from None
    if not isinstance(shape, Burst):
        return shape
    low = [r for r in rates if r != "max" and float(r) >= shape.peak]
    if low:
        raise BadInput(f"--arrivals {text}: peak {shape.peak:g} is not above the base rate "
                       f"-r {low[0]}")
    return shape.text


def _check_blocks(blocks: int, rates: list[str], duration: float, opt: str,
                  alternative: str) -> None:
    """Overhead comes from paired blocks: an interval needs two, a block needs cells long
    enough to say something."""
    if blocks < 2:
        raise BadInput(f"{opt} {blocks}: overhead needs at least 2 blocks ({opt} 2), "
                       f"{alternative}")
    short = [r for r in rates if r != "max" and float(r) * duration < MIN_OPS]
    if short:
        raise BadInput(f"-r {short[0]} -d {duration:g} gives {float(short[0]) * duration:.0f} "
                       f"operations a cell: a block needs at least {MIN_OPS} (longer -d, "
                       f"higher -r, {alternative})")


@app.command()
def calibrate(
    workload: list[str] | None = typer.Option(
        None, "--workload", "-w", help="workloads to calibrate on (default: all)"),
    rate: str = typer.Option(CALIBRATE_RATE, "--rate", "-r",
                             help="target ops/s the real runs use (a fixed rate)"),
    duration: float = typer.Option(DEFAULT_DURATION, "--duration", "-d",
                                   help="seconds per cell, as the real runs use"),
    blocks: int = typer.Option(DEFAULT_BLOCKS, "--blocks", "-n",
                               help="blocks per run, as the real runs use (-n of run)"),
    runs: int = typer.Option(20, "--runs", help="runs of each control: how many intervals "
                                                "are checked against the truth"),
    inject: list[str] | None = typer.Option(
        None, "--inject", help="injected costs in ns per operation (default 2000,10000)"),
    effect: float | None = typer.Option(
        None, "--effect", help="the overhead (µs per operation) the real runs must resolve: "
                               "exit 1 when the A/A interval is wider"),
    out_dir: Path | None = typer.Option(None, "--out", "-o",
                                           help="results folder (default results/calibrate/<time>)"),
    workdir: Path | None = typer.Option(None, "--workdir",
                                           help="where the file workload writes"),
):
    """Check this machine before trusting its overhead numbers: A/A (null sensor) and injected
    cost runs; coverage of the truth, resolution, steal. Exit 1 when it falls short."""
    from bench.results import calibrate as cal
    from bench.harness import runner, spec as specmod
    from workloads import SYNTHETIC, get_workload

    if duration <= 0 or not math.isfinite(duration):
        raise BadInput(f"bad duration {duration}: must be > 0 seconds")
    rates = parse_rates([rate])
    if rates == ["max"]:
        raise BadInput("calibrate needs an open-loop rate (ops/s), not 'max'")
    _check_blocks(blocks, rates, duration, "--blocks", "or fewer runs")
    if runs < 1:
        raise BadInput(f"bad --runs {runs}: must be >= 1")
    if effect is not None and not (effect > 0 and math.isfinite(effect)):
        raise BadInput(f"bad --effect {effect}: µs per operation > 0")
    try:
        inject_ns = [float(x) for x in _split(inject)] if inject else [2000.0, 10000.0]
    except ValueError:
        raise BadInput(f"bad --inject {','.join(_split(inject))}: ns per operation") from None
    if any(not (x > 0 and math.isfinite(x)) for x in inject_ns):
        raise BadInput("bad --inject: ns per operation > 0")
    workloads = [specmod.parse_workload(w)
                 for w in specmod.split_specs(workload or []) or list(SYNTHETIC)]
    if any(get_workload(w.name).recipe for w in workloads):
        raise BadInput("calibrate runs the synthetic workloads (file, process, network): "
                       "an application recipe has no rate to calibrate at")
    specmod.check_runnable(workloads)
    specs = [specmod.parse_backend(s) for s in cal.control_specs(inject_ns)]
    why = backends.availability(cal.NULL)
    if why:
        raise BadInput(f"the A/A control {cal.NULL} cannot run here: {why}")
    why = backends.availability(cal.INJECT)
    if why:
        err.print(f"[yellow]warning:[/] no injected-cost check: {cal.INJECT} cannot run here "
                  f"({why})", highlight=False)
        specs = specs[:1]
    out_dir = out_dir or Path("results/calibrate") / time.strftime("%Y%m%d-%H%M%S")
    cfg = runner.RunConfig(specs, workloads, rates, duration, runs * blocks, out_dir,
                           workdir=workdir)
    try:
        res = runner.run(cfg, ResultsDir, err)
    except KeyboardInterrupt:
        raise typer.Exit(130) from None
    summaries = cal.analyse(res.path, blocks)
    t = Table(title=f"calibration: {runs} runs of {blocks} blocks, {duration:g} s cells at "
                    f"{rates[0]} ops/s", title_justify="left")
    for c in ("workload", "control", "spun µs/op", "+ fixed µs/op", "= truth µs/op",
              "covered", "estimate µs/op", "bias µs", "± half-width µs", "steal max %"):
        t.add_column(c)
    for s in summaries:
        fixed = "(measures it)" if s.control == cal.FIXED else fmt.number(s.fixed_us, 2)
        t.add_row(s.workload, s.control, fmt.number(s.injected_us, 2), fixed,
                  fmt.number(s.truth_us, 2),
                  f"{s.covered}/{s.runs}" if fmt.known(s.truth_us) else fmt.DASH,
                  fmt.number(s.estimate_us, 2, sign=True), fmt.number(s.bias_us, 2, sign=True),
                  fmt.number(s.half_width_us, 2), fmt.number(s.steal_pct_max, 1))
    out.print(t)
    notes, ok = cal.findings(summaries, effect)
    for n in notes:
        err.print(f"[yellow]warning:[/] {n}", highlight=False, soft_wrap=True)
    path = cal.save(res.path, summaries, {"rate": rates[0], "duration_s": duration,
                                          "blocks": blocks, "runs": runs,
                                          "inject_ns": inject_ns, "effect_us": effect})
    out.print(f"calibration: {path}")
    if not ok:
        raise typer.Exit(1)
    out.print("calibrated: overhead intervals hold their truth on this machine")


@app.command()
def scenario(
    name: str = typer.Argument(..., help="crash, stall, bad-update or tamper "
                                         "(comma-separate several)"),
    backend: list[str] | None = typer.Option(
        None, "--backend", "-b",
        help="backend spec NAME[:key=value,...] (default: every available sensor)"),
    workload: str | None = typer.Option(
        None, "--workload", "-w",
        help="workload spec (default: per backend, the first of file, process, network "
             "it sees)"),
    rate: str = typer.Option("1000", "--rate", "-r", help="offered ops/s (open loop)"),
    duration: float = typer.Option(6.0, "--duration", "-d", help="seconds per cell"),
    at: float = typer.Option(2.0, "--at", help="seconds after the first operation the "
                             "fault is injected"),
    for_s: float = typer.Option(2.0, "--for", help="how long a stall lasts (s)"),
    restart_ms: float = typer.Option(0.0, "--restart-ms",
                                     help="the supervisor's delay before a restart (ms)"),
    technique: list[str] | None = typer.Option(
        None, "--technique", "-t",
        help="tamper: kill, stop, bpf-detach, audit-delete, audit-disable, flood, move-dir "
             "(default: every one that applies)"),
    canary: bool = typer.Option(False, "--canary",
                                help="bad-update: a canary instance takes the update "
                                     "first; the rollout halts if it fails its health check"),
    forward_ms: float = typer.Option(5.0, "--forward-ms",
                                     help="how often a sensor forwards the events in hand "
                                          "(what a crash loses beyond its blind window)"),
    out_dir: Path | None = typer.Option(
        None, "--out", "-o", help="results folder (default results/scenarios/<name>-<time>)"),
    workdir: Path | None = typer.Option(None, "--workdir",
                                           help="where the file workload writes"),
    report_after: bool = typer.Option(True, "--report/--no-report",
                                      help="write report.html and charts at the end"),
):
    """Inject a fault into each sensor while a workload runs: what is lost, how long it is
    blind, whether the host's workload is held up."""
    from bench.core.osapi import IS_WINDOWS

    if IS_WINDOWS:
        # faults are signals (SIGKILL, SIGSTOP) and the supervisor is a Linux process tree
        raise BadInput("failure scenarios run on Linux only")
    from bench.harness import spec as specmod
    from bench.scenario.cell import Schedule
    from bench.scenario.run import ScenarioConfig, check
    from bench.scenario.run import run as run_scenario

    names = _split([name])   # each is checked with the rest of the schedule (check)
    if duration <= 0 or not math.isfinite(duration):
        raise BadInput(f"bad duration {duration}: must be > 0 seconds")
    if forward_ms <= 0 or not math.isfinite(forward_ms):
        raise BadInput(f"--forward-ms {forward_ms:g}: must be > 0")
    rates = parse_rates([rate])
    workloads = [specmod.parse_workload(workload)] if workload else []
    specmod.check_runnable(workloads)
    techniques = tuple(_split(technique))
    cfg = ScenarioConfig([Schedule(n, at, for_s, restart_ms, canary=canary,
                                   techniques=techniques) for n in names],
                         [], workloads, rates[0], duration, Path("."), workdir, forward_ms)
    check(cfg)
    cfg.specs = _specs(backend, lambda cls: cls.mode in ("kernel", "user"))
    cfg.out = out_dir or Path("results/scenarios") / \
        f"{'+'.join(names)}-{time.strftime('%Y%m%d-%H%M%S')}"
    try:
        res = run_scenario(cfg, ResultsDir, err)
    except KeyboardInterrupt:
        raise typer.Exit(130) from None
    if report_after:
        _report_quietly(res.path)
    out.print(f"results: {res.path}")


def _report_quietly(path: Path) -> None:
    """Report, charts and exports at the end of a run. The results are already on disk, so
    a failure here is a warning that says how to retry, never a lost run."""
    from bench.publish import generate

    try:
        g = generate(path)
        out.print(f"report: {g.report}")
    except Exception as e:   # noqa: BLE001 - any failure here must not fail the run
        if os.environ.get("SENSORBENCH_DEBUG"):
            raise
        err.print(f"[yellow]warning:[/] report not written ({type(e).__name__}: {e}); "
                  f"results are kept: run `sensorbench report {path}`", highlight=False)


@app.command()
def report(folder: Path = typer.Argument(..., help="results folder (from `run` or `merge`)"),
           exports: bool = typer.Option(True, "--exports/--no-exports",
                                        help="also write pytest-benchmark.json and "
                                             "github-benchmark.json"),
           markdown: Path | None = typer.Option(
               None, "--markdown", help="also write a Markdown summary (headline tables and "
                                        "charts linked relative to it), e.g. results/README.md"),
           command: str | None = typer.Option(
               None, "--command", help="the command the Markdown page says regenerates it")):
    """Write DIR/report.html (self-contained), DIR/charts/*.png|svg and the CI exports."""
    from bench.publish import generate

    g = generate(folder, exports=exports, markdown=markdown, command=command)
    for n in g.notes:
        err.print(f"[dim]note: {n}[/]", highlight=False)
    out.print(f"report: {g.report}")
    out.print(f"charts: {len(g.charts) // 2} in {g.report.parent / 'charts'}")
    for p in g.exports:
        out.print(f"export: {p}")
    if markdown:
        out.print(f"markdown: {markdown}")


@app.command()
def compare(
    base: Path = typer.Argument(..., help="results folder of the reference run"),
    new: Path = typer.Argument(..., help="results folder of the run to judge"),
    fail_on: list[str] | None = typer.Option(
        None, "--fail-on",
        help="METRIC=N (absolute, metric's unit) or METRIC=N% (relative): gate only on the "
             "metrics named, with that minimum effect. Metrics: latency_p50, latency_p99, "
             "drop_rate (percentage points), cpu_us_per_event, sensor_cpu_pct, slowdown "
             "(points), overhead (µs per operation). Default gate: latency_p99, drop_rate, "
             "cpu_us_per_event, slowdown, overhead"),
    min_effect: float = typer.Option(10.0, "--min-effect",
                                     help="smallest relative change (%) that can count, like "
                                          "asv's --factor 1.1"),
    allow_missing: bool = typer.Option(False, "--allow-missing",
                                       help="compare what both runs have instead of exit 2"),
    cross_machine: bool = typer.Option(False, "--cross-machine",
                                       help="compare runs from different machines (warn only)"),
    show_all: bool = typer.Option(False, "--all", help="also list metrics that did not change"),
    json_out: Path | None = typer.Option(None, "--json", help="write the comparison as JSON"),
):
    """Compare two results folders: exit 0 no regression, 1 regression, 2 could not compare."""
    from bench.report import comparison, terminal
    from bench.results import compare as cmpmod
    from bench.results.rundata import RunData

    if min_effect < 0 or not math.isfinite(min_effect):
        raise BadInput(f"bad --min-effect {min_effect}: a percentage >= 0")
    rules = cmpmod.parse_fail_on(_split(fail_on))
    c = cmpmod.compare(RunData.load(base), RunData.load(new), factor=1 + min_effect / 100,
                       fail_on=rules, allow_missing=allow_missing, cross_machine=cross_machine)
    for a, b in c.pairs:
        err.print(f"[dim]paired by backend name: {a} (BASE) with {b} (NEW)[/]", highlight=False)
    for w in c.warnings:
        err.print(f"[yellow]warning:[/] {w}", highlight=False, soft_wrap=True)
    for m in c.missing[:20]:
        err.print(f"[yellow]missing:[/] {m}", highlight=False, soft_wrap=True)
    if len(c.missing) > 20:
        err.print(f"[yellow]missing:[/] ... and {len(c.missing) - 20} more", highlight=False)
    out.print(f"compare {base} -> {new}", style="bold", highlight=False)
    for section in comparison.view(c, show_all):
        terminal.render(section, out)
    if json_out:
        json_out.write_text(json.dumps(cmpmod.to_json(c), indent=2, default=str) + "\n")
    code = c.exit_code()
    for p in c.problems:
        err.print(f"[red]could not compare:[/] {p}", highlight=False, soft_wrap=True)
    if code == 1:
        err.print(f"[red]regression:[/] {len(c.regressions)} gated metric(s) got worse beyond "
                  "the noise", highlight=False)
    elif code == 0:
        out.print("no regression")
    raise typer.Exit(code)


@app.command()
def merge(folders: list[Path] = typer.Argument(..., help="results folders to combine"),
          out_dir: Path = typer.Option(..., "--out", "-o", help="new folder for the merge")):
    """Combine results folders from several machines into one (a `host` column per row)."""
    from bench.results.merge import merge as do_merge

    path = do_merge(folders, out_dir)
    out.print(f"merged {len(folders)} folders into {path}")


def summary(folder: Path, detail: bool = False) -> None:
    """What a run prints at its end: per workload, one row per backend x rate (and with
    ``detail`` the per-kind tables)."""
    from bench.report import terminal
    from bench.results.rundata import RunData

    terminal.summary(RunData.load(folder, strict_meta=False), out, detail)


def main() -> None:
    try:
        # Without standalone mode, click hands back typer.Exit's code instead of exiting.
        rc = app(standalone_mode=False)
        sys.exit(rc if isinstance(rc, int) else 0)
    except BenchError as e:
        if os.environ.get("SENSORBENCH_DEBUG"):
            raise
        err.print(f"[red]error:[/] {e}", highlight=False, soft_wrap=True)
        sys.exit(e.exit_code)
    except typer.Exit as e:
        sys.exit(e.exit_code)
    except (KeyboardInterrupt, typer.Abort):
        sys.exit(130)
    except Exception as e:
        # Usage errors of the (vendored) click underneath typer: shown as click shows them.
        if hasattr(e, "show") and hasattr(e, "exit_code"):
            e.show()
            sys.exit(2)
        raise


if __name__ == "__main__":
    main()
