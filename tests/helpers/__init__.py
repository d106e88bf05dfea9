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


def run_cells(tmp_path: Path, *args: str, env: dict | None = None) -> pd.DataFrame:
    """``sensorbench run ... --out tmp`` and return cells.csv as a frame."""
    out = tmp_path / "results"
    sensorbench("run", *args, "--out", str(out), env=env, check=True)
    return pd.read_csv(out / "cells.csv")


from tests.helpers.leaks import (Snapshot, audit_state, bpf_prog_ids,  # noqa: E402
                                 sensor_processes)

__all__ = ["ROOT", "IS_ROOT", "TEST_TAG", "needs_root", "sensorbench", "run_cells",
           "Snapshot", "audit_state", "bpf_prog_ids", "sensor_processes"]
