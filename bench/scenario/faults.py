"""The faults a scenario injects, and what it looks at while they last.

Which process is "the sensor" depends on who collects: for our own backends the consumer
is the sensor host process itself; for a real tool (a peer) it is the tool's processes,
which the adapter puts in ``<sensor cgroup>/tool``. Killing or stopping the tool, not our
adapter around it, is what happens to a deployed tool.

``residue`` says what of a sensor stays in the kernel while no consumer runs: audit rules
keep costing every syscall they match; BPF programs go with the last fd that held them.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
from pathlib import Path


def tool_pids(sensor_cgroup: str | None) -> list[int]:
    """The processes of a peer's tool (``<sensor cgroup>/tool``), [] for our backends."""
    if not sensor_cgroup:
        return []
    try:
        text = (Path(sensor_cgroup) / "tool" / "cgroup.procs").read_text()
    except OSError:
        return []
    return [int(p) for p in text.split()]


def targets(host_pid: int, sensor_cgroup: str | None) -> tuple[str, list[int]]:
    """('tool', its pids) for a peer, ('consumer', [host pid]) for our own backends."""
    pids = tool_pids(sensor_cgroup)
    return ("tool", pids) if pids else ("consumer", [host_pid])


def signal_all(pids: list[int], sig: int) -> int:
    """Send ``sig`` to each pid that still exists; how many got it."""
    n = 0
    for pid in pids:
        try:
            os.kill(pid, sig)
            n += 1
        except ProcessLookupError:
            pass
    return n


def kill(pids: list[int]) -> int:
    return signal_all(pids, signal.SIGKILL)


def stop(pids: list[int]) -> int:
    return signal_all(pids, signal.SIGSTOP)


def cont(pids: list[int]) -> int:
    return signal_all(pids, signal.SIGCONT)


def bpf_program_ids() -> set[int]:
    """Ids of every loaded BPF program (``bpftool prog show``); empty without bpftool."""
    if not shutil.which("bpftool"):
        return set()
    r = subprocess.run(["bpftool", "prog", "show"], capture_output=True, text=True,
                       timeout=10)
    return {int(m.group(1)) for m in re.finditer(r"^(\d+):", r.stdout, re.M)}


def audit_rules() -> int | None:
    """How many audit rules the kernel holds (None where audit cannot be read)."""
    if os.geteuid() != 0:
        return None
    try:
        from bench.backends.audit import state
    except ImportError:
        return None
    try:
        return len(state.save().rules)
    except OSError:
        return None


class Residue:
    """What the kernel holds: read before the cell, then while the sensor is down."""

    def __init__(self) -> None:
        self.progs = bpf_program_ids()
        self.rules = audit_rules()

    def now(self) -> str:
        """What is there beyond the reading before the cell, in words ('' when nothing)."""
        parts = []
        progs = len(bpf_program_ids() - self.progs)
        if progs:
            parts.append(f"{progs} BPF program{'s' if progs != 1 else ''} still attached")
        rules = audit_rules()
        if rules is not None and self.rules is not None and rules > self.rules:
            n = rules - self.rules
            parts.append(f"{n} audit rule{'s' if n != 1 else ''} still active")
        return "; ".join(parts)
