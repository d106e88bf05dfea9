"""A user's own command (``cmd:argv=...``) tried once before the run, with no sensor: one
that fails there would fail every cell, so it is a mistake in the input, said in one line
(exit 2), not a run of ``failed`` rows. A command that fails only under a sensor is a
finding, and stays a ``failed`` row with its last lines of stderr."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from bench.core.errors import BadInput
from bench.core.settings import Spec

TRIAL_TIMEOUT_S = 900


def check_commands(workloads: list[Spec]) -> None:
    """BadInput when a ``cmd`` workload's command exits non-zero with no sensor."""
    for w in workloads:
        if w.name == "cmd":
            _trial(w)


def _trial(w: Spec) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="sensorbench-cmd-"))
    try:
        base = [sys.executable, "-m", "workloads", w.name, "--workdir", str(tmp / "cell"),
                "--settings", json.dumps(w.settings)]
        for argv in (base + ["--prepare"], base + ["--ledger", str(tmp / "ledger")]):
            try:
                p = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True,
                                   timeout=TRIAL_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                raise BadInput(f"workload {w.text}: the command did not finish in "
                               f"{TRIAL_TIMEOUT_S} s with no sensor running") from None
            if p.returncode != 0:
                lines = p.stderr.decode(errors="replace").strip().splitlines()
                raise BadInput(f"workload {w.text}: fails with no sensor running: "
                               f"{lines[-1] if lines else f'exit {p.returncode}'}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
