"""The platform's process plumbing, chosen once, the way psutil picks ``_pslinux`` or
``_pswindows``: code that runs on both platforms imports these names from here and never
``_linux`` or ``_windows`` itself.

On Linux a cell's processes live in process groups and cgroups and die with their parent
through PR_SET_PDEATHSIG; on Windows they live in Job Objects the harness holds with
kill-on-close. ``join_group`` takes a cgroup path on Linux and a job name on Windows.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING
from collections.abc import Iterable

if TYPE_CHECKING:
    import subprocess

IS_WINDOWS = sys.platform == "win32"
IS_LINUX = sys.platform.startswith("linux")

if IS_WINDOWS:
    from bench.core import _windows as _plat
else:
    from bench.core import _linux as _plat

pid_alive = _plat.pid_alive
die_with_parent = _plat.die_with_parent
tight_timers = _plat.tight_timers
popen_group = _plat.popen_group
kill_group = _plat.kill_group
signal_group = _plat.signal_group
join_group = _plat.join_group
is_elevated = _plat.is_elevated
lock_file = _plat.lock_file


def usable_cpus() -> int:
    """How many CPUs this process may run on (its affinity where the platform has one)."""
    import os

    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def stop_group(proc: subprocess.Popen, steps: Iterable[tuple[int | None, float]],
               reap_timeout: float | None = None) -> None:
    """Stop ``proc`` (started with ``popen_group()``) and its process group: each
    ``(signal, seconds)`` step, until it has exited, sends the signal to the group (None:
    sends nothing) and waits up to that long; then kills the group anyway, since helpers
    it started may outlive it, and reaps it (``reap_timeout``: None waits for ever)."""
    import subprocess  # here: workloads import this module, and never stop a group

    for sig, wait in steps:
        if proc.poll() is not None:
            break
        if sig is not None and not signal_group(proc.pid, sig):
            break
        try:
            proc.wait(timeout=wait)
        except subprocess.TimeoutExpired:
            pass
    kill_group(proc.pid)
    proc.wait(timeout=reap_timeout)
