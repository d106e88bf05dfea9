"""Shared test helpers: running the CLI, root-only skips, and the leave-nothing-behind check."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[1]
IS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0

needs_root = pytest.mark.skipif(not IS_ROOT, reason="needs root: runs a real sensor")

# Every process a test starts inherits this tag, so leak checks find our processes only,
# even while other runs share the machine.
TEST_TAG = f"{os.getpid()}-{os.urandom(4).hex()}"
os.environ["SENSORBENCH_TEST_TAG"] = TEST_TAG


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


def bpf_prog_ids() -> set[str]:
    if not shutil.which("bpftool"):
        return set()
    r = subprocess.run(["bpftool", "prog", "show"], capture_output=True, text=True)
    return {ln.split(":")[0] for ln in r.stdout.splitlines() if ln[:1].isdigit()}


def audit_rules() -> str:
    if not shutil.which("auditctl"):
        return ""
    return subprocess.run(["auditctl", "-l"], capture_output=True, text=True).stdout


def sensor_processes() -> list[str]:
    """Processes started by this test session that are still alive, other than the test
    process itself and its own helpers (none should outlive a run)."""
    import psutil

    me = os.getpid()
    left = []
    for p in psutil.process_iter(["pid", "cmdline"]):
        if p.info["pid"] == me:
            continue
        try:
            if p.environ().get("SENSORBENCH_TEST_TAG") == TEST_TAG:
                left.append(f"{p.info['pid']} {' '.join(p.info['cmdline'] or [])}")
        except (psutil.Error, OSError):
            continue
    return left


@pytest.fixture
def leaves_nothing():
    """Assert a test leaves no BPF program, audit rule, process or cgroup of ours behind."""
    progs, rules = bpf_prog_ids(), audit_rules()
    from bench.cgroup import PARENT, v2_root

    root = v2_root()
    cg_dir = root / PARENT if root else None
    before = ({p.name for p in cg_dir.iterdir() if p.is_dir()}
              if cg_dir and cg_dir.is_dir() else set())
    yield
    assert bpf_prog_ids() <= progs, "BPF programs left loaded"
    assert audit_rules() == rules, "audit rules changed"
    assert sensor_processes() == [], "sensor or workload processes left running"
    if cg_dir and cg_dir.is_dir():
        # New cgroups whose owning harness is gone were left behind (a cgroup of a run
        # still going on, possibly not ours, is not).
        left = [p.name for p in cg_dir.iterdir() if p.is_dir() and p.name not in before
                and not _pid_alive(p.name.split("-", 1)[0])]
        assert left == [], f"cgroups left: {left}"


def _pid_alive(pid: str) -> bool:
    import psutil

    return pid.isdigit() and psutil.pid_exists(int(pid))
