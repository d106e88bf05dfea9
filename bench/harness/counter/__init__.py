"""The counted truth: how many operations of each kind a cell's workload cgroup completed,
counted in the kernel (``count.bpf.c``), for workloads that cannot record their own
operations and as a check on the ledger of those that can.

The BPF program keeps per-CPU counters, one per kind, for tasks in the cgroup; there is
no event stream, so nothing can be dropped. It is its own object with its own programs,
maps and syscall table (raw tracepoints: no tracefs needed), loaded and attached here
through the generic libbpf loader (``BpfObject``), never through the eBPF sensor's event
pipeline: a sensor told to miss a kind leaves the count as it was. What each kind counts
is said in count.bpf.c.

Programs and links are owned by this process's file descriptors, nothing is pinned: the
harness gone, SIGKILL included, the kernel unloads them.
"""

from __future__ import annotations

import struct
from pathlib import Path

from bench.core.kinds import Kind

HERE = Path(__file__).resolve().parent
OBJECT = HERE / "build" / "count.bpf.o"

# count.h, by layout: struct sb_count_config, and the slots of the `counts` array (a kind's
# slot is its Kind value; UNPAIRED after them).
CONFIG_FMT = "<Q"  # target_cgid
UNPAIRED, PIDS_FULL, NSLOTS = 11, 12, 13


def missing() -> str | None:
    """One line naming what stops the counter here, or None (nothing is loaded)."""
    from bench.core.osapi import IS_WINDOWS

    if IS_WINDOWS:   # the eBPF code is Linux's: not even imported on Windows
        return "it counts with eBPF, which needs Linux"
    from bench.backends.ebpf import probe

    if not OBJECT.exists():
        return f"{OBJECT.relative_to(HERE.parents[2])} is not built: run `make native`"
    return probe.missing((OBJECT,))


class Counter:
    """count.bpf.o loaded for the cgroup whose id is ``target_cgid``: ``attach()`` starts
    counting, ``read()`` gives the counts so far, ``close()`` unloads everything."""

    def __init__(self, target_cgid: int, log_path: Path | None = None):
        from bench.backends.ebpf.loader import BpfObject

        self.bpf = BpfObject(OBJECT, log_path)
        try:
            self.bpf.write_rodata(struct.pack(CONFIG_FMT, target_cgid),
                                  "struct sb_count_config")
            self.bpf.load()
        except BaseException:
            self.bpf.close()
            raise

    def attach(self) -> None:
        self.bpf.attach()

    def read(self) -> dict:
        """``{"counts": {kind name: n}, "unpaired": n, "pids": [...], "pids_full": n}``:
        ``unpaired`` exits found another system call's enter waiting (one of the two exits
        was missed), so a count may be short; 0 in every cell the tests run. ``pids`` are
        the processes that ran in the cgroup (what a real program's events are matched
        by); ``pids_full`` processes found the set full and are not in it."""
        sums = self.bpf.percpu_sums("counts", NSLOTS)
        return {"counts": {k.name: int(sums[k.value]) for k in Kind},
                "unpaired": int(sums[UNPAIRED]), "pids": sorted(self.bpf.u32_keys("pids")),
                "pids_full": int(sums[PIDS_FULL])}

    def close(self) -> None:
        self.bpf.close()
