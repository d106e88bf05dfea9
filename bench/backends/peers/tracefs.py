"""Make sure tracefs is mounted: tracepoint-based tools (libbpf-tools, bpftrace) need it.

On a minimal system (a container, a VM without systemd's sys-kernel-tracing.mount) tracefs
is not mounted and every tracepoint attach fails with "No such file or directory". Root can
mount it; the mount is left in place afterwards because other sensors running at the same
time may use it, and it is the normal state of a systemd machine.
"""

from __future__ import annotations

import os
import subprocess

TRACEFS = "/sys/kernel/tracing"


def mounted() -> bool:
    return os.path.isdir(os.path.join(TRACEFS, "events"))


def ensure() -> str | None:
    """Mount tracefs when missing; returns None when usable, else a one-line reason."""
    if mounted():
        return None
    if os.geteuid() != 0:
        return f"tracefs is not mounted at {TRACEFS} and mounting it needs root"
    r = subprocess.run(["mount", "-t", "tracefs", "nodev", TRACEFS],
                       capture_output=True, text=True)
    if r.returncode != 0 and not mounted():
        return f"cannot mount tracefs at {TRACEFS}: {r.stderr.strip() or r.returncode}"
    return None


def has_event(category: str, event: str) -> bool:
    return os.path.isdir(os.path.join(TRACEFS, "events", category, event))
