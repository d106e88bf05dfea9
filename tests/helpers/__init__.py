"""What the tests share: running the CLI as a user would, root-only skips, and the
leave-nothing-behind snapshot. Imported one way only, as ``tests.helpers`` (pytest loads
``conftest.py`` under a name of its own, so state kept there would exist twice)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[2]
IS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0

needs_root = pytest.mark.skipif(not IS_ROOT, reason="needs root: runs a real sensor")

# Every process a test starts inherits this tag, so leak checks find our processes only,
# even while other runs share the machine.
TEST_TAG = os.environ.setdefault("SENSORBENCH_TEST_TAG", f"{os.getpid()}-{os.urandom(4).hex()}")


def sensorbench(*args: str, timeout: float = 300, env: dict | None = None,
                check: bool = False) -> subprocess.CompletedProcess:
    """Run the CLI as a user would: a separate process, output captured."""
    full_env = {**os.environ, **(env or {})}
    full_env.setdefault("COLUMNS", "200")
    r = subprocess.run([sys.executable, "-m", "bench.cli", *args], cwd=ROOT, env=full_env,
                       capture_output=True, text=True, timeout=timeout)
    if check and r.returncode != 0:
        raise AssertionError(f"sensorbench {' '.join(args)} exited {r.returncode}:\n"
                             f"{r.stdout}\n{r.stderr}")
    return r


def cli_in_process(*args: str, check: bool = False) -> subprocess.CompletedProcess:
    """``sensorbench ARGS`` run by ``bench.cli.main`` in this process, its exit code,
    stdout and stderr captured as ``sensorbench`` returns them (COLUMNS=200 too). For the
    commands that only read and write results folders (compare, merge, report) and for
    input refused before any work: the same code and output without the start-up of a
    new interpreter (a second or two each). An exception the CLI does not turn into an
    exit propagates: the traceback a user would have seen fails the test. ``check`` as
    for ``sensorbench``. Runs of sensors stay in a process of their own (``sensorbench``,
    ``run_cells``): signals, cgroups and the janitor are the point there."""
    import contextlib
    import io

    from bench import cli as climod

    out, err = io.StringIO(), io.StringIO()
    argv, columns = sys.argv, os.environ.get("COLUMNS")
    sys.argv = ["sensorbench", *args]
    os.environ["COLUMNS"] = "200"
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                climod.main()
                code = 0
            except SystemExit as e:
                code = e.code if isinstance(e.code, int) else 0 if e.code is None else 1
    finally:
        sys.argv = argv
        if columns is None:
            os.environ.pop("COLUMNS", None)
        else:
            os.environ["COLUMNS"] = columns
    if check and code != 0:
        raise AssertionError(f"sensorbench {' '.join(args)} exited {code}:\n"
                             f"{out.getvalue()}\n{err.getvalue()}")
    return subprocess.CompletedProcess(["sensorbench", *args], code, out.getvalue(),
                                       err.getvalue())


def assert_run_refused(out: Path, *args: str, says: str) -> None:
    """``sensorbench run -b synthetic --out OUT ARGS`` refused as a user's mistake: exit 2,
    one line on stderr that holds ``says``, and no results folder written."""
    r = cli_in_process("run", "-b", "synthetic", "--out", str(out), *args)
    assert r.returncode == 2 and says in r.stderr, r.stderr
    assert len(r.stderr.strip().splitlines()) == 1
    assert not out.exists()


def start_cli(*args: str, **popen_kw) -> subprocess.Popen:
    """Start the CLI without waiting, as a terminal starts a foreground command: SIGINT
    (Ctrl-C) at its default, whatever this process was given. A shell without job control
    starts a background command (``make test &``, ``(loop &)``) with SIGINT and SIGQUIT
    ignored; exec keeps an ignored signal, Python then installs no KeyboardInterrupt, and
    a test's SIGINT would reach a CLI that ignores it, as a background job should."""
    return subprocess.Popen(["env", "--default-signal=INT,QUIT", sys.executable, "-m",
                             "bench.cli", *args], cwd=ROOT, **popen_kw)


def run_cells(tmp_path: Path, *args: str, env: dict | None = None) -> pd.DataFrame:
    """``sensorbench run ... --no-report --out tmp`` and return its rows as every reader
    has them (``RunData.raw``: what cells.csv stores, with the estimates computed from
    it). No report: its charts cost seconds a run, a report that fails to write is only a
    warning of ``run``, and the tests of reports make and check their own (the report
    ``run`` writes at its end: the "sweep" of tests/helpers/report_runs.py)."""
    from bench.results.rundata import RunData

    out = tmp_path / "results"
    sensorbench("run", *args, "--no-report", "--out", str(out), env=env, check=True)
    return RunData.load(out).raw


from tests.helpers.leaks import (Snapshot, audit_state, bpf_prog_ids,  # noqa: E402
                                 sensor_processes)

__all__ = ["ROOT", "IS_ROOT", "TEST_TAG", "needs_root", "sensorbench", "cli_in_process",
           "start_cli", "run_cells", "Snapshot", "audit_state", "bpf_prog_ids",
           "sensor_processes"]
