"""Backend registry: names map to modules that are imported only when asked for.

Platform- and facility-specific code stays in its own module, so that listing backends on a
machine without, say, libbpf costs nothing and fails nothing.

Three sources, in this order, the way pytest finds plugins: the backends that ship with
sensorbench (below); those of installed packages, through the ``sensorbench.backends``
entry-point group (a vendor's package declares, in its pyproject.toml,
``[project.entry-points."sensorbench.backends"] mysensor = "mypkg.sensor:MySensor"``); and
the ``SENSORBENCH_BACKENDS`` variable, a thin override for code that is not installed. A
package cannot take the name of a shipped backend (its entry is ignored, and ``doctor``
says so); the variable can, on purpose.
"""

from __future__ import annotations

import importlib
import os
import sys

from bench.backends.base import Backend
from bench.core.errors import BadInput

# name -> "module:Class"
REGISTRY: dict[str, str] = {
    "synthetic": "bench.backends.synthetic:SyntheticBackend",
    "null_sensor": "bench.backends.null:NullBackend",
    "injected_cost": "bench.backends.ebpf.cost:InjectedCostBackend",
    "psutil": "bench.backends.polling:PsutilBackend",
    # kernel mode: our reference eBPF sensor
    "ebpf": "bench.backends.ebpf:EbpfBackend",
    # user mode: reference consumers of what the kernel offers
    "audit": "bench.backends.audit:AuditBackend",
    "fanotify": "bench.backends.fanotify:FanotifyBackend",
    "inotify": "bench.backends.inotify:InotifyBackend",
    "proc_connector": "bench.backends.proc_connector:ProcConnectorBackend",
    # real third-party sensors
    "bpftrace": "bench.backends.peers.bpftrace:BpftraceBackend",
    "execsnoop": "bench.backends.peers.libbpf_tools:ExecsnoopBackend",
    "exitsnoop": "bench.backends.peers.libbpf_tools:ExitsnoopBackend",
    "opensnoop": "bench.backends.peers.libbpf_tools:OpensnoopBackend",
    "auditd": "bench.backends.peers.auditd:AuditdBackend",
    "fatrace": "bench.backends.peers.fatrace:FatraceBackend",
    "forkstat": "bench.backends.peers.forkstat:ForkstatBackend",
    "inotifywait": "bench.backends.peers.inotifywait:InotifywaitBackend",
    # Windows: ETW's kernel providers read by a user-mode consumer (pywintrace), and
    # Sysmon (its driver collects, we read its provider)
    "etw": "bench.backends.etw:EtwBackend",
    "sysmon": "bench.backends.sysmon:SysmonBackend",
}

# The platform a shipped backend needs (the rest run anywhere). Checked before its module
# is imported, so that ``doctor`` on one platform never loads the other's code.
PLATFORM: dict[str, str] = {
    # the calibration arms: synthetic's side channel is an AF_UNIX datagram socket passed
    # to the sensor by fd, null_sensor waits on an eventfd
    **dict.fromkeys(("synthetic", "null_sensor", "injected_cost", "ebpf", "audit",
                     "fanotify", "inotify",
                     "proc_connector", "bpftrace", "execsnoop", "exitsnoop", "opensnoop",
                     "auditd", "fatrace", "forkstat", "inotifywait"), "linux"),
    **dict.fromkeys(("etw", "sysmon"), "win32"),
}
_PLATFORM_NAMES = {"linux": "Linux only", "win32": "Windows only"}

ENTRY_POINT_GROUP = "sensorbench.backends"
BUILTIN = frozenset(REGISTRY)
# entry points that could not be registered: "name (package)" -> why (doctor shows them,
# after ``names()``)
IGNORED: dict[str, str] = {}


# Backends of one's own, not installed: SENSORBENCH_BACKENDS="name=package.module:Class;...".
# The sensor process inherits the variable (and sees the same installed packages), so such
# a backend runs exactly like ours.
_FROM_ENV: dict[str, str] = {}
for _item in filter(None, os.environ.get("SENSORBENCH_BACKENDS", "").split(";")):
    _name, _, _target = _item.partition("=")
    if _name.strip() and ":" in _target:
        _FROM_ENV[_name.strip()] = REGISTRY[_name.strip()] = _target.strip()

_discovered = False


def _discover() -> None:
    """Register the installed packages' backends, once, when a name is not known yet or
    every name is asked for: a sensor process running a shipped backend never scans the
    installed distributions."""
    global _discovered
    if _discovered:
        return
    _discovered = True
    from importlib.metadata import entry_points

    for ep in sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
        label = f"{ep.name} ({ep.dist.name if ep.dist is not None else '?'})"
        if ep.name in BUILTIN:
            IGNORED[label] = "named like a backend that ships with sensorbench"
        elif ep.name in _FROM_ENV:
            continue   # the variable overrides a name on purpose
        elif ":" not in ep.value:
            IGNORED[label] = f"entry point {ep.value!r} is not module:Class"
        elif ep.name in REGISTRY:
            IGNORED[label] = f"another package registered {ep.name!r} first"
        else:
            REGISTRY[ep.name] = ep.value


def wrong_platform(name: str) -> str | None:
    """"Linux only" / "Windows only" when a shipped backend cannot run on this platform."""
    need = PLATFORM.get(name) if name in BUILTIN and name not in _FROM_ENV else None
    if need is None or sys.platform.startswith(need):
        return None
    return _PLATFORM_NAMES[need]


def _installed(target: str) -> bool:
    """Whether the module behind a registry entry exists (without importing it)."""
    import importlib.util

    module = target.split(":")[0]
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:
        return False


def names() -> list[str]:
    """Registered backends whose code is present in this installation."""
    _discover()
    # A shipped backend of the other platform is listed (doctor says why it cannot run)
    # without looking into its package, which would import that platform's code.
    return [n for n, t in REGISTRY.items() if wrong_platform(n) or _installed(t)]


def get(name: str) -> type[Backend]:
    if name not in REGISTRY:
        _discover()
    target = REGISTRY.get(name)
    if target is None or not _installed(target):
        raise BadInput(f"unknown backend {name!r} (known: {', '.join(names())})")
    module, cls = target.split(":")
    return getattr(importlib.import_module(module), cls)


def availability(name: str) -> str | None:
    """Why ``name`` cannot run here (None when it can); never raises for a known name."""
    other = wrong_platform(name)
    if other:
        if name not in REGISTRY:
            raise BadInput(f"unknown backend {name!r}")
        return other
    try:
        return get(name).available()
    except BadInput:
        raise
    except Exception as e:  # an import error is a reason, not a crash
        return f"cannot load: {type(e).__name__}: {e}"
