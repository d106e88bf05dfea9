"""The workload interface and the registry of workload names."""

from __future__ import annotations

import importlib
import time

from bench.core.settings import Setting
from bench.core.ledger import Ledger

# name -> "module:Class"; imported lazily so a workload process loads only its own code.
WORKLOADS = {
    "file": "workloads.file:FileWorkload",
    "process": "workloads.process:ProcessWorkload",
    "network": "workloads.network:NetworkWorkload",
}


class Workload:
    """One kind of activity. ``op(i, t_intended)`` performs operation i and records its rows."""

    name = ""
    kinds: frozenset = frozenset()
    rows_per_op = 1.0  # expected ledger rows per operation, for preallocation
    settings: dict[str, Setting] = {}
    description = ""

    def __init__(self, ledger: Ledger, marker: str, workdir: str,
                 settings: dict | None = None):
        self.ledger = ledger
        self.marker = marker
        self.workdir = workdir
        self.cfg = {k: s.default for k, s in self.settings.items()}
        self.cfg.update(settings or {})
        self.errors = 0

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
