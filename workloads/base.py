"""The workload interface, the settings every workload has, and the registry of names.

Every workload runs on one of two engines (``engine``): ``python``, the readable
reference (this package), or ``native``, ``workloads/native/sb-load`` (C, ``make
native``): the same operations, kinds and keys from ``threads`` threads, at rates the
Python engine cannot reach. Native is the default where it is built (Linux).
"""

from __future__ import annotations

import importlib
import time

from bench.core.osapi import IS_WINDOWS, usable_cpus
from bench.core.settings import Setting, one_of
from bench.core.ledger import Ledger
from workloads.native import load_missing

ENGINES = ("native", "python")


def _at_most_cpus(n) -> str | None:
    cpus = usable_cpus()
    if n < 1:
        return "must be >= 1"
    return None if n <= cpus else f"is more than the {cpus} CPUs this machine lets us use"


def _default_engine() -> str:
    return "python" if IS_WINDOWS or load_missing() else "native"


# The settings of every workload (a workload adds its own with ``{**COMMON, ...}``).
COMMON: dict[str, Setting] = {
    "engine": Setting(str, _default_engine(), "native (C, `make native`; the default where "
                      "it is built) or python (the reference; one thread)",
                      one_of(*ENGINES)),
    "threads": Setting(int, 1, "engine=native: threads issuing operations, each on its own "
                       "slice of the keys (at most the CPU count)", _at_most_cpus),
    "pin": Setting(int, 0, "engine=native: pin thread t to the t-th CPU we may use (0/1)",
                   one_of(0, 1)),
}

# name -> "module:Class"; imported lazily so a workload process loads only its own code.
WORKLOADS = {
    "file": "workloads.file:FileWorkload",
    "process": "workloads.process:ProcessWorkload",
    "network": "workloads.network:NetworkWorkload",
    # application recipes (workloads/recipes.py): real programs, counted in the kernel
    "copy": "workloads.recipes:Copy",
    "archive": "workloads.recipes:Archive",
    "build": "workloads.recipes:Build",
    "find": "workloads.recipes:Find",
    "install": "workloads.recipes:Install",
    "launch": "workloads.recipes:Launch",
    "download": "workloads.recipes:Download",
    "stress-ng": "workloads.recipes:StressNg",
    "cmd": "workloads.recipes:Cmd",
}


# The load generator's workloads (what a run does by default, what a search probes) and
# the application recipes (run by name: ``-w copy,build``).
SYNTHETIC = ("file", "process", "network")
RECIPES = tuple(n for n in WORKLOADS if n not in SYNTHETIC)


class Workload:
    """One kind of activity. ``op(i, t_intended)`` performs operation i and records its rows."""

    name = ""
    # a real program whose truth is counted in the kernel (workloads/recipes.py), not a
    # loop that records each operation in the ledger
    recipe = False
    kinds: frozenset = frozenset()
    rows_per_op = 1.0  # expected ledger rows per operation, for preallocation
    settings: dict[str, Setting] = COMMON
    description = ""

    def __init__(self, ledger: Ledger, marker: str, workdir: str,
                 settings: dict | None = None):
        self.ledger = ledger
        self.marker = marker
        self.workdir = workdir
        self.cfg = {k: s.default for k, s in self.settings.items()}
        self.cfg.update(settings or {})
        self.errors = 0

    @classmethod
    def check_settings(cls, cfg: dict) -> str | None:
        """What is wrong with this combination of settings (one line), or None."""
        if cls.engine(cfg) == "python":
            what = (f"threads={cfg['threads']}" if cfg.get("threads", 1) != 1
                    else "pin=1" if cfg.get("pin") else None)
            if what:
                return f"{what} needs engine=native (the Python engine runs one thread)"
        return None

    @classmethod
    def engine(cls, cfg: dict) -> str:
        """The engine these settings run on (the default where they name none)."""
        return cfg.get("engine") or cls.settings["engine"].default

    @classmethod
    def unavailable(cls, cfg: dict) -> str | None:
        """Why these settings cannot run here (one line), or None."""
        if cls.engine(cfg) == "native":
            return "the native engine needs Linux" if IS_WINDOWS else load_missing()
        return None

    def setup(self) -> None:
        """Prepare anything the operations need; nothing done here is ground truth."""

    def op(self, i: int, t_intended: int) -> None:
        raise NotImplementedError

    def poll(self) -> None:
        """Called between operations for asynchronous bookkeeping (e.g. reaping children)."""

    def finish(self) -> None:
        """Complete outstanding operations (e.g. wait for children) after the last op."""

    def teardown(self) -> None:
        """Release what ``setup`` made; must not raise."""


def wait_reaped(pending, record_exits, timeout_s: float = 10.0) -> None:
    """After the last operation: record exits until no child is pending (those still
    running after ``timeout_s`` are left to ``teardown``)."""
    deadline = time.monotonic() + timeout_s
    while pending and time.monotonic() < deadline:
        record_exits()
        time.sleep(0.001)
    record_exits()


def get_workload(name: str) -> type[Workload]:
    try:
        target = WORKLOADS[name]
    except KeyError:
        raise KeyError(f"unknown workload {name!r} (known: {', '.join(WORKLOADS)})") from None
    module, cls = target.split(":")
    return getattr(importlib.import_module(module), cls)
