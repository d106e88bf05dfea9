"""Tampering: an adversary with root tries to blind the sensor while the workload runs.

Each technique is a function that acts on the running cell and says, in one line, what it
did (or why it could not). Which backends a technique applies to is ``applies``. What the
sensor made of it comes from its own stats afterwards (``tamper_events``: what it saw of the
attempt as kernel events; its loss counter for a flood).

- ``kill``, ``stop``: SIGKILL (a supervisor restarts it, as after a crash) or SIGSTOP for
  ``--for`` seconds.
- ``bpf-detach``: ``bpftool link detach`` of every BPF link the sensor's processes hold.
- ``audit-delete``, ``audit-disable``: ``auditctl -D``, ``auditctl -e 0`` (the sensor's
  stop puts the host's audit state back, as after any cell).
- ``flood``: a process outside the workload's cgroup does what the workload does, as fast as
  it can, for ``--for`` seconds, in the sensor's view (the "super producer").
- ``move-dir``: the watched directory is moved away and an empty one put in its place; the
  workload goes on writing to the same paths.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from bench.backends.base import AUDIT

TECHNIQUES = ("kill", "stop", "bpf-detach", "audit-delete", "audit-disable", "flood",
              "move-dir")
# Techniques aimed at the state of one kernel facility: they apply to the backends that
# declare it (``Backend.facility``).
FACILITY_OF = {"audit-delete": AUDIT, "audit-disable": AUDIT}


def applies(technique: str, cls, workload_kinds: frozenset) -> str:
    """Why ``technique`` does not apply to this backend ('' when it does)."""
    from bench.core.kinds import FILE_KINDS

    if technique == "bpf-detach" and cls.mode != "kernel":
        return "holds no BPF links (not a kernel-mode sensor)"
    facility = FACILITY_OF.get(technique)
    if facility and getattr(cls, "facility", "") != facility:
        return f"not an {facility} consumer"
    if technique == "move-dir" and not (cls.kinds & FILE_KINDS & workload_kinds):
        return "sees no file activity of the workload"
    return ""


def bpf_links_of(pids: set[int]) -> list[int]:
    """Ids of the BPF links whose fds any of ``pids`` holds (``link_id`` in fdinfo), as
    an adversary finds them."""
    ids = set()
    for pid in pids:
        try:
            fds = os.listdir(f"/proc/{pid}/fdinfo")
        except OSError:
            continue
        for fd in fds:
            try:
                text = Path(f"/proc/{pid}/fdinfo/{fd}").read_text()
            except OSError:
                continue
            for ln in text.splitlines():
                if ln.startswith("link_id:"):
                    ids.add(int(ln.split()[1]))
    return sorted(ids)


def bpf_detach(pids: set[int]) -> str:
    ids = bpf_links_of(pids)
    if not ids:
        return "no BPF link held by the sensor was found"
    errors: dict[str, int] = {}
    done = 0
    for i in ids:
        r = subprocess.run(["bpftool", "link", "detach", "id", str(i)], capture_output=True,
                           text=True, timeout=30)
        if r.returncode == 0:
            done += 1
        else:
            why = (r.stderr.strip().splitlines() or ["?"])[-1]
            errors[why] = errors.get(why, 0) + 1
    refused = "; ".join(f"{n} refused: {w}" for w, n in errors.items())
    return f"bpftool link detach: {done} of {len(ids)} links detached" + \
        (f"; {refused}" if refused else "")


def auditctl(*args: str) -> str:
    r = subprocess.run(["auditctl", *args], capture_output=True, text=True, timeout=30)
    said = " | ".join(ln.strip() for ln in (r.stdout + r.stderr).splitlines() if ln.strip())
    return f"auditctl {' '.join(args)}: exit {r.returncode}" + (f" ({said})" if said else "")


def move_dir(cell_dir: Path) -> tuple[str, Path]:
    """Move the watched directory away and put an empty one in its place; (what was done,
    where the old one went)."""
    moved = cell_dir.with_name(cell_dir.name + ".moved")
    os.rename(cell_dir, moved)
    os.mkdir(cell_dir, 0o755)
    return f"{cell_dir.name} moved to {moved.name}, an empty one made in its place", moved


def start_flood(workload: str, cell_dir: Path, seconds: float, log: Path):
    """The noise process (``python -m bench.scenario.flood``), started at once."""
    with open(log, "ab") as err:   # the child has its own copy of the fd
        return subprocess.Popen([sys.executable, "-m", "bench.scenario.flood", workload,
                                 str(cell_dir / "flood"), str(seconds)],
                                stdout=subprocess.PIPE, stderr=err, start_new_session=True)


def flood_result(proc) -> str:
    try:
        out, _ = proc.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, _ = proc.communicate()
    line = (out or b"").decode(errors="replace").strip().splitlines()
    return line[-1] if line else f"flood exited {proc.returncode}"


def remove(path: Path | None) -> None:
    if path is not None:
        shutil.rmtree(path, ignore_errors=True)
