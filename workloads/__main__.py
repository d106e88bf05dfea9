"""Workload process entry: ``python -m workloads NAME --rate R --duration S ...``.

``python -m workloads -`` reads the same settings as a JSON object from stdin instead: the
harness uses that so the run marker never appears in the workload's own command line,
where a sensor reporting argv would take the workload process for one of its operations.
Runs one workload in this process (inside the given cgroup when one is passed), writes the
ledger to ``--ledger`` and prints a one-line JSON summary, after a line ``start`` when its
schedule starts and ``done`` when its last operation is done. The harness starts it after the
sensor is ready; its exit code is 0 when the ledger was written.

With ``engine=native`` this process execs ``sb-load`` once the settings are checked
(``workloads/native/engine.py``): same pid, same protocol, the ledger in the memfd the
harness passes as ``--ledger-fd``; it joins the cgroup itself, once set up.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import sys

from bench.core.osapi import die_with_parent, join_group
from bench.core.ledger import Ledger
from workloads.base import get_workload
from workloads.pacing import ARRIVALS, Burst, parse_arrivals, schedule
from bench.core.clock import now_ns


def _arrivals(text: str) -> str:
    """The arrivals as the schedule and sb-load read them (a burst in its one spelling)."""
    try:
        shape = parse_arrivals(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None
    return shape.text if isinstance(shape, Burst) else shape


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m workloads")
    ap.add_argument("name")
    ap.add_argument("--rate", default="1000", help="ops/s, or 'max' for closed loop")
    ap.add_argument("--duration", type=float, default=2.0)
    ap.add_argument("--marker", default="")
    ap.add_argument("--workdir", default="")
    ap.add_argument("--ledger", default="")
    ap.add_argument("--ledger-fd", type=int, default=-1,
                    help="engine=native: the memfd the ledger goes into")
    ap.add_argument("--tap-fd", type=int, default=-1)
    ap.add_argument("--cgroup", default=None)
    ap.add_argument("--home-cgroup", default=None,
                    help="cgroup to go back to once the operations are done")
    ap.add_argument("--settings", default="{}", help="workload settings as a JSON object")
    ap.add_argument("--arrivals", type=_arrivals, default="poisson",
                    help=f"{', '.join(ARRIVALS)} or burst:on_ms=A,off_ms=B,peak=P")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--prepare", action="store_true",
                    help="an application recipe: make its inputs in --workdir and exit")
    a = ap.parse_args(argv)
    if a.name == "-":
        cfg = json.load(sys.stdin)
        settings = json.dumps(cfg.pop("settings", {}))
        a = ap.parse_args([cfg.pop("name"), f"--settings={settings}"]
                          + [f"--{k.replace('_', '-')}={v}" for k, v in cfg.items()])

    cls = get_workload(a.name)
    settings = {k: s.default for k, s in cls.settings.items()}
    settings.update(json.loads(a.settings))
    native = cls.engine(settings) == "native"
    if cls.recipe:
        if not (a.workdir and (a.ledger or a.prepare)):
            ap.error("--workdir and --ledger (or --prepare) are required")
    elif not (a.marker and a.workdir and (a.ledger_fd >= 0 if native else a.ledger)):
        ap.error("--marker, --workdir and --ledger (engine=native: --ledger-fd) are required")
    problem = cls.check_settings(settings) or cls.unavailable(settings)
    if problem:
        ap.error(problem)
    # SIGTERM from the harness (Ctrl-C, kill) must still run teardown; so must the
    # harness's own death, which PR_SET_PDEATHSIG turns into a SIGTERM.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    die_with_parent(signal.SIGTERM)
    if cls.recipe:
        w = cls(None, a.marker, a.workdir, settings, seed=a.seed)
        return prepare_recipe(w, a) if a.prepare else run_recipe(w, a)
    rate = None if a.rate == "max" else float(a.rate)
    if native:   # it joins the cell's cgroup itself, once set up, just before "start"
        from workloads.native.engine import exec_native

        exec_native(a.name, settings, rate=a.rate, duration=a.duration, marker=a.marker,
                    workdir=a.workdir, ledger_fd=a.ledger_fd, tap_fd=a.tap_fd,
                    arrivals=a.arrivals, seed=a.seed, cgroup=a.cgroup,
                    home_cgroup=a.home_cgroup)
    cgroup = a.cgroup if join_group(a.cgroup) else None
    tap = socket.socket(fileno=a.tap_fd) if a.tap_fd >= 0 else None
    expected_ops = (rate or 20_000) * a.duration
    ledger = Ledger(int(expected_ops * cls.rows_per_op * 1.1) + 64, tap=tap)
    w = cls(ledger, a.marker, a.workdir, settings)
    w.setup()
    n_ops = 0
    try:
        # "start" and "done" bracket the operations (children reaped included): the
        # harness reads CPU at those two moments, leaving start-up and the ledger out.
        print("start", flush=True)
        t_start = now_ns()
        for i, t_int in schedule(rate, a.duration, w.poll, a.arrivals, a.seed):
            w.op(i, t_int)
            n_ops = i + 1
        t_last = now_ns()
        w.finish()
        print("done", flush=True)
        # Out of the cell's cgroup: handing the ledger over (importing numpy, writing the
        # file) is the harness's business, neither charged to the workload nor paid to a
        # sensor that watches the cgroup.
        if cgroup:
            join_group(a.home_cgroup)
    finally:
        w.teardown()
    elapsed = (t_last - t_start) / 1e9
    meta = {
        "workload": a.name, "rate_target": a.rate, "duration_s": a.duration,
        "arrivals": a.arrivals if rate else "closed-loop",
        "ops": n_ops, "rows": ledger.n, "errors": w.errors, "elapsed_s": elapsed,
        "rate_achieved": n_ops / elapsed if elapsed > 0 else 0.0,
        "cgroup": cgroup, "pid": os.getpid(), "tap_errors": ledger.tap_errors,
        "exact_exit_time": getattr(w, "exact_exit_time", None), "settings": w.cfg,
        "engine": "python", "threads": 1,
    }
    ledger.save(a.ledger, meta)
    if tap is not None:
        tap.close()
    print(json.dumps(meta), flush=True)
    return 0


def prepare_recipe(w, a: argparse.Namespace) -> int:
    """Make an application recipe's inputs in --workdir (the harness does this before the
    cell's sensor starts and its count begins), written back to disk before the recipe's
    time begins. In the cell's cgroup when one is given: what this starts ends with it."""
    join_group(a.cgroup)
    w.make_inputs()
    if hasattr(os, "sync"):
        os.sync()
    return 0


def run_recipe(w, a: argparse.Namespace) -> int:
    """Run an application recipe once on the inputs ``--prepare`` made: its steps in the
    cgroup, between "start" and "done". The ledger stays empty (the harness counts the
    recipe's operations in the kernel); the summary says how long the steps took."""
    from workloads.recipes import StepFailed

    failed = None
    try:
        w.setup()
        cgroup = a.cgroup if join_group(a.cgroup) else None
        print("start", flush=True)
        t_start = now_ns()
        try:
            w.run()
        except StepFailed as e:
            failed = str(e)
        t_last = now_ns()
        print("done", flush=True)
        if cgroup:
            join_group(a.home_cgroup)
    finally:
        w.teardown()
    if failed:
        print(failed, file=sys.stderr, flush=True)
        return 3
    elapsed = (t_last - t_start) / 1e9
    meta = {"workload": a.name, "rate_target": "max", "duration_s": a.duration,
            "arrivals": "closed-loop", "ops": 1, "rows": 0, "errors": 0, "elapsed_s": elapsed,
            "rate_achieved": 1 / elapsed if elapsed > 0 else 0.0, "cgroup": cgroup,
            "pid": os.getpid(), "tap_errors": 0, "exact_exit_time": None, "settings": w.cfg,
            "engine": "recipe", "threads": 1, "recipe": True, "steps": w.steps_run,
            "wall_ns": t_last - t_start}
    Ledger(1).save(a.ledger, meta)
    print(json.dumps(meta), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
