"""Facts about the machine a run happens on, and pyperf-style warnings when it is noisy."""

from __future__ import annotations

import os
import platform
import socket
import sys
from importlib import metadata
from pathlib import Path

import psutil

from bench import __version__
from bench.core.osapi import IS_WINDOWS, is_elevated

PACKAGES = ("numpy", "pandas", "pyarrow", "psutil", "matplotlib", "typer", "rich")


def _read(path: str) -> str | None:
    try:
        return Path(path).read_text().strip()
    except OSError:
        return None


def cpu_model() -> str:
    text = _read("/proc/cpuinfo") or ""
    for line in text.splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def virtualized() -> str | None:
    """Hypervisor name when we run in a VM (its CPU time is shared and noisier)."""
    text = _read("/proc/cpuinfo") or ""
    if " hypervisor" not in text:
        return None
    vendor = _read("/sys/class/dmi/id/sys_vendor") or _read("/sys/class/dmi/id/product_name")
    return vendor or "unknown hypervisor"


def machine_key() -> str | None:
    """This machine's identity, hashed (``/etc/machine-id`` itself is not to be shared):
    ``merge`` tells two runs of one machine from two machines that share a hostname."""
    import hashlib

    mid = _read("/etc/machine-id")
    return hashlib.sha256(mid.encode()).hexdigest()[:12] if mid else None


def facts() -> dict:
    vm = psutil.virtual_memory()
    versions = {}
    for pkg in PACKAGES:
        try:
            versions[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            versions[pkg] = None
    if IS_WINDOWS:
        cg = None
    else:
        from bench.harness.cgroup import v2_root   # Linux only

        cg = v2_root()
    return {
        "hostname": socket.gethostname(),
        "machine_key": machine_key(),
        "os": platform.system(),
        # Windows: release() is "10" or "2022Server"; version() has the build
        "kernel": platform.version() if IS_WINDOWS else platform.release(),
        "machine": platform.machine(),
        "cpu_model": cpu_model(),
        "cpu_logical": psutil.cpu_count(),
        "cpu_physical": psutil.cpu_count(logical=False),
        "governor": _read("/sys/devices/system/cpu/cpu0/cpufreq/scaling_governor"),
        "virtualized": virtualized(),
        "memory_gb": round(vm.total / 2**30, 1),
        "python": sys.version.split()[0],
        "sensorbench": __version__,
        "packages": versions,
        "root": is_elevated(),   # root on Linux, an elevated token on Windows
        **({"elevated": is_elevated()} if IS_WINDOWS else {}),
        "cgroup_v2": str(cg) if cg else None,
        # Without a writable v2 hierarchy workloads run in the harness's own cgroup: their
        # CPU is then not separated and filter=cgroup sensors have nothing to filter on.
        "cgroup_writable": bool(cg and os.access(cg, os.W_OK)),
        "btf": os.path.exists("/sys/kernel/btf/vmlinux"),
        "tracefs": os.path.isdir("/sys/kernel/tracing/events"),
        "loadavg": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
    }


# Steal above this share of the machine's CPU time during a cell is a warning: the
# hypervisor took enough to move that cell's numbers.
STEAL_WARN_PCT = 5.0


def steal_warning(cells: list[tuple[str, float]]) -> str | None:
    """One warning for the cells (id, steal %) whose steal passed ``STEAL_WARN_PCT``."""
    high = [(c, p) for c, p in cells if isinstance(p, (int, float)) and p > STEAL_WARN_PCT]
    if not high:
        return None
    worst = max(high, key=lambda x: x[1])
    return (f"hypervisor steal above {STEAL_WARN_PCT:g} % of CPU time in {len(high)} cell(s) "
            f"(worst {worst[1]:.0f} % in {worst[0]}): their blocks are noisier")


def noise_warnings(f: dict, busy_sample_s: float = 0.25) -> list[str]:
    """Reasons to distrust fine differences in this run (printed and kept in meta.json)."""
    out = []
    ncpu = f.get("cpu_logical") or 1
    if f.get("loadavg") and f["loadavg"][0] > 0.5 * ncpu:
        out.append(f"load average {f['loadavg'][0]:.2f} on {ncpu} CPUs: other work is running")
    busy = psutil.cpu_percent(interval=busy_sample_s)
    if busy > 20:
        out.append(f"CPUs {busy:.0f}% busy before the run started")
    if f.get("governor") not in (None, "performance"):
        out.append(f"CPU frequency governor is {f['governor']!r}, not 'performance'")
    if f.get("virtualized"):
        out.append(f"virtual machine ({f['virtualized']}): CPU time is shared with other guests")
    if ncpu < 4:
        out.append(f"only {ncpu} CPUs: sensor, workload and harness share cores")
    return out
