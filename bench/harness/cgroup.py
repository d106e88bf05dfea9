"""cgroup v2 for cells: a workload cgroup, and a sensor cgroup, under ``<v2 root>/sensorbench/``.

A workload joins its cell's cgroup so its CPU can be read from ``cpu.stat`` and so kernel
sensors can tell its events from the rest of the machine. A sensor host joins a cgroup of
its own so that its CPU, helpers and reaped children included, is read to the microsecond
(``usage_usec`` comes from the scheduler's runtime, unlike per-process times, which are
clock ticks); an external tool goes one level down, into ``<sensor cgroup>/tool``, so its
own CPU is told apart from our adapter's. Only ``cpu.stat``'s core fields are used: no
controller is enabled, so processes may live in a cgroup that has children.

Each cgroup is named ``<harness pid>-<token>[-sensor]``: stale cgroups left by a killed run
are cleaned at the next start (their processes killed through ``cgroup.kill``), while those
of another run still going on the same machine are left alone.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from bench.core import cpu
from bench.core._linux import pid_alive

PARENT = "sensorbench"


def v2_root() -> Path | None:
    """Mount point of the cgroup v2 hierarchy, or None."""
    try:
        with open("/proc/self/mounts") as f:
            for line in f:
                parts = line.split()
                if len(parts) > 2 and parts[2] == "cgroup2":
                    return Path(parts[1])
    except OSError:
        pass
    return None


def current() -> Path | None:
    """The cgroup v2 this process is in (its directory), or None."""
    root = v2_root()
    try:
        with open("/proc/self/cgroup") as f:
            for line in f:
                if line.startswith("0::"):
                    rel = line.strip()[3:].lstrip("/")
                    return (root / rel) if root is not None else None
    except OSError:
        pass
    return None


def kill(path: Path) -> None:
    """SIGKILL every process in the cgroup (``cgroup.kill``, kernel 5.14+)."""
    try:
        (path / "cgroup.kill").write_text("1")
    except OSError:
        pass


def remove(path: Path) -> None:
    """Kill what is inside, then remove the cgroup and any below it (waiting up to 1 s for
    each to empty)."""
    kill(path)
    try:
        children = [c for c in path.iterdir() if c.is_dir()]
    except OSError:
        children = []
    for child in children:
        remove(child)
    for _ in range(50):  # processes take a moment to leave after cgroup.kill
        try:
            path.rmdir()
            return
        except FileNotFoundError:
            return
        except OSError:
            time.sleep(0.02)


RESOLUTION_S = cpu.RESOLUTION_S["cgroup"]   # how far a difference of two readings can be off


def usage_us(path: Path | str | None) -> int | None:
    """CPU time (µs) the processes of a cgroup and of those below it have used so far:
    ``usage_usec`` of ``cpu.stat``. None without a cgroup or when it cannot be read."""
    if path is None:
        return None
    try:
        with open(os.path.join(path, "cpu.stat")) as f:
            for line in f:
                if line.startswith("usage_usec "):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


class CellCgroup:
    """A cgroup made for one cell; ``path`` is None when none could be made (and ``why``)."""

    def __init__(self, name: str):
        self.path: Path | None = None
        self.why = ""
        root = v2_root()
        if root is None:
            self.why = "no cgroup v2 hierarchy mounted"
            return
        parent = root / PARENT
        for _ in range(2):
            try:
                parent.mkdir(exist_ok=True)
                p = parent / f"{os.getpid()}-{name}"
                p.mkdir()
                self.path = p
                return
            except FileNotFoundError:
                continue  # another run removed the empty parent just now: make it again
            except OSError as e:
                self.why = f"cannot create a cgroup under {root}: {e.strerror}"
                return

    @property
    def id(self) -> int | None:
        """The cgroup id kernel sensors see (the directory's inode number)."""
        return os.stat(self.path).st_ino if self.path else None

    def cpu_usage_us(self) -> int | None:
        return usage_us(self.path)

    def remove(self) -> None:
        if self.path is not None:
            remove(self.path)
            self.path = None


def clean_stale() -> int:
    """Remove cell cgroups a killed run left behind; returns how many."""
    root = v2_root()
    if root is None or not (root / PARENT).is_dir():
        return 0
    n = 0
    for child in (root / PARENT).iterdir():
        owner = child.name.split("-", 1)[0]
        if child.is_dir() and not (owner.isdigit() and pid_alive(int(owner))):
            remove(child)
            n += 1
    return n


def remove_parent_if_empty() -> None:
    """At the end of a run: leave no empty ``sensorbench`` cgroup behind (another run still
    going keeps it, since a cgroup with children cannot be removed)."""
    root = v2_root()
    if root is not None:
        try:
            (root / PARENT).rmdir()
        except OSError:
            pass
