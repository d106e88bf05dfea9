"""Make sure tracefs is there: tracepoint-based tools (libbpf-tools, bpftrace) need it.

On a minimal system (a container, a VM without systemd's sys-kernel-tracing.mount) tracefs
is not mounted and every tracepoint attach fails with "No such file or directory". The
sensor host then mounts it in a mount namespace of its own, which the tool it starts
inherits (``bench._linux.ensure_tracefs``): the host's mount table never changes, and the
mount disappears with the sensor, also when it is killed.
"""

from __future__ import annotations

import os

from bench import _linux

TRACEFS = _linux.TRACEFS


def ensure() -> str | None:
    """None when tracefs is usable (mounting it privately if needed), else a one-line
    reason."""
    try:
        _linux.ensure_tracefs()
    except OSError as e:
        return f"cannot use tracefs: {e.strerror}"
    return None


def has_event(category: str, event: str) -> bool:
    return os.path.isdir(os.path.join(TRACEFS, "events", category, event))
