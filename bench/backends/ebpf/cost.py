"""``injected_cost``: a calibration sensor whose cost per operation is known.

It loads cost.bpf.o, one tracepoint program that busy-waits ``ns`` nanoseconds on entry to
each syscall in ``syscalls``, for tasks in the workload's cgroup only, and attaches it to
``syscalls:sys_enter_<name>`` of each. The default list holds, for every operation of the
file, process and network workloads, exactly the one syscall that starts it, so each
operation pays ``ns`` (plus the program's own entry cost) once. The overhead the harness
measures must then come out near ``ns``: this is what shows that number is honest.

It reports no event (like ``null_sensor``, every row is ``unsupported``), only what it
injected: how many runs and how many nanoseconds it really spun, counted in the kernel.
Programs and links are owned by this process's fds, nothing is pinned: a killed sensor
leaves nothing loaded.
"""

from __future__ import annotations

import ctypes
import os
import re
import struct
from functools import lru_cache
from pathlib import Path
from typing import Any

from bench.core._linux import TRACEFS
from bench.backends._common import ensure_tracefs, has_tracepoint
from bench.core.events import EventSink
from bench.backends.base import Backend, SensorContext
from bench.backends.ebpf import libbpf as lb
from bench.backends.ebpf import probe
from bench.backends.ebpf.loader import BpfObject, cgroup_id, drop_empty_log
from bench.core.errors import BackendUnavailable
from bench.core.settings import Setting

# cost.h, by layout: struct sb_cost_config and the slots of the `counts` array.
CONFIG_FMT = "<QQ"  # target_cgid, ns
RUNS, NS, CAPPED, NSLOTS = 0, 1, 2, 3

# The syscall that starts each workload operation, one per operation: file create (openat),
# write (write; the close after it is not hooked), rename and delete (whichever of the
# variants libc uses); process spawn (the parent's clone3, or clone/fork/vfork with an
# older libc); network connect (the client's connect; accept is part of the same
# operation) and UDP send (sendto).
DEFAULT_SYSCALLS = ("openat", "write", "rename", "renameat", "renameat2", "unlink", "unlinkat",
                    "clone", "clone3", "fork", "vfork", "connect", "sendto")

MAX_NS = 100_000_000  # 100 ms: far beyond any sensor; the kernel loop itself stops near 0.3 s


def _ns(v: float) -> str | None:
    return None if 0 <= v <= MAX_NS else f"must be between 0 and {MAX_NS} (100 ms)"


def _syscall_list(v: str) -> str | None:
    names = v.split("+")
    if not all(re.fullmatch(r"[a-z0-9_]+", n) for n in names):
        return "must be syscall names joined by '+', e.g. openat+write"
    return "names a syscall twice" if len(set(names)) < len(names) else None


@lru_cache(maxsize=1)
def _refused() -> str | None:
    """Why this kernel will not load cost.bpf.o (bpf_loop needs Linux 5.17), or None: the
    object is loaded once, never attached, and released at once."""
    quiet = lb.shim()
    quiet.log_to(os.devnull.encode())  # a refusal is an answer, not an error
    try:
        obj = BpfObject(lb.COST_OBJECT, None)
        try:
            obj.write_rodata(struct.pack(CONFIG_FMT, 0, 0), "struct sb_cost_config")
            obj.load()
        finally:
            obj.close()
    except (OSError, BackendUnavailable) as e:
        return f"the kernel refuses {lb.COST_OBJECT.name}: {e}"
    finally:
        quiet.log_to(None)
    return None


class InjectedCostBackend(Backend):
    name = "injected_cost"
    mode = "calibration"
    mechanism = "eBPF tracepoint program busy-waiting on the workload's syscalls"
    kinds = frozenset()
    runs_without_kinds = True
    # what it adds is known only next to its ns=0 arm (calibrate runs both)
    in_default_run = False
    description = "adds a known in-kernel cost to each workload operation: the overhead check"
    quiet_s = 0.05  # it never reports an event: nothing to drain
    settings = {
        "ns": Setting(float, 2000.0, "ns busy-waited in the kernel per hooked syscall of the "
                      "workload", _ns),
        "syscalls": Setting(str, "+".join(DEFAULT_SYSCALLS),
                            "syscalls whose entry pays the cost, joined by '+' (default: the "
                            "one syscall that starts each workload operation)", _syscall_list),
    }

    def __init__(self, settings: dict[str, Any], ctx: SensorContext):
        super().__init__(settings, ctx)
        self.bpf: BpfObject | None = None
        self.target_cgid: int | None = None
        self.tracefs = ""
        self.log_path: Path | None = None
        self.hooked: list[str] = []
        self.missing: list[str] = []
        self._counts: list[int] | None = None

    @classmethod
    def available(cls) -> str | None:
        return probe.missing((lb.COST_OBJECT,)) or _refused()

    def start(self, sink: EventSink) -> None:
        why = self.available()
        if why:
            raise BackendUnavailable(why)
        self.target_cgid = cgroup_id(self.ctx.cgroup)
        if self.target_cgid is None:
            raise BackendUnavailable("needs the workload's cgroup v2 (only the workload may "
                                     "pay the cost) and this cell has none")
        self.tracefs = ensure_tracefs()
        if self.ctx.results_dir:
            self.log_path = Path(self.ctx.results_dir) / f"cost-{self.ctx.marker}-libbpf.log"
        try:
            self.bpf = BpfObject(lb.COST_OBJECT, self.log_path)
            self.bpf.write_rodata(struct.pack(CONFIG_FMT, self.target_cgid,
                                              round(self.cfg["ns"])), "struct sb_cost_config")
            self.bpf.load()
        except OSError as e:
            raise BackendUnavailable(str(e.strerror or e)) from None
        self._attach()
        drop_empty_log(self.log_path)

    def _attach(self) -> None:
        L = self.bpf.L
        prog = lb.check_ptr(L.find_program(self.bpf.obj, b"sb_cost"), "no program sb_cost")
        for name in self.cfg["syscalls"].split("+"):
            # Checked first so that a syscall this kernel (or architecture) lacks is a
            # skip reported in stats, not a libbpf warning and a failure.
            if not has_tracepoint("syscalls", f"sys_enter_{name}"):
                self.missing.append(name)
                continue
            link = L.attach_tracepoint(prog, b"syscalls", f"sys_enter_{name}".encode())
            if not link:
                raise BackendUnavailable(f"cannot attach syscalls/sys_enter_{name}: "
                                         f"{lb.errno_text(ctypes.get_errno())}")
            self.bpf.links.append((name, link))
            self.hooked.append(name)
        if not self.hooked:
            raise BackendUnavailable(f"no syscall tracepoint of {self.cfg['syscalls']} exists "
                                     f"under {TRACEFS}/events/syscalls")

    def stop(self) -> None:
        if self.bpf is None:
            return
        try:
            self.bpf.detach()  # first, so the counters read below are final
            if self.hooked:
                self._counts = self.bpf.percpu_sums("counts", NSLOTS)
        finally:
            self.bpf.close()
            self.bpf = None
            drop_empty_log(self.log_path)

    def stats(self) -> dict:
        c = self._counts or [None] * NSLOTS
        runs, spun = c[RUNS], c[NS]
        return {
            "self_reported_lost": None,
            "injected_runs": runs,
            "injected_ns_total": spun,
            "injected_ns_per_run": spun / runs if runs else None,
            "capped_runs": c[CAPPED],  # runs that hit the loop cap: they got less than ns
            "hooked": self.hooked,
            "missing_syscalls": self.missing,
            "ns": self.cfg["ns"],
            "target_cgid": self.target_cgid,
            "tracefs": self.tracefs,
        }
