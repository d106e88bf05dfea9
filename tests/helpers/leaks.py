"""The leave-nothing-behind check: what of ours exists on the machine, before and after.

``Snapshot()`` records BPF programs, the host's audit state (enabled, failure, pid, limits
and every rule, as the kernel's bytes), the mount table, our cgroups and our processes
(those carrying this session's ``SENSORBENCH_TEST_TAG``). ``Snapshot.leftovers(after)``
lists, one line each, what appeared or changed since, so a failure says what leaked.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time

import psutil


def _tag() -> str:
    return os.environ["SENSORBENCH_TEST_TAG"]


def bpf_prog_ids() -> set[str]:
    if not shutil.which("bpftool"):
        return set()
    r = subprocess.run(["bpftool", "prog", "show"], capture_output=True, text=True)
    return {m.group(1) for m in re.finditer(r"^(\d+):", r.stdout, re.M)}


def audit_state():
    """The host's audit configuration (``bench.backends.audit.state.AuditState``), or None
    where audit cannot be read (not root, no audit)."""
    if os.geteuid() != 0:
        return None
    from bench.backends.audit import state

    try:
        return state.save()
    except OSError:
        return None


def sensor_processes() -> list[str]:
    """Processes started by this test session that are still alive, other than the test
    process itself (none should outlive a run). The process workload's children run with
    an empty environment: they are ours when they run this checkout's sb-child."""
    from workloads.native import CHILD_BIN

    me, tag = os.getpid(), _tag()
    left = []
    for p in psutil.process_iter(["pid", "cmdline", "exe"]):
        if p.info["pid"] == me:
            continue
        try:
            ours = p.info["exe"] == str(CHILD_BIN) or \
                p.environ().get("SENSORBENCH_TEST_TAG") == tag
            if ours and p.status() != "zombie":
                left.append(f"{p.info['pid']} {' '.join(p.info['cmdline'] or [])[:160]}")
        except (psutil.Error, OSError):
            continue
    return left


def _mounts() -> set[str]:
    with open("/proc/self/mounts") as f:
        return {" ".join(ln.split()[:3]) for ln in f}


def _cgroups() -> set[str]:
    from bench.harness.cgroup import PARENT, v2_root

    root = v2_root()
    d = root / PARENT if root else None
    return {p.name for p in d.iterdir() if p.is_dir()} if d and d.is_dir() else set()


class Snapshot:
    def __init__(self) -> None:
        self.progs = bpf_prog_ids()
        self.audit = audit_state()
        self.mounts = _mounts()
        self.cgroups = _cgroups()

    def leftovers(self, owners_gone: set[int] | None = None) -> list[str]:
        """What is there now that was not before. A new cgroup counts when its owning
        harness (the pid its name starts with) is in ``owners_gone`` or no longer alive;
        a cgroup of a run still going on is not a leak."""
        out = []
        progs = bpf_prog_ids() - self.progs
        if progs:
            out.append(f"BPF programs left loaded: {sorted(progs)}")
        audit = audit_state()
        if audit != self.audit:
            before = self.audit.describe() if self.audit else None
            now = audit.describe() if audit else None
            out.append(f"audit state changed: before {before}, now {now}")
        mounts = _mounts() - self.mounts
        if mounts:
            out.append(f"mounts left: {sorted(mounts)}")
        for name in sorted(_cgroups() - self.cgroups):
            owner = name.split("-", 1)[0]
            if not owner.isdigit() or (owners_gone and int(owner) in owners_gone) \
                    or not psutil.pid_exists(int(owner)):
                out.append(f"cgroup left: {name}")
        procs = sensor_processes()
        if procs:
            out.append(f"processes left: {procs}")
        return out

    def wait_clean(self, timeout: float, owners_gone: set[int] | None = None
                   ) -> tuple[float, list[str]]:
        """Poll until nothing is left (or ``timeout``): (seconds it took, what is left)."""
        t0 = time.monotonic()
        while True:
            left = self.leftovers(owners_gone)
            took = time.monotonic() - t0
            if not left or took > timeout:
                return took, left
            time.sleep(0.1)
